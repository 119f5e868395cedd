/*
 * gs-killlat: how long a signal sent with pthread_kill takes to reach a
 * thread that computes without ever waiting. An ordinary pthreads
 * program: THREADS threads compute; main sends them SIGUSR1 in turn,
 * ROUNDS times, each time sleeping in 50 µs steps until the handler has
 * noted when it ran, then 1 ms more. It prints the delay from just
 * before pthread_kill to the handler's note (median, 90th percentile,
 * worst), in microseconds. Natively the kernel interrupts the thread on
 * its CPU; under greenshim a thread of another hub is reached by a kick
 * to that hub's OS thread (docs/ARCHITECTURE.md, *Preemption*). A
 * benchmark: it measures and prints.
 *
 *   gs-killlat [THREADS] [ROUNDS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop, started;
static _Atomic int64_t handled_at;
static volatile uint64_t sink;

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handled_at, now_ns());
}

static void *compute(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg + 1;

	atomic_fetch_add(&started, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	sink = x;
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 2, rounds = argc > 2 ? atoi(argv[2]) : 200;
	pthread_t *t;
	double *us;
	struct sigaction sa = { .sa_handler = on_usr1 };

	if (nthreads < 1 || rounds < 1) {
		fprintf(stderr, "usage: %s [THREADS] [ROUNDS]\n", argv[0]);
		return 2;
	}
	t = calloc((size_t)nthreads, sizeof *t);
	us = calloc((size_t)rounds, sizeof *us);
	if (t == NULL || us == NULL || sigaction(SIGUSR1, &sa, NULL) != 0)
		return 1;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, compute, (void *)(intptr_t)i) != 0)
			return 1;
	while (atomic_load(&started) < nthreads)
		usleep(100);
	usleep(20000);
	for (int i = 0; i < rounds; i++) {
		int64_t sent;

		atomic_store(&handled_at, 0);
		sent = now_ns();
		if (pthread_kill(t[i % nthreads], SIGUSR1) != 0)
			return 1;
		while (atomic_load(&handled_at) == 0)
			usleep(50);
		us[i] = (double)(atomic_load(&handled_at) - sent) / 1e3;
		usleep(1000);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	qsort(us, (size_t)rounds, sizeof *us, by_value);
	printf("median_us %.1f p90_us %.1f max_us %.1f\n", us[rounds / 2], us[rounds * 9 / 10],
	       us[rounds - 1]);
	return 0;
}
