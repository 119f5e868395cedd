/* Loaded with dlopen by tests/preload/late_code.c: a loop that computes
 * for a while in a library the program was not started with. */
#include <time.h>

int gs_late_spin(int ms);

static volatile unsigned long sink;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int gs_late_spin(int ms)
{
	double t0 = now_ms();

	while (now_ms() - t0 < ms)
		for (int i = 0; i < 100000; i++)
			sink += (unsigned long)i;
	return 0;
}
