/* An ordinary program for the blocking monitor's worst case: one thread
 * keeps its OS thread 3 ms at a time inside library code (a trylock/unlock
 * loop) and then yields, over and over, while another thread waits on a
 * condition variable with 5 ms timeouts. Run with a 1 ms limit, nearly
 * every run is reported, and each report unwinds the first thread in a
 * signal handler while preemption ticks arrive (a tick also comes at each
 * timeout, and cuts the run it falls in: until 2026-12-07 the timeouts
 * were 1 ms, which now leave no run of 1 ms to report). Prints "ok N" (the
 * waits done) if both threads finish. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static volatile int stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *keep_the_cpu(void *arg)
{
	double end = now_s() + 1.5;

	while (now_s() < end) {
		double run_end = now_s() + 0.003;

		while (now_s() < run_end)
			if (pthread_mutex_trylock(&busy) == 0)
				pthread_mutex_unlock(&busy);
		sched_yield();
	}
	stop = 1;
	return arg;
}

static void *wait_often(void *arg)
{
	long *n = arg;

	pthread_mutex_lock(&m);
	while (!stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c, &m, &ts);
		++*n;
	}
	pthread_mutex_unlock(&m);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	long waits = 0;

	if (pthread_create(&a, NULL, keep_the_cpu, NULL) != 0 ||
	    pthread_create(&b, NULL, wait_often, &waits) != 0)
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("ok %ld\n", waits);
	return 0;
}
