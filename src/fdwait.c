/*
 * Waiting for fd readiness.
 *
 * What it owns: per hub, a table indexed by fd number of struct fdw: one
 * ev_io per direction and the queue of waiters for it. The watchers are
 * made once per fd number and reused; one runs only while its queue has
 * waiters (a level-triggered watcher left running with nobody to consume the
 * data would spin the loop). Stopping and restarting an ev_io between two
 * polls costs no system call: libev keeps the kernel's epoll registration
 * and only reconciles it when the wanted mask really changes.
 *
 * Invariant: a watcher runs while its queue has waiters, or while a thread
 * it woke has not run yet; the woken thread stops it (fdw_remove) if it does
 * not wait again. So the loop never blocks on an active watcher nobody
 * will consume: the run queue is not empty then.
 *
 * Waking: readiness completes every observing waiter (poll, select) but only
 * the first exclusive one (read, accept: one consumer per event), the way
 * EPOLLEXCLUSIVE avoids a thundering herd: a thousand threads in accept()
 * on one socket cost one wake-up per connection. If that consumer leaves
 * the data, the watcher fires again on the next poll for the next waiter.
 *
 * Close: fdw_close() must run before the fd number is closed: it wakes
 * every waiter with -EBADF and resets both watchers (ev_io_set), so that a
 * new file that reuses the number is registered afresh and no waiter of
 * the old file ever sees its events. libev (as Debian builds it) aborts on
 * an EBADF from epoll_ctl, so a watcher is started only on an fd that is
 * open at that moment; an fd closed by a path that skips fdw_close while a
 * thread waits on it is a bug that docs/LIMITATIONS.md names.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "hub_impl.h"
#include "tools.h"
#include "sys.h"

/* The state of an fd in its hub's FDW_EXC set (exc_cb). */
enum exc_state {
	EXC_NONE,  /* not in it */
	EXC_ARMED, /* in it, its events asked (exc_mask) */
	EXC_FIRED, /* in it, spent (EPOLLONESHOT) until asked again */
};

struct fdw {
	ev_io io[2];
	struct waitq q[3]; /* FDW_READ, FDW_WRITE, FDW_EXC */
	bool counted[3];  /* in watched[] */
	uint8_t exc_state; /* enum exc_state */
	uint32_t exc_mask; /* the epoll events it was added or changed with */
	bool settled;     /* no close of fd under way when gen was read */
	unsigned gen;     /* closes[fd] when a watcher was started */
};

/* Across hubs (an OS thread each with GREENSHIM_THREADS=native): a close
 * in one OS thread must end the waits on that fd in the others, whose
 * epoll sets drop it silently once the file goes (natively, a read in
 * progress holds the file and ends at its end of file or data). watched
 * counts the active watchers of each fd in every hub; closes counts the
 * closes of each fd that some hub may have missed. A close with watchers
 * elsewhere (fdw_closed, after the close) tells every other hub, which
 * ends the waits of a watcher started before that close (fdw_close_seen).
 * Orders: a hub counts its watcher, then reads closes, then checks the fd
 * is open (fdw_add); a closer counts the close (fdw_closing), closes, then
 * reads watched: either the closer sees the watcher, or the hub sees the
 * fd closed or the new file, with the count of that close (counted after
 * the close, a watcher of the new file would count as the old one's, and
 * its wait be ended: seen in native_threads_io_accepters). fds from
 * WATCHED_MAX up are always told.
 *
 * closing counts the closes of each fd under way (from fdw_closing to
 * fdw_closed, or fdw_close_failed). It lets a caller that has just used
 * the fd (WAITER_FD_OPEN) skip the check that the fd is open when nothing
 * moved since this hub last started a watcher on it: closes the same, no
 * close under way now, and none then (f->settled). A close begun since
 * then moved closes before it closed, and this hub, which counted its
 * watcher before reading closes, sees the move, or the closer sees the
 * watcher and tells the hub. A close under way then (its count read,
 * its close not yet made) is what settled rules out: the check of that
 * start may have seen the fd still open. */
