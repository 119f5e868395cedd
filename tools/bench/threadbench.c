/*
 * gs-threadbench: what the pthread calls cost, in an ordinary program.
 * Run natively and under LD_PRELOAD=libgreenshim.so (tools/bench/
 * sidebyside.sh does both, pinned to one CPU, side by side).
 *
 *   pthread-create-join   create a thread that returns at once, join it
 *   mutex-cond-handoff    two threads take turns through a mutex and a
 *                         condition variable (the shape of a work queue)
 *
 * Prints "NAME NS" lines: ns per operation, best of five runs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *nothing(void *arg)
{
	return arg;
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static long turn, rounds;

static void *take_turns(void *arg)
{
	long me = (long)(intptr_t)arg;

	pthread_mutex_lock(&m);
	for (long i = 0; i < rounds; i++) {
		while ((turn & 1) != me)
			pthread_cond_wait(&c, &m);
		turn++;
		pthread_cond_signal(&c);
	}
	pthread_mutex_unlock(&m);
	return NULL;
}

int main(void)
{
	double best = 1e30;

	for (int r = 0; r < 5; r++) {
		enum { N = 20000 };
		double t0 = now_ns();

		for (int i = 0; i < N; i++) {
			pthread_t t;

			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
		}
		if ((now_ns() - t0) / N < best)
			best = (now_ns() - t0) / N;
	}
	printf("pthread-create-join %.1f\n", best);
	best = 1e30;
	rounds = 100000;
	for (int r = 0; r < 5; r++) {
		pthread_t a, b;
		double t0 = now_ns();

		turn = 0;
		pthread_create(&a, NULL, take_turns, (void *)0);
		pthread_create(&b, NULL, take_turns, (void *)1);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		if ((now_ns() - t0) / (2.0 * rounds) < best)
			best = (now_ns() - t0) / (2.0 * rounds);
	}
	printf("mutex-cond-handoff %.1f\n", best);
	return 0;
}
