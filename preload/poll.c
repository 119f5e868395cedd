/*
 * poll, ppoll, select, pselect and the epoll waits.
 *
 * Each is the kernel's own call with a zero timeout, which never blocks and
 * computes the exact result (revents, ready sets, counts, errors); when it
 * finds nothing and the program allowed a wait, the green thread waits in
 * the hub on every fd of interest, for any of them or the deadline, and
 * then asks the kernel again. A zero timeout never yields. A wake-up whose
 * readiness another green thread consumed first just waits again, with the
 * same deadline. So does one by a close of a watched fd in another thread
 * (fdwait.c ends those waits with EBADF): the kernel, asked again, answers
 * as it would a call made just after the close (POLLNVAL for poll, EBADF
 * for select and epoll_wait), never poll's -1 EBADF, which Linux never
 * gives (found by tests/fuzz/fdthreads.c).
 *
 * The signal masks of ppoll, pselect and epoll_pwait are not applied while
 * a green thread waits (signals are per OS thread, shared by all green
 * threads); docs/LIMITATIONS.md says so.
 */
#include <stdlib.h>
#include <string.h>

#include "preload.h"

struct fd_waiter {
	struct waiter w;
	int fd;
	int dir;
};

/* What to watch for poll's events: want[dir] nonzero for each of
 * fdwait.c's directions, the fdw_add flags for it. libev watches POLLIN
 * (and POLLRDNORM) and POLLOUT (POLLWRNORM); the rest asked goes to
 * FDW_EXC with its epoll bits (the same numbers as poll's): urgent data,
 * the bands, a shutdown by the peer unless POLLIN, which sees it as end of
 * file, covers it; and an fd asked for nothing, for its error or hang-up
 * alone. Never a watch for more than was asked: data nobody asked for
 * would end the wait, and the next, for nothing. */
static void watch_for(short events, unsigned want[3])
{
	unsigned rd = events & (POLLIN | POLLRDNORM), wr = events & (POLLOUT | POLLWRNORM);
	unsigned exc = events & (POLLPRI | POLLRDBAND | POLLWRBAND | POLLRDHUP);

	if (rd)
		exc &= ~(unsigned)POLLRDHUP;
	want[FDW_READ] = rd ? WAITER_FD_OPEN : 0;
	want[FDW_WRITE] = wr ? WAITER_FD_OPEN : 0;
	want[FDW_EXC] = exc || !(rd || wr) ? WAITER_FD_OPEN | exc << WAITER_EXC_SHIFT : 0;
}

/* Waits until one of the fds is ready for its events, or the deadline. */
static int wait_many(struct hub *h, const struct pollfd *p, nfds_t n, int64_t deadline)
{
	struct fd_waiter small[24], *e = small;
	struct wait w;
	size_t k = 0;
	int r;

	if (n * 3 > sizeof small / sizeof small[0]) {
		e = gs_malloc(n * 3 * sizeof *e);
		if (e == NULL)
			return -ENOMEM;
	}
	/* poll, select and epoll_wait end on any handled signal, SA_RESTART
	 * or not (signal(7)). */
	wait_init_interruptible(&w);
	for (nfds_t i = 0; i < n; i++) {
		unsigned want[3];

		/* The runtime's own fds are not the program's to wait on. */
		if (p[i].fd < 0 || hub_is_own_fd(p[i].fd))
			continue;
		watch_for(p[i].events, want);
		for (int dir = FDW_READ; dir <= FDW_EXC; dir++) {
			if (!want[dir])
				continue;
			if (fdw_add(h, p[i].fd, dir, &e[k].w, &w, want[dir]) == 0) {
				e[k].fd = p[i].fd;
				e[k].dir = dir;
				k++;
			}
		}
	}
	/* No fd to watch: only the deadline or a signal ends it (the
	 * pause() idiom): a wait for a signal. */
	if (k == 0)
		wait_label(&w, WAIT_SIGNAL, NULL, 0);
	else if (k == 1 && e[0].dir != FDW_EXC)
		wait_label(&w, e[0].dir == FDW_WRITE ? WAIT_FD_WRITE : WAIT_FD_READ, NULL, e[0].fd);
	else
		wait_label(&w, WAIT_POLL, NULL, (long)n);
	r = wait_park(&w, deadline);
	for (size_t i = 0; i < k; i++)
		fdw_remove(h, e[i].fd, e[i].dir, &e[i].w);
	if (e != small)
		gs_free(e);
	wait_after(&w);
	return r == WAKE_SIGNAL ? -EINTR : r;
}

static int64_t ms_deadline(int timeout)
{
	return timeout < 0 ? GS_NO_DEADLINE : gs_deadline_after((int64_t)timeout * 1000000);
}

