/*
 * gs-sigwaitbench: a signal thread, as servers have one. An ordinary
 * pthreads program: main blocks SIGUSR1, makes SLEEPERS threads that
 * sleep 1 ms at a time, and takes SIGNALS SIGUSR1s in a sigwait loop
 * while a child process sends them as fast as every 20 µs (it waits for
 * none: pending ones merge, so the count is of signals taken). It prints
 * the signals taken, the wall time, and the process's CPU time per signal
 * taken, in microseconds. Under greenshim a thread's sigwait parks it on a
 * signalfd of the set (preload/sigwait.c), and the set is blocked on every
 * hub while it waits (src/sigmask.c). A benchmark: it measures and prints.
 *
 *   gs-sigwaitbench [SIGNALS] [SLEEPERS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;

static void *sleeper(void *arg)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		usleep(1000);
	return arg;
}

static double seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000, sleepers = argc > 2 ? atoi(argv[2]) : 4;
	int got = 0, sig;
	pthread_t *t = calloc((size_t)(sleepers > 0 ? sleepers : 1), sizeof *t);
	struct timespec a, b;
	struct rusage ru;
	sigset_t s;
	pid_t kid;

	if (n < 1 || sleepers < 0 || t == NULL) {
		fprintf(stderr, "usage: gs-sigwaitbench [SIGNALS] [SLEEPERS]\n");
		return 2;
	}
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	for (int i = 0; i < sleepers; i++)
		pthread_create(&t[i], NULL, sleeper, NULL);
	kid = fork();
	if (kid == 0) {
		pid_t parent = getppid();

		while (kill(parent, SIGUSR1) == 0)
			usleep(20);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	while (got < n && sigwait(&s, &sig) == 0)
		got++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	kill(kid, SIGKILL);
	atomic_store(&stop, 1);
	for (int i = 0; i < sleepers; i++)
		pthread_join(t[i], NULL);
	getrusage(RUSAGE_SELF, &ru);
	printf("signals %d wall_s %.2f cpu_us_per_signal %.1f\n", got,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
	       (seconds(&ru.ru_utime) + seconds(&ru.ru_stime)) * 1e6 / got);
	free(t);
	return 0;
}
