/*
 * An ordinary threaded program (never linked to greenshim) that reuses fd
 * numbers while its other threads compute: it closes an fd, checks that
 * the number is closed (fcntl says EBADF, as select and poll would), and
 * opens again, which must give the same, lowest free number each time.
 * Natively nothing else in the process opens a file meanwhile; under
 * greenshim the runtime's own fds (the monitor's /proc files, a hub's
 * loop) must not appear, even for a moment, at a number the program just
 * freed. Until 2026-12-07 the blocking monitor opened its files at its
 * first sample of a hub, while the program ran on the others: a CI run
 * saw select on a just-closed fd not fail with EBADF on two hubs.
 *
 * Usage: fd_reuse [RUNS]   prints "ok" (or what differed) and exits 0 or 1.
 * Each run is a child process, as the runtime's fds are made once each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_MS 400
#define COMPUTERS 2

static atomic_bool stop;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Computes until told to stop, as a server's worker would. */
static void *compute(void *arg)
{
	volatile unsigned long x = (unsigned long)(size_t)arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
	return NULL;
}

/* One run: 0, or 1 with what differed printed. */
static int run(void)
{
	pthread_t t[COMPUTERS];
	int first, fd, bad = 0;
	long rounds = 0;
	double end;

	first = dup(0);
	if (first < 0 || close(first) != 0) {
		printf("dup(0): %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < COMPUTERS; i++)
		if (pthread_create(&t[i], NULL, compute, (void *)(size_t)(i + 1)) != 0) {
			printf("pthread_create failed\n");
			return 1;
		}
	end = now_ms() + RUN_MS;
	while (!bad && now_ms() < end) {
		fd = dup(0);
		if (fd != first) {
			printf("dup(0) gave %d after %ld rounds; the lowest free is %d\n", fd,
			       rounds, first);
			bad = 1;
		}
		if (fd >= 0)
			close(fd);
		errno = 0;
		if (fcntl(first, F_GETFD) != -1 || errno != EBADF) {
			printf("fd %d, just closed, was open after %ld rounds\n", first, rounds);
			bad = 1;
		}
		rounds++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < COMPUTERS; i++)
		pthread_join(t[i], NULL);
	return bad;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5, status;

	fflush(stdout);
	for (int i = 0; i < runs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			int r = run();

			fflush(stdout);
			_exit(r);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			printf("run %d of %d failed\n", i + 1, runs);
			return 1;
		}
	}
	printf("ok\n");
	return 0;
}
