/*
 * gs-sleeper: how late a sleep ends beside threads that compute. An
 * ordinary pthreads program: SPINNERS threads compute without ever
 * waiting while main sleeps SLEEP_MS at a time for MS milliseconds; it
 * prints how many sleeps ended, and how late they ended (mean and worst)
 * beyond what they asked. Natively the kernel's scheduler runs a thread
 * that wakes at once, or nearly; under greenshim a sleeper on a hub where
 * another thread computes waits for the preemption tick (docs/ARCHITECTURE.md,
 * *Scheduling*). A benchmark: it measures and prints.
 *
 *   gs-sleeper [SPINNERS] [SLEEP_MS] [MS]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void *spin(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		x++;
	return NULL;
}

int main(int argc, char **argv)
{
	int spinners = argc > 1 ? atoi(argv[1]) : 1;
	double sleep_ms = argc > 2 ? atof(argv[2]) : 10, ms = argc > 3 ? atof(argv[3]) : 1000;
	double start, worst = 0, sum = 0;
	struct timespec ts = { (time_t)(sleep_ms / 1000),
			       (long)((sleep_ms - (double)(time_t)(sleep_ms / 1000) * 1000) * 1e6) };
	pthread_t t[64];
	int n = 0;

	if (spinners < 0 || spinners > 64 || sleep_ms <= 0 || ms <= 0) {
		fprintf(stderr, "usage: gs-sleeper [SPINNERS 0-64] [SLEEP_MS] [MS]\n");
		return 2;
	}
	for (int i = 0; i < spinners; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	usleep(20000);
	start = now_ms();
	while (now_ms() - start < ms) {
		double a = now_ms(), late;

		nanosleep(&ts, NULL);
		late = now_ms() - a - sleep_ms;
		sum += late;
		if (late > worst)
			worst = late;
		n++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < spinners; i++)
		pthread_join(t[i], NULL);
	printf("sleeps %d late_mean_ms %.2f late_worst_ms %.2f\n", n, sum / n, worst);
	return 0;
}