#define WATCHED_MAX 65536
static atomic_int watched[WATCHED_MAX];
static atomic_uint closes[WATCHED_MAX];
static atomic_int closing[WATCHED_MAX];

static void count_on(struct fdw *f, int fd, int dir)
{
	if (!f->counted[dir] && fd < WATCHED_MAX) {
		f->counted[dir] = true;
		atomic_fetch_add(&watched[fd], 1);
	}
}

static void count_off(struct fdw *f, int fd, int dir)
{
	if (f->counted[dir]) {
		f->counted[dir] = false;
		atomic_fetch_sub(&watched[fd], 1);
	}
}

static const int dir_events[2] = { EV_READ, EV_WRITE };

static void fdw_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct fdw *f = io->data;
	int dir = io == &f->io[FDW_WRITE];
	struct waitq *q = &f->q[dir];
	bool woke_exclusive = false;
	struct waiter *e, *next;

	if (revents & EV_ERROR) {
		/* libev found the fd invalid (closed behind our back) and
		 * stopped the watcher. */
		while ((e = q->head) != NULL) {
			waitq_remove(e);
			e->revents |= EV_ERROR;
			wait_complete(e->wait, -EBADF);
		}
		count_off(f, io->fd, dir);
		ev_io_set(io, io->fd, dir_events[dir]);
		return;
	}
	for (e = q->head; e != NULL; e = next) {
		next = e->next;
		if (wait_done(e->wait)) {
			waitq_remove(e);
			continue;
		}
		if ((e->flags & WAITER_EXCLUSIVE) && woke_exclusive)
			continue;
		waitq_remove(e);
		e->revents |= revents;
		wait_complete(e->wait, 0);
		if (e->flags & WAITER_EXCLUSIVE)
			woke_exclusive = true;
	}
	/* The watcher stays on, even with its queue empty: the woken threads
	 * stop it in fdw_remove() when they run, unless they wait again first
	 * (the common case), which then costs libev nothing. Stopping it here
	 * would let a poll that runs before them see the fd without watcher
	 * and make libev delete it from, then add it back to, the epoll set. */
	(void)loop;
}

void fdw_ready(struct hub *h, int fd, int dir)
{
	struct fdw *f = fd >= 0 && fd < h->nfds ? h->fds[fd] : NULL;

	if (f != NULL && f->q[dir].head != NULL)
		fdw_io_cb(h->loop, &f->io[dir], dir_events[dir]);
}

/* The highest fd any hub has watched (fdw_get made its entry): a close of
 * numbers above it has no waiter to tell (preload/fd.c, close_range). */
static atomic_int watched_top = -1;

int fdw_top_fd(void)
{
	return atomic_load_explicit(&watched_top, memory_order_acquire);
}

static struct fdw *fdw_get(struct hub *h, int fd)
{
	struct fdw *f;

	if (fd >= h->nfds) {
		int n = h->nfds ? h->nfds : 64;
		struct fdw **t;

		while (n <= fd)
			n *= 2;
		t = gs_realloc(h->fds, (size_t)n * sizeof *t);
		if (t == NULL)
			return NULL;
		memset(t + h->nfds, 0, (size_t)(n - h->nfds) * sizeof *t);
		h->fds = t;
		h->nfds = n;
	}
	f = h->fds[fd];
	if (f == NULL) {
		f = gs_calloc(1, sizeof *f);
		if (f == NULL)
			return NULL;
		for (int dir = 0; dir < 2; dir++) {
			ev_io_init(&f->io[dir], fdw_io_cb, fd, dir_events[dir]);
			f->io[dir].data = f;
		}
		for (int dir = 0; dir < 3; dir++)
			waitq_init(&f->q[dir]);
		h->fds[fd] = f;
		for (int top = atomic_load(&watched_top);
		     fd > top && !atomic_compare_exchange_weak(&watched_top, &top, fd);)
			;
	}
	return f;
}

