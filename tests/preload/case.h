/* What the case programs of tests/preload share: a failed check prints
 * "FAIL CASE: line N: why" and exits 1; time in milliseconds. These are
 * ordinary programs: nothing here knows of greenshim. */
#ifndef GS_TEST_CASE_H
#define GS_TEST_CASE_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *test_name;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			printf("FAIL %s: line %d: ", test_name, __LINE__); \
			printf(__VA_ARGS__);                               \
			printf("\n");                                      \
			exit(1);                                           \
		}                                                          \
	} while (0)

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
