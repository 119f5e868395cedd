/*
 * POSIX AIO's one wait: aio_suspend.
 *
 * glibc runs the requests on OS threads of its own and makes aio_suspend
 * wait in the kernel (a futex) for one of them to finish. Made there by a
 * green thread, that wait held its hub's OS thread: a request that could
 * finish only once another green thread of that hub ran (an aio_write
 * into a pipe the other drains) never did on one hub, and the preemption
 * tick ended the wait with EINTR, which the program saw.
 *
 * Here a green thread polls the requests instead (aio_error, which reads
 * each one's status without a lock), with a green sleep between two polls
 * that doubles from 50 us to 5 ms, as the waits on process-shared objects
 * do (sync.c): a request that finishes is seen up to 5 ms late, where
 * glibc's thread wakes the waiter at once. The answers are glibc's: 0 once
 * one request of the list is no longer in progress (NULL entries are
 * passed over), EAGAIN at the timeout (relative, CLOCK_MONOTONIC), EINTR
 * for a handler without SA_RESTART (one with it lets the wait go on, as
 * the kernel restarts glibc's futex wait), and a cancellation acts (a
 * cancellation point). An invalid timeout, no hub, or a caller that may
 * block its OS thread alone: glibc's call.
 */
#include <aio.h>

#include "preload.h"

#define POLL_FIRST_NS 50000
#define POLL_MAX_NS 5000000

static bool any_done(const struct aiocb *const list[], int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] != NULL && aio_error(list[i]) != EINPROGRESS)
			return true;
	return false;
}

GS_WRAP int aio_suspend(const struct aiocb *const list[], int n, const struct timespec *timeout)
{
	int64_t deadline, pause = POLL_FIRST_NS;

	if ((timeout != NULL && (timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000)) ||
	    preload_blocks_alone() || preload_hub() == NULL)
		return REAL(aio_suspend)(list, n, timeout);
	deadline = preload_ts_deadline(timeout);
	for (;;) {
		int64_t now, until;
		int r;

		if (any_done(list, n))
			return PRELOAD_SETTLED(0);
		now = gs_now_ns();
		if (now >= deadline)
			return PRELOAD_SETTLED(preload_fail(-EAGAIN));
		until = now + pause < deadline ? now + pause : deadline;
		r = green_nap_until(until);
		if (r < 0)
			return PRELOAD_SETTLED(preload_fail(r)); /* -EINTR, or -ECANCELED: acts */
		if (r == WAKE_SIGNAL)
			pause = POLL_FIRST_NS; /* restarted, with the time left */
		else if (pause < POLL_MAX_NS)
			pause *= 2;
	}
}

/* The same call for struct aiocb64, which is struct aiocb on 64-bit
 * Linux (glibc's aio_suspend64 is an alias of aio_suspend). */
GS_WRAP int aio_suspend64(const struct aiocb64 *const list[], int n,
			  const struct timespec *timeout)
{
	return aio_suspend((const struct aiocb *const *)list, n, timeout);
}
