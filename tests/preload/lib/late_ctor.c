/* Loaded with dlopen by tests/preload/late_code.c: a constructor that
 * computes for 200 ms, and counts how often the program's ticker ran
 * meanwhile (its counter's address comes in LATE_TICKS). */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

int gs_late_ctor_ticks = -1;

static volatile unsigned long sink;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

__attribute__((constructor)) static void spin_at_load(void)
{
	const char *at = getenv("LATE_TICKS");
	atomic_int *ticks = at != NULL ? (atomic_int *)strtoull(at, NULL, 16) : NULL;
	double t0 = now_ms();
	int before;

	if (ticks == NULL)
		return;
	before = atomic_load(ticks);
	while (now_ms() - t0 < 200)
		for (int i = 0; i < 100000; i++)
			sink += (unsigned long)i;
	gs_late_ctor_ticks = atomic_load(ticks) - before;
}
