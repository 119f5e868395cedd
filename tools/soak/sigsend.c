/*
 * gs-soak-sigsend: sends a process SIGUSR1 at RATE per second (kill), and
 * SIGRTMIN at a tenth of that (sigqueue, queued: none may be lost), for
 * SECONDS, paced by clock_nanosleep on absolute deadlines (a late wake-up
 * sends at once, so the average rate holds). Run natively.
 *
 *   gs-soak-sigsend -p PID [-r RATE] [-d SECONDS]
 *
 * Prints "usr1.sent= rt.sent= rt.eagain= rate=".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t pid = 0;
	double rate = 10000, secs = 10;
	int opt;

	while ((opt = getopt(argc, argv, "p:r:d:")) != -1) {
		switch (opt) {
		case 'p': pid = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'd': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: %s -p PID [-r RATE] [-d SECONDS]\n", argv[0]);
			return 2;
		}
	}
	if (pid <= 0)
		return 2;
	long period = (long)(1e9 / rate), n = (long)(rate * secs), usr1 = 0, rt = 0, eagain = 0;
	struct timespec next, start, end;

	clock_gettime(CLOCK_MONOTONIC, &start);
	next = start;
	for (long i = 0; i < n; i++) {
		if (kill(pid, SIGUSR1) < 0) {
			perror("kill");
			return 1;
		}
		usr1++;
		if (i % 10 == 0) {
			union sigval v = { .sival_int = (int)i };

			if (sigqueue(pid, SIGRTMIN, v) == 0)
				rt++;
			else if (errno == EAGAIN)
				eagain++;
			else {
				perror("sigqueue");
				return 1;
			}
		}
		next.tv_nsec += period;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	double took = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
	printf("usr1.sent=%ld rt.sent=%ld rt.eagain=%ld rate=%.0f\n", usr1, rt, eagain, usr1 / took);
	return 0;
}