/* poll's loop: zero-timeout kernel poll, wait, again. */
static int poll_until(struct hub *h, struct pollfd *fds, nfds_t n, int64_t deadline)
{
	for (;;) {
		int r = PRELOAD_NO_TICK_EINTR(REAL(poll)(fds, n, 0)), w;

		if (r != 0)
			return r;
		w = wait_many(h, fds, n, deadline);
		if (w == -ETIMEDOUT)
			return PRELOAD_NO_TICK_EINTR(REAL(poll)(fds, n, 0));
		if (w < 0 && w != -EBADF)
			return preload_fail(w);
	}
}

GS_WRAP int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	struct hub *h;

	if (timeout == 0 || (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(poll)(fds, n, timeout));
	return PRELOAD_SETTLED(poll_until(h, fds, n, ms_deadline(timeout)));
}

/* ppoll's, pselect's and epoll_pwait's mask, the waiting thread's own
 * while it waits, as sigsuspend's (preload/sigwait.c): a signal it lets
 * in runs its handler on the thread, at once if pending already, and the
 * wait ends with EINTR; the thread's mask is put back after. Before
 * 2026-12-07 the mask was not applied: rsyslogd, which blocks SIGTERM
 * but in its pselect, never ended on SIGTERM. mask_begin is false if a
 * handler ran already (the call is EINTR; natively fds ready first would
 * be counted, the signal left pending). */
static bool mask_begin(struct hub *h, const sigset_t *mask, uint64_t *old)
{
	unsigned long seen = hub_program_signals(h);
	uint64_t temp;

	memcpy(&temp, mask, sizeof temp);
	sigmask_suspend(h, temp, old);
	return hub_program_signals(h) == seen;
}

static int mask_end(const uint64_t *old, int r)
{
	int saved = errno;

	sigmask_change(SIG_SETMASK, old, NULL);
	errno = saved;
	return r;
}

GS_WRAP int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	struct hub *h;
	uint64_t old;

	if ((ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0) || (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(ppoll)(fds, n, ts, mask));
	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return preload_fail(-EINVAL);
	if (mask == NULL)
		return PRELOAD_SETTLED(poll_until(h, fds, n, preload_ts_deadline(ts)));
	if (!mask_begin(h, mask, &old))
		return mask_end(&old, preload_fail(-EINTR));
	return PRELOAD_SETTLED(mask_end(&old, poll_until(h, fds, n, preload_ts_deadline(ts))));
}

GS_WRAP int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

GS_WRAP int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* select's loop over the same wait: the fd sets become a pollfd list. */
static int select_until(struct hub *h, int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
			int64_t deadline)
{
	struct pollfd small[64], *p = small;
	nfds_t n = 0;
	int r;

	if (nfds > FD_SETSIZE)
		nfds = FD_SETSIZE;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = (short)((rd != NULL && FD_ISSET(fd, rd) ? POLLIN : 0) |
				   (wr != NULL && FD_ISSET(fd, wr) ? POLLOUT : 0) |
				   (ex != NULL && FD_ISSET(fd, ex) ? POLLPRI : 0));

		if (ev == 0)
			continue;
		if (p == small && n == sizeof small / sizeof small[0]) {
			p = gs_malloc(FD_SETSIZE * sizeof *p);
			if (p == NULL)
				return preload_fail(-ENOMEM);
			memcpy(p, small, sizeof small);
		}
		p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	for (;;) {
		fd_set r0, w0, e0;
		struct timeval zero = { 0, 0 };
		int w;

		if (rd != NULL)
			r0 = *rd;
		if (wr != NULL)
			w0 = *wr;
		if (ex != NULL)
			e0 = *ex;
		r = PRELOAD_NO_TICK_EINTR(REAL(select)(nfds, rd != NULL ? &r0 : NULL,
							wr != NULL ? &w0 : NULL,
							ex != NULL ? &e0 : NULL, &zero));
		if (r != 0 || deadline <= gs_now_ns()) {
			if (r >= 0) {
				if (rd != NULL)
					*rd = r0;
				if (wr != NULL)
					*wr = w0;
				if (ex != NULL)
					*ex = e0;
			}
			break;
		}
		w = wait_many(h, p, n, deadline);
		if (w < 0 && w != -ETIMEDOUT && w != -EBADF) {
			r = preload_fail(w);
			break;
		}
	}
	if (p != small)
		gs_free(p);
	return r;
}

/* Linux's select writes the time left into the timeval. */
static void time_left(struct timeval *tv, int64_t deadline)
{
	int64_t left = deadline - gs_now_ns();

	if (left < 0)
		left = 0;
	tv->tv_sec = left / 1000000000;
	tv->tv_usec = (left % 1000000000) / 1000;
}

GS_WRAP int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	int64_t deadline = GS_NO_DEADLINE;
	struct hub *h;
	int r;

	if ((tv != NULL && tv->tv_sec == 0 && tv->tv_usec == 0) || nfds < 0 ||
	    (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(select)(nfds, rd, wr, ex, tv));
	if (tv != NULL) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0)
			return preload_fail(-EINVAL);
		deadline = gs_deadline_after((int64_t)tv->tv_sec * 1000000000 +
					     (int64_t)tv->tv_usec * 1000);
	}
	r = select_until(h, nfds, rd, wr, ex, deadline);
	if (tv != NULL)
		time_left(tv, deadline);
	return PRELOAD_SETTLED(r);
}