/* The FDW_EXC set: the waits of poll and select for what epoll reports
 * but libev cannot ask for, with libev's EV_READ and EV_WRITE its only
 * events. That is urgent data (POLLPRI, select's exceptfds), the bands
 * and a peer's shutdown asked without POLLIN, and, for an fd asked for no
 * event at all (stunnel's poll lists its sockets so while a buffer is
 * full), only an error or a hang-up, which epoll reports for every fd in a
 * set. Watching such an fd for reading woke its thread for data it had not
 * asked for, again and again while the data stayed: a poll of 300 ms over
 * an fd with unread data and events 0 took 300 ms of CPU (tests/preload/
 * io_semantics.c, poll_unasked). Each fd goes in with EPOLLONESHOT and
 * stays after its waits end (libev's way with its own set): spent when it
 * fires, asked again (EPOLL_CTL_MOD) by the next wait, taken out (DEL) as
 * its number closes here. A registration left behind by a file that lives
 * on elsewhere under another number fires once at most. The set is an fd
 * of the runtime's, made as the hub is threaded (hub_make_kept_fds), or at
 * the first such wait on a hub that never was, and read in the loop
 * through its own watcher while any thread waits in it. */
/* The set's number for one use, on h's OS thread (exc_leave after it). A
 * program's dup2 over it, from any thread, publishes the new number and
 * then waits for no use to be under way (hub_move_own_fd). */
static int exc_enter(struct hub *h)
{
	atomic_fetch_add(&h->exc_users, 1);
	return atomic_load(&h->exc_fd);
}

static void exc_leave(struct hub *h)
{
	atomic_fetch_sub(&h->exc_users, 1);
}

static void exc_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct hub *h = GS_CONTAINER_OF(io, struct hub, exc_w);
	struct epoll_event ev[64];
	long n = arch_syscall6(SYS_epoll_pwait, exc_enter(h), (long)ev, 64, 0, 0, 0);

	exc_leave(h);
	(void)loop;
	(void)revents;
	for (long i = 0; i < n; i++) {
		int fd = (int)ev[i].data.u64;
		struct fdw *f = fd < h->nfds ? h->fds[fd] : NULL;

		if (f == NULL || f->exc_state != EXC_ARMED)
			continue; /* spent, or another file's: fires no more */
		f->exc_state = EXC_FIRED;
		waitq_wake_all(&f->q[FDW_EXC], 0); /* each asks the kernel again */
	}
}

static bool exc_make(struct hub *h)
{
	long fd;

	if (h->exc_made)
		return true;
	hub_own_lock();
	fd = hub_own_place((int)arch_syscall3(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0), OWN_EXC, h);
	if (fd >= 0)
		atomic_store(&h->exc_fd, (int)fd);
	hub_own_unlock();
	if (fd < 0)
		return false;
	h->exc_made = true;
	ev_io_init(&h->exc_w, exc_cb, (int)fd, EV_READ);
	return true;
}

/* fd in h's FDW_EXC set, asked for mask (and what other waits of it ask
 * now), unless it is so already. 0, or the epoll_ctl's error. */
static int exc_arm(struct hub *h, struct fdw *f, int fd, uint32_t mask)
{
	struct epoll_event ev = { 0 };
	long op, r;
	int set;

	if (f->exc_state == EXC_ARMED && !(mask & ~f->exc_mask))
		return 0;
	if (!exc_make(h))
		return -ENOMEM;
	if (f->exc_state == EXC_ARMED)
		mask |= f->exc_mask;
	ev.events = mask | EPOLLONESHOT;
	ev.data.u64 = (uint64_t)fd;
	op = f->exc_state == EXC_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	set = exc_enter(h);
	r = arch_syscall6(SYS_epoll_ctl, set, op, fd, (long)&ev, 0, 0);
	if (r == -EEXIST || r == -ENOENT) {
		/* In it under a file gone from the number, or not yet. */
		op = r == -EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		r = arch_syscall6(SYS_epoll_ctl, set, op, fd, (long)&ev, 0, 0);
	}
	exc_leave(h);
	if (r == -EPERM)
		return 0; /* a regular file: epoll never has anything to say of it */
	if (r < 0)
		return (int)r;
	f->exc_state = EXC_ARMED;
	f->exc_mask = mask;
	return 0;
}

