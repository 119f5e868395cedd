/*
 * Monotonic time for deadlines. All waits in the runtime end at a
 * CLOCK_MONOTONIC instant in nanoseconds, so that a wait retried after a
 * spurious wake-up keeps its original end (POSIX timed waits are absolute).
 */
#include <time.h>

#include "runtime.h"

int64_t gs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gs_deadline_after(int64_t ns)
{
	int64_t now;

	if (ns < 0)
		return GS_NO_DEADLINE;
	now = gs_now_ns();
	if (ns > GS_NO_DEADLINE - now)
		return GS_NO_DEADLINE;
	return now + ns;
}