GS_WRAP int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
		    const sigset_t *mask)
{
	struct hub *h;
	uint64_t old;

	if ((ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0) || nfds < 0 ||
	    (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(pselect)(nfds, rd, wr, ex, ts, mask));
	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return preload_fail(-EINVAL);
	if (mask == NULL)
		return PRELOAD_SETTLED(select_until(h, nfds, rd, wr, ex, preload_ts_deadline(ts)));
	if (!mask_begin(h, mask, &old))
		return mask_end(&old, preload_fail(-EINTR));
	return PRELOAD_SETTLED(
		mask_end(&old, select_until(h, nfds, rd, wr, ex, preload_ts_deadline(ts))));
}

/* The epoll waits: the program's epoll fd is itself readable when it has
 * events, so the green thread waits on that one fd.
 *
 * A server's loop waits, serves what came, and waits again: where requests
 * come one at a time, the try that begins each wait finds nothing, and
 * only the hub's poll then says when the next one comes. So an epoll fd
 * whose last wait here parked for EPOLL_IDLE_NS or longer, and then got
 * fewer events than the array holds, waits first at the next call (its
 * read_waits_first), and that call saves the epoll_wait that would have
 * found it empty. What is already queued, the hub's next poll reports at
 * once: nothing is lost, only that poll comes first. A try that finds
 * events, a short park (events come close together: the try is likely to
 * find some), or a full array (more may be queued) goes back to trying
 * first. A wait first that a signal ends tries once before it says EINTR:
 * events queued before the call come first, as from the kernel. */
#define EPOLL_IDLE_NS 20000

/* What is queued now, without waiting. */
static int epoll_try(int epfd, struct epoll_event *ev, int max)
{
	return PRELOAD_NO_TICK_EINTR(REAL(epoll_wait)(epfd, ev, max, 0));
}

static int epoll_until(struct hub *h, int epfd, struct epoll_event *ev, int max, int64_t deadline)
{
	struct pollfd p = { .fd = epfd, .events = POLLIN };
	struct fdent *e = fdtab_get(epfd);
	bool first = e != NULL && __atomic_load_n(&e->read_waits_first, __ATOMIC_RELAXED);
	int64_t parked = 0;

	for (;;) {
		int r, w;

		if (!first) {
			r = epoll_try(epfd, ev, max);
			if (e != NULL && r > 0)
				__atomic_store_n(&e->read_waits_first,
						 parked >= EPOLL_IDLE_NS && r < max, __ATOMIC_RELAXED);
			if (r != 0 || deadline <= gs_now_ns())
				return r;
		}
		parked = gs_now_ns();
		w = wait_many(h, &p, 1, deadline);
		parked = gs_now_ns() - parked;
		if (w == -EINTR && first) {
			r = epoll_try(epfd, ev, max);
			if (r > 0)
				return r;
		}
		first = false;
		if (w < 0 && w != -ETIMEDOUT && w != -EBADF)
			return preload_fail(w);
	}
}

GS_WRAP int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	struct hub *h;

	if (timeout != 0 && hub_is_own_fd(epfd))
		return hub_loop_wait(epfd, ev, max, timeout); /* libev's */
	if (timeout == 0 || (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(epoll_wait)(epfd, ev, max, timeout));
	return PRELOAD_SETTLED(epoll_until(h, epfd, ev, max, ms_deadline(timeout)));
}

GS_WRAP int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
			const sigset_t *mask)
{
	struct hub *h;
	uint64_t old;

	if (timeout == 0 || hub_is_own_fd(epfd) || (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(epoll_pwait)(epfd, ev, max, timeout, mask));
	if (mask == NULL)
		return PRELOAD_SETTLED(epoll_until(h, epfd, ev, max, ms_deadline(timeout)));
	if (!mask_begin(h, mask, &old))
		return mask_end(&old, preload_fail(-EINTR));
	return PRELOAD_SETTLED(mask_end(&old, epoll_until(h, epfd, ev, max, ms_deadline(timeout))));
}

GS_WRAP int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
			 const sigset_t *mask)
{
	struct hub *h;
	uint64_t old;

	if ((ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0) || hub_is_own_fd(epfd) ||
	    (h = preload_hub()) == NULL)
		return PRELOAD_NO_TICK_EINTR(REAL(epoll_pwait2)(epfd, ev, max, ts, mask));
	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return preload_fail(-EINVAL);
	if (mask == NULL)
		return PRELOAD_SETTLED(epoll_until(h, epfd, ev, max, preload_ts_deadline(ts)));
	if (!mask_begin(h, mask, &old))
		return mask_end(&old, preload_fail(-EINTR));
	return PRELOAD_SETTLED(mask_end(&old, epoll_until(h, epfd, ev, max, preload_ts_deadline(ts))));
}
