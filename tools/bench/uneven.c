/* Threads that only compute, unevenly: THREADS threads, the even ones
 * SHORT rounds of hashing, the odd ones LONG rounds (a round: 100,000
 * steps of a 64-bit LCG, some 0.1 ms). Natively the kernel spreads them
 * over the CPUs as the short ones end; under greenshim the hubs do
 * (docs/ARCHITECTURE.md, *Many hubs*: a preempted thread moves to an
 * idle hub). With PAUSE_US > 0 every fourth round ends with a sleep of
 * that many microseconds: the threads compute in bursts of 0.4 ms, shorter
 * than the preemption tick, and wait between them (a moved thread is one that
 * returns from its sleep on a busy hub while another is idle). Prints
 * "wall_ms N" and "cpu_ms N" (the process's user + system time). An
 * ordinary program: nothing here knows of greenshim.
 *   gs-uneven [THREADS] [SHORT] [LONG] [PAUSE_US]  (default 4 500 10000 0)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static volatile uint64_t sink;
static long pause_ns;

static void *work(void *arg)
{
	long rounds = (long)(intptr_t)arg;
	uint64_t x = (uint64_t)rounds;
	struct timespec pause = { pause_ns / 1000000000, pause_ns % 1000000000 };

	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005u + 1442695040888963407u;
		if (pause_ns > 0 && r % 4 == 3)
			nanosleep(&pause, NULL);
	}
	sink = x;
	return NULL;
}

static double ms(struct timespec t)
{
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	long short_rounds = argc > 2 ? atol(argv[2]) : 500;
	long long_rounds = argc > 3 ? atol(argv[3]) : 10000;
	pthread_t *t = calloc((size_t)(n > 0 ? n : 1), sizeof *t);
	struct timespec a, b;
	struct rusage ru;

	pause_ns = argc > 4 ? atol(argv[4]) * 1000 : 0;
	if (n < 1 || t == NULL || pause_ns < 0) {
		fprintf(stderr, "usage: gs-uneven [THREADS] [SHORT] [LONG] [PAUSE_US]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, work,
				   (void *)(intptr_t)(i % 2 ? long_rounds : short_rounds)) != 0)
			return 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	getrusage(RUSAGE_SELF, &ru);
	printf("wall_ms %.0f\ncpu_ms %.0f\n", ms(b) - ms(a),
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	free(t);
	return 0;
}