/* fd (about to close) out of h's FDW_EXC set. */
static void exc_forget(struct hub *h, struct fdw *f, int fd)
{
	if (f->exc_state != EXC_NONE) {
		arch_syscall6(SYS_epoll_ctl, exc_enter(h), EPOLL_CTL_DEL, fd, 0, 0, 0);
		exc_leave(h);
	}
	f->exc_state = EXC_NONE;
}

void fdw_make_exc(struct hub *h)
{
	(void)exc_make(h);
}

void fdw_hub_closing(struct hub *h)
{
	if (!h->exc_made)
		return;
	ev_io_stop(h->loop, &h->exc_w);
	/* No move now: the caller holds the movers' lock. */
	hub_forget_own_fd(atomic_load(&h->exc_fd));
	arch_syscall3(SYS_close, atomic_load(&h->exc_fd), 0, 0);
	h->exc_made = false;
	h->exc_waits = 0;
	for (int fd = 0; fd < h->nfds; fd++)
		if (h->fds[fd] != NULL)
			h->fds[fd]->exc_state = EXC_NONE;
}

/* Does a watcher run for fd's dir (its queue has waiters, for FDW_EXC)? */
static bool watching(const struct fdw *f, int dir)
{
	return dir == FDW_EXC ? !waitq_empty(&f->q[FDW_EXC]) : ev_is_active(&f->io[dir]);
}

int fdw_add(struct hub *h, int fd, int dir, struct waiter *e, struct wait *w, unsigned flags)
{
	struct fdw *f;

	if (fd < 0)
		return -EBADF;
	f = fdw_get(h, fd);
	if (f == NULL)
		return -ENOMEM;
	/* Started before a close another OS thread made: its file is gone. */
	if (watching(f, dir) && fd < WATCHED_MAX && f->gen != atomic_load(&closes[fd]))
		fdw_close(h, fd);
	if (!watching(f, dir)) {
		bool others = hub_count() > 1, closed, moved;
		unsigned gen;

		count_on(f, fd, dir); /* then closes: the orders above */
		gen = fd < WATCHED_MAX ? atomic_load(&closes[fd]) : 0;
		closed = gen != f->gen || (others && fd >= WATCHED_MAX);
		moved = closed || !f->settled;
		f->settled = fd < WATCHED_MAX && atomic_load(&closing[fd]) == 0;
		moved = moved || !f->settled;
		f->gen = gen;
		/* Closed in another OS thread since this hub last watched it
		 * (and maybe a new file under the number): libev, which keeps
		 * an fd registered after its watcher stops, must register it
		 * afresh (ev_io_set), or the new file is never in the set. */
		if (closed && dir == FDW_EXC)
			f->exc_state = EXC_NONE;
		else if (closed)
			ev_io_set(&f->io[dir], fd, dir_events[dir]);
		/* Debian's libev asserts (aborts) when epoll_ctl says EBADF:
		 * never hand it a closed fd. A caller that has just used the
		 * fd (WAITER_FD_OPEN) knows it open, unless another OS thread
		 * closed it since: asked of the kernel only when closes or
		 * closing say it may have (the orders above). One fcntl per
		 * wait had cost stunnel's client threads, which wait in poll
		 * on three fds, 136 system calls per request. */
		if ((!(flags & WAITER_FD_OPEN) || (others && moved)) && sys_fcntl(fd, F_GETFD, 0) < 0) {
			count_off(f, fd, dir);
			return -EBADF;
		}
		if (dir != FDW_EXC)
			ev_io_start(h->loop, &f->io[dir]);
	}
	if (dir == FDW_EXC) {
		int r = exc_arm(h, f, fd, WAITER_EXC_EVENTS(flags));

		if (r < 0) {
			if (waitq_empty(&f->q[dir]))
				count_off(f, fd, dir);
			return r;
		}
		if (h->exc_waits++ == 0)
			ev_io_start(h->loop, &h->exc_w);
	}
	waitq_add(&f->q[dir], e, w, flags);
	return 0;
}

