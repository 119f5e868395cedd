/*
 * The slow path shared by the I/O wrappers: waiting for readiness, and the
 * deadlines the program asked for (SO_RCVTIMEO, SO_SNDTIMEO, timespecs),
 * and the blocking calls made on a worker of the pool.
 */
#include "preload.h"

int preload_wait_fd(struct hub *h, int fd, int events, int64_t deadline, unsigned flags)
{
	return preload_wait_fd_peered(h, fd, NULL, events, deadline, flags);
}

int preload_wait_fd_peered(struct hub *h, int fd, struct fdent *ent, int events, int64_t deadline,
			   unsigned flags)
{
	int dir = (events & EV_WRITE) ? FDW_WRITE : FDW_READ;
	bool named = ent != NULL && dir == FDW_READ && ent->peered;
	struct wait w;
	struct waiter e;
	int r;

	wait_init_interruptible(&w);
	wait_label(&w, dir == FDW_WRITE ? WAIT_FD_WRITE : WAIT_FD_READ, NULL, fd);
	r = fdw_add(h, fd, dir, &e, &w, flags | WAITER_FD_OPEN);
	if (r < 0) {
		wait_after(&w);
		return r;
	}
	if (named)
		fdtab_park(ent, &w);
	r = wait_park(&w, deadline);
	if (named)
		fdtab_unpark(ent, &w);
	fdw_remove(h, fd, dir, &e);
	wait_after(&w);
	if (GS_UNLIKELY(r == -ECANCELED))
		preload_cancel_act(); /* not inside stdio: it acts when done */
	return r;
}

int64_t preload_sock_deadline(const struct fdent *e, int events)
{
	int64_t t = e->timeo_ns[(events & EV_WRITE) ? 1 : 0];

	return t == 0 ? GS_NO_DEADLINE : gs_deadline_after(t);
}

int preload_wait_result(int r, bool has_timeout)
{
	if (r == 0 || (r == WAKE_SIGNAL && !has_timeout))
		return 1;
	if (r == -ETIMEDOUT)
		return preload_fail(-EAGAIN);
	return preload_fail(r == WAKE_SIGNAL ? -EINTR : r);
}

int64_t preload_abs_deadline(clockid_t clk, const struct timespec *abstime)
{
	struct timespec now;
	int64_t left;

	if (abstime == NULL)
		return GS_NO_DEADLINE;
	if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000 ||
	    clock_gettime(clk, &now) != 0)
		return -EINVAL;
	left = (abstime->tv_sec - now.tv_sec) * 1000000000 + (abstime->tv_nsec - now.tv_nsec);
	return left <= 0 ? gs_now_ns() : gs_deadline_after(left);
}

int64_t preload_ts_deadline(const struct timespec *ts)
{
	if (ts == NULL)
		return GS_NO_DEADLINE;
	if (ts->tv_sec < 0)
		return gs_now_ns();
	if (ts->tv_sec > (INT64_MAX / 1000000000) - 1)
		return GS_NO_DEADLINE;
	return gs_deadline_after((int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec);
}

long preload_pool_syscall(const long call[6], bool cancelpoint, bool restarts)
{
	for (;;) {
		int why;
		long r = pool_syscall_intr(call, cancelpoint, &why);

		if (r != -EINTR || why == 0)
			return r < 0 ? preload_fail((int)r) : r;
		/* Stopped for a signal: every handler had SA_RESTART, and the
		 * kernel would restart this call (signal(7)): made again. */
		if (why != WAKE_SIGNAL || !restarts)
			return preload_fail(why == -ECANCELED ? -ECANCELED : -EINTR);
	}
}