void fdw_remove(struct hub *h, int fd, int dir, struct waiter *e)
{
	struct fdw *f = h->fds[fd];

	waitq_remove(e);
	if (dir == FDW_EXC) {
		/* Its fd stays in the set, spent or armed (exc_cb). */
		if (--h->exc_waits == 0)
			ev_io_stop(h->loop, &h->exc_w);
		if (waitq_empty(&f->q[dir]))
			count_off(f, fd, dir);
		return;
	}
	if (waitq_empty(&f->q[dir])) {
		ev_io_stop(h->loop, &f->io[dir]);
		count_off(f, fd, dir);
	}
}

int fdw_wait(int fd, int events, int64_t deadline, unsigned flags)
{
	struct hub *h = hub_get();
	int dir = (events & EV_WRITE) ? FDW_WRITE : FDW_READ;
	struct wait w;
	struct waiter e;
	int r;

	if (h == NULL)
		return -ENOMEM;
	wait_init(&w);
	wait_label(&w, dir == FDW_WRITE ? WAIT_FD_WRITE : WAIT_FD_READ, NULL, fd);
	r = fdw_add(h, fd, dir, &e, &w, flags);
	if (r < 0)
		return r;
	r = wait_park(&w, deadline);
	fdw_remove(h, fd, dir, &e);
	return r;
}

void fdw_close(struct hub *h, int fd)
{
	struct fdw *f;

	if (fd < 0 || fd >= h->nfds || (f = h->fds[fd]) == NULL)
		return;
	for (int dir = 0; dir < 2; dir++) {
		waitq_wake_all(&f->q[dir], -EBADF);
		ev_io_stop(h->loop, &f->io[dir]);
		count_off(f, fd, dir);
		ev_io_set(&f->io[dir], fd, dir_events[dir]);
	}
	waitq_wake_all(&f->q[FDW_EXC], -EBADF);
	count_off(f, fd, FDW_EXC);
	exc_forget(h, f, fd);
}

void fdw_drop(struct hub *h, struct fdw *f)
{
	for (int dir = 0; dir < 2; dir++) {
		ev_io_stop(h->loop, &f->io[dir]);
		count_off(f, f->io[dir].fd, dir);
		waitq_init(&f->q[dir]); /* the waiters' threads are gone */
	}
	count_off(f, f->io[FDW_READ].fd, FDW_EXC);
	waitq_init(&f->q[FDW_EXC]);
}

struct close_note {
	int fd;
	unsigned gen;
};

static void tell_hub(struct hub *h, void *arg)
{
	struct close_note *n = arg;

	if (h != hub_peek())
		hub_post_close(h, n->fd, n->gen);
}

void fdw_closing(int fd)
{
	if (fd < 0 || fd >= WATCHED_MAX)
		return;
	atomic_fetch_add(&closing[fd], 1); /* before closes: fdw_add reads it after */
	if (hub_count() > 1)
		atomic_fetch_add(&closes[fd], 1);
}

void fdw_close_failed(int fd)
{
	if (fd >= 0 && fd < WATCHED_MAX)
		atomic_fetch_sub(&closing[fd], 1);
}

void fdw_closed(int fd)
{
	struct close_note n = { .fd = fd };

	fdw_close_failed(fd); /* made: no longer under way */
	if (fd < 0 || hub_count() < 2)
		return;
	if (fd < WATCHED_MAX) {
		n.gen = atomic_load(&closes[fd]);
		if (atomic_load(&watched[fd]) == 0)
			return;
	}
	introspect_foreach_hub(tell_hub, &n);
}

void fdw_close_seen(struct hub *h, int fd, unsigned gen)
{
	struct fdw *f;

	if (fd < 0 || fd >= h->nfds || (f = h->fds[fd]) == NULL)
		return;
	/* A watcher started after the close began stays: it watches a new
	 * file of that number, unless it started on the old one in the
	 * moment before the close itself (then the number is closed now, or
	 * a new file's already: that one case is not told apart). */
	if (fd < WATCHED_MAX && ((int)(f->gen - gen) > 0 ||
				 (f->gen == gen && sys_fcntl(fd, F_GETFD, 0) >= 0)))
		return;
	fdw_close(h, fd);
}
