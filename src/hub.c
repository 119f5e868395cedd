/*
 * The hub: one scheduler per OS thread.
 *
 * What it owns: the OS thread's libev loop (ev_loop_new, never the default
 * loop, which would take SIGCHLD from the program), the run queue of
 * ready green threads, and two contexts: the root (the OS thread's own stack,
 * the code that was running when the hub was made, e.g. main()) and the hub
 * context, a small stack of its own on which the loop and every libev
 * callback run.
 *
 * Scheduling: a green thread that parks or yields switches straight to the
 * next ready green thread when there is one; the hub context is entered only
 * when the run queue is empty, or when HUB_POLL_EVERY direct switches (and
 * one round of the threads queued at the last poll) and
 * HUB_POLL_INTERVAL_NS have passed since the last poll, so that fd and
 * timer events are never starved by threads that keep yielding, and yet a
 * storm of yields does not pay for an epoll_wait every few switches
 * (hub_impl.h says why the round).
 * There the hub runs the loop once (blocking only if nothing is ready):
 * watcher callbacks complete waits, which moves their threads to the run
 * queue, and the hub switches to the first of them. A thread runs until it
 * waits, yields or exits, or until the preemption tick moves it aside at a
 * safe point (preempt.c).
 *
 * The run queue is two FIFOs in one list: threads a wake-up made ready
 * (hub_unpark) ahead of those the tick preempted, that yielded or are
 * new, as the kernel's scheduler runs a thread that wakes before threads
 * that have used their share: a sleep beside three threads that compute
 * ended up to 10 ms late with one FIFO (a 10 ms sleep, the tick at 2 ms),
 * as each computing thread ahead ran its turn first. Once woken threads
 * have run for a tick (gs_config.preempt_ns) while others waited behind
 * them, the first behind goes first, so a stream of wake-ups cannot
 * starve the threads that compute. A yield
 * goes behind, as sched_yield(2) puts the caller last: a thread that
 * spins on yields for a lock whose holder the tick preempted lets the
 * holder run.
 *
 * Invariants (GS_INVARIANT checks those marked * in sanitizer builds):
 *  - * exactly one context of a hub runs at a time, on the hub's OS thread;
 *    a green thread runs on one hub at a time, and changes hubs only
 *    before it first runs, when preempted, or as it returns from a call
 *    (sched.c), each time handed over through the target's adopt list
 *    once its context is saved; only a hub's own OS thread touches its
 *    run queue, its lists and its counters: other OS threads
 *    post to the lock-free lists that its wake-up callback takes (remote
 *    completions, claimed waits, threads to adopt, release or free);
 *  - * a READY green is in the run queue exactly once; a PARKED one is
 *    referenced by the wait that will unpark it; only the running green
 *    parks;
 *  - the thread pointer loaded is h->fs; a context runs with its own
 *    (tls.c), except the hub's, which runs on whatever is loaded when
 *    green threads' TLS comes from the LDT or from arch_prctl
 *    (tls_hub_rides);
 *  - errno is saved across a switch for every context whose TLS another
 *    may use meanwhile (shares_tls);
 *  - a dead detached green is released by the next context to run, once
 *    nothing runs on its stack any more (h->zombie).
 *
 * Stuck: when the run queue is empty, the loop has no active watcher (only
 * the cross-thread wake-up's, which does not count) and no remote completion
 * was announced, nothing can ever wake a parked green. The hub then calls
 * the stuck hook once (the deadlock report builds on it) when it has green
 * threads besides its root, and keeps waiting for a remote wake-up,
 * exactly as a native deadlock would hang.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "hub_impl.h"
#include "gid.h"
#include "tools.h"
#include "sys.h"

#ifdef GS_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

static __thread struct hub *tls_hub __attribute__((tls_model("initial-exec")));
/* hub_create is running on this OS thread. Making a hub allocates, and a
 * program's own malloc (jemalloc: redis-server) locks a pthread mutex,
 * whose wrapper asks for the hub: until it exists, the OS thread has none
 * (hub_get answers NULL), so those calls get the no-hub behaviour instead
 * of making a hub inside the making of one, for ever. */
static __thread bool tls_hub_creating __attribute__((tls_model("initial-exec")));
static void (*stuck_hook)(struct hub *);
static void end_default(struct hub *h);
static void (*end_hook)(struct hub *) = end_default;

/* The last thread of the process's main OS thread ended without exit():
 * the process exits with status 0, atexit handlers and stdio included, as
 * it does natively when the last thread calls pthread_exit. */
static void end_default(struct hub *h)
{
	(void)h;
	exit(0);
}

void hub_set_end_hook(void (*hook)(struct hub *))
{
	end_hook = hook != NULL ? hook : end_default;
}
static atomic_uint_fast64_t next_green_id = 1;
static atomic_int nhubs;

int hub_count(void)
{
	return atomic_load_explicit(&nhubs, memory_order_relaxed);
}

/* The runtime's own fds (libev's epoll fd, a hub's wake-up eventfd, the
 * monitor's and the control socket): the close wrappers must not let a
 * program close them under the runtime, and a program's dup2 over one
 * moves it first (hub_move_own_fd). A slot is claimed (used) before its
 * fields are written, and its fd published last; hub_is_own_fd reads fds
 * only. Claims, releases and moves hold own_lock; hub_is_own_fd none. */
/* Each hub's loop, wake-up, set for exceptional conditions and monitor's
 * files (some 6), times the most hubs, and the control socket's. */
#define OWN_FDS_MAX (CONFIG_HUBS_MAX * 8)
static struct own_slot {
	atomic_int fd;
	atomic_bool used;
	int kind; /* enum own_kind */
	struct hub *hub;
} own_fds[OWN_FDS_MAX];
static atomic_int n_own_fds; /* slots ever claimed: the scan's bound */
static atomic_flag own_lock = ATOMIC_FLAG_INIT;

void hub_own_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&own_lock, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
}

void hub_own_unlock(void)
{
	atomic_flag_clear_explicit(&own_lock, memory_order_release);
}

bool hub_is_own_fd(int fd)
{
	int n = atomic_load_explicit(&n_own_fds, memory_order_acquire);

	for (int i = 0; i < n && i < OWN_FDS_MAX; i++)
		if (atomic_load_explicit(&own_fds[i].fd, memory_order_relaxed) == fd)
			return true;
	return false;
}

bool hub_others_ready(const struct hub *h)
{
	return h->runq_head != NULL;
}

int hub_own_fds_between(unsigned first, unsigned last, int *out, int max)
{
	int n = atomic_load_explicit(&n_own_fds, memory_order_acquire), found = 0;

	for (int i = 0; i < n && i < OWN_FDS_MAX && found < max; i++) {
		int fd = atomic_load_explicit(&own_fds[i].fd, memory_order_relaxed), j, k;

		if (fd < 0 || (unsigned)fd < first || (unsigned)fd > last)
			continue;
		/* In order, each once (a slot being moved may show it twice). */
		for (k = 0; k < found && out[k] != fd; k++)
			;
		if (k < found)
			continue;
		for (j = found; j > 0 && out[j - 1] > fd; j--)
			out[j] = out[j - 1];
		out[j] = fd;
		found++;
	}
	return found;
}

static struct own_slot *own_find(int fd)
{
	int n = atomic_load(&n_own_fds);

	for (int i = 0; i < n && i < OWN_FDS_MAX; i++)
		if (atomic_load(&own_fds[i].used) && atomic_load(&own_fds[i].fd) == fd)
			return &own_fds[i];
	return NULL;
}

static void own_add(int fd, enum own_kind kind, struct hub *h)
{
	for (int i = 0; i < OWN_FDS_MAX; i++) {
		bool expected = false;

		if (!atomic_compare_exchange_strong(&own_fds[i].used, &expected, true))
			continue;
		own_fds[i].kind = kind;
		own_fds[i].hub = h;
		if (i >= atomic_load(&n_own_fds)) {
			atomic_store(&own_fds[i].fd, -1);
			atomic_store(&n_own_fds, i + 1);
		}
		atomic_store(&own_fds[i].fd, fd);
		return;
	}
	/* Full (hundreds of hubs alive): fd stays unprotected, as any. */
}

static void own_release(struct own_slot *s)
{
	atomic_store(&s->fd, -1);
	atomic_store(&s->used, false);
}

#define OWN_FD_CEILING 1024

/* The highest free fd number below min(RLIMIT_NOFILE, 1024) and above
 * floor, or -1. The runtime's own numbers, at the top, are passed over
 * without asking the kernel: a wait's signalfd or pidfd (preload_runtime_fd)
 * had cost a dozen fcntl calls to place. */
static int highest_free(int floor)
{
	struct rlimit rl;
	long ceiling = OWN_FD_CEILING;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)ceiling)
		ceiling = (long)rl.rlim_cur;
	for (long want = ceiling - 1; want > floor; want--)
		if (!hub_is_own_fd((int)want) && sys_fcntl((int)want, F_GETFD, 0) == -EBADF)
			return (int)want;
	return -1;
}

/* fd moved to the highest free number there, close-on-exec (fd itself if
 * none is free above it). */
static int place_high(int fd)
{
	int want = highest_free(fd);

	if (want > fd) {
		long high = sys_fcntl(fd, F_DUPFD_CLOEXEC, want);

		if (high >= 0) {
			arch_syscall3(SYS_close, fd, 0, 0);
			return (int)high;
		}
	}
	sys_fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

int hub_own_place(int fd, enum own_kind kind, struct hub *h)
{
	if (fd < 0)
		return fd;
	fd = place_high(fd);
	own_add(fd, kind, h);
	return fd;
}

int hub_own_dup(int fd)
{
	int want = highest_free(2);
	struct own_slot *sl;
	long to;

	if (want < 0)
		return -EMFILE;
	to = sys_fcntl(fd, F_DUPFD_CLOEXEC, want);
	if (to >= 0 && (sl = own_find(fd)) != NULL)
		atomic_store(&sl->fd, (int)to);
	return (int)to;
}

/* The hub whose loop this OS thread is making (hub_open_loop). */
static __thread struct hub *tls_opening __attribute__((tls_model("initial-exec")));

/* The hub whose loop is making an fd now: the one being made, or the
 * calling OS thread's when its own context (libev in ev_run) runs. */
static struct hub *making_hub(void)
{
	struct hub *h = tls_opening;

	if (h == NULL && (h = tls_hub) != NULL && h->current != h->hub_green)
		h = NULL;
	return h;
}

bool hub_making_fd(void)
{
	return making_hub() != NULL;
}

void hub_drop_own_fd(int fd)
{
	struct own_slot *sl;

	hub_own_lock();
	if ((sl = own_find(fd)) != NULL)
		own_release(sl);
	hub_own_unlock();
}

int hub_take_new_fd(int fd, enum own_kind kind)
{
	struct hub *h = making_hub();

	if (fd < 0 || h == NULL)
		return fd;
	fd = hub_own_place(fd, kind, h);
	if (kind == OWN_BACKEND)
		h->backend_libev = fd;
	h->n_own_fds++;
	return fd;
}

/* The lowest free fd numbers: the kernel gives new fds the lowest free
 * number, so those that are open after the loop is made are the loop's. */
static int free_fds(int *out, int max)
{
	int n = 0;

	for (int fd = 0; fd < 65536 && n < max; fd++)
		if (sys_fcntl(fd, F_GETFD, 0) == -EBADF)
			out[n++] = fd;
	return n;
}

static void mark_own_fds(struct hub *h, const int *was_free, int n)
{
	hub_own_lock();
	for (int i = 0; i < n; i++) {
		/* Those the wrappers did not take high (no preload). */
		if (sys_fcntl(was_free[i], F_GETFD, 0) >= 0) {
			own_add(was_free[i], OWN_OTHER, h);
			h->n_own_fds++;
		}
	}
	hub_own_unlock();
}

void hub_forget_own_fd(int fd)
{
	struct own_slot *sl;

	hub_own_lock();
	if ((sl = own_find(fd)) != NULL)
		own_release(sl);
	hub_own_unlock();
}

static void unmark_own_fds(struct hub *h)
{
	hub_own_lock();
	for (int i = 0; i < OWN_FDS_MAX; i++)
		if (atomic_load(&own_fds[i].used) && own_fds[i].hub == h &&
		    own_fds[i].kind != OWN_MONITOR)
			own_release(&own_fds[i]);
	hub_own_unlock();
	h->n_own_fds = 0;
}

/* In a fork child: only h's OS thread is left. The other hubs' fds are
 * copies of the parent's, for loops that no thread runs here: closed.
 * The locks as if nobody held them (the holder may have been another
 * thread). */
static atomic_flag move_lock = ATOMIC_FLAG_INIT; /* hub_move_own_fd */

static void own_fork_child(struct hub *h)
{
	atomic_flag_clear(&own_lock);
	atomic_flag_clear(&move_lock);
	for (int i = 0; i < atomic_load(&n_own_fds); i++) {
		struct own_slot *sl = &own_fds[i];

		if (atomic_load(&sl->used) && sl->hub != NULL && sl->hub != h) {
			arch_syscall3(SYS_close, atomic_load(&sl->fd), 0, 0);
			own_release(sl);
		}
	}
}

/* ---- moving the runtime's fds out of a program's dup2 --------------------
 *
 * A program may dup2 over any number, the runtime's own included (they
 * are not open to it natively). The runtime then keeps using the same
 * open file description under a new number (hub_own_dup) and lets the
 * program's dup2 replace the old one. Whoever used the old number must
 * have switched before the dup2:
 *  - writers of a hub's wake-up eventfd (any thread, signal handlers) read
 *    wake_fd inside wake_users: once the new number is published and
 *    wake_users is seen at 0, no write can reach the old one;
 *  - the hub's loop, which only its OS thread runs, and always one
 *    iteration at a time (EVRUN_ONCE or EVRUN_NOWAIT): the mover leaves a
 *    request (move_wake, move_backend), wakes the hub, and waits only
 *    while the hub is inside ev_run. The hub takes the request up at its
 *    next hub_poll, before ev_run: the wake watcher follows its fd, and
 *    ev_loop_fork() has libev make its epoll set again first thing, so the
 *    old number's registration, stale now, goes with the old set. libev's
 *    close of its old epoll fd closes the number the runtime holds in its
 *    place (hub_close_redirect): the old number is the program's.
 * A hub's set for exceptional conditions (fdwait.c) moves as the wake-up
 * eventfd does: its users, all on the hub's OS thread, read its number
 * inside exc_users, and its watcher follows it before the loop runs again.
 * The control socket and the monitor's fd have their own protocols
 * (control.c, monitor.c).
 *
 * Locks: move_lock orders movers among themselves and is held across a
 * whole move; own_lock only for moments (the hub's own thread takes it
 * inside ev_run, so no one waits for a hub while holding it); the
 * monitor's hubs lock is taken after move_lock and before own_lock, as
 * the monitor itself takes them. */

static void hub_take_move(struct hub *h)
{
	bool wake, backend, exc;

	/* Every loop iteration comes here: plain loads first, the exchanges
	 * only when a move waits. */
	if (!atomic_load(&h->move_wake) && !atomic_load(&h->move_backend) &&
	    !atomic_load(&h->move_exc))
		return;
	wake = atomic_exchange(&h->move_wake, false);
	backend = atomic_exchange(&h->move_backend, false);
	exc = atomic_exchange(&h->move_exc, false);

	if (wake) {
		ev_ref(h->loop);
		ev_io_stop(h->loop, &h->wake_w);
		ev_io_set(&h->wake_w, atomic_load(&h->wake_fd), EV_READ);
		ev_io_start(h->loop, &h->wake_w);
		ev_unref(h->loop);
	}
	if (exc) {
		bool on = ev_is_active(&h->exc_w);

		if (on)
			ev_io_stop(h->loop, &h->exc_w);
		ev_io_set(&h->exc_w, atomic_load(&h->exc_fd), EV_READ);
		if (on)
			ev_io_start(h->loop, &h->exc_w);
	}
	if (wake || backend || exc)
		ev_loop_fork(h->loop);
}

/* The kernel has no epoll_pwait2 (before Linux 5.11): libev's milliseconds. */
static atomic_bool no_pwait2;

int hub_loop_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms)
{
	struct hub *me = hub_peek(), *h = me;
	struct own_slot *s = own_find(epfd);
	int64_t end = GS_NO_DEADLINE;
	unsigned long signals = me != NULL ? me->program_signals : 0;
	long r;

	if (s == NULL || s->kind != OWN_BACKEND || s->hub != me ||
	    atomic_load_explicit(&no_pwait2, memory_order_relaxed))
		h = NULL; /* not the calling hub's loop, or no pwait2: as asked */
	if (timeout_ms >= 0)
		end = gs_now_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		int64_t at = h != NULL && h->precise_at < end ? h->precise_at : end;

		if (h == NULL || at == GS_NO_DEADLINE) {
			r = arch_syscall6(SYS_epoll_pwait, epfd, (long)ev, max, timeout_ms, 0, 0);
		} else {
			int64_t left = at - gs_now_ns();
			struct timespec ts = { 0, 0 };

			if (left > 0) {
				ts.tv_sec = left / 1000000000;
				ts.tv_nsec = left % 1000000000;
			}
			r = arch_syscall6(SYS_epoll_pwait2, epfd, (long)ev, max, (long)&ts, 0, 0);
			if (r == -ENOSYS) {
				atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
				h = NULL;
				continue;
			}
		}
		/* The tick interrupts it, and is no signal of the program's:
		 * the wait goes on, to the same end (as asked, without
		 * pwait2). */
		if (r != -EINTR || me == NULL || me->program_signals != signals)
			break;
	}
	if (h != NULL && h->precise_at <= gs_now_ns())
		h->precise_at = GS_NO_DEADLINE;
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static int hub_poll(struct hub *h, int flags)
{
	int r;

	atomic_store(&h->in_loop, true);
	hub_take_move(h);
	sigmask_follow_waits(h);
	r = ev_run(h->loop, flags);
	atomic_store(&h->in_loop, false);
	return r;
}

static void hub_take_posts(struct hub *h);

/* Before an idle scheduler hub sleeps: up to HUB_SPIN_NS for another hub's
 * post (its wake_sent), whose wake-up then costs no sleep in the kernel,
 * and no eventfd write or read (wake_post; runtime.h says when, and what
 * it costs). */
static bool hub_spin(struct hub *h)
{
	int64_t until;
	bool posted = false;

	if (HUB_SPIN_NS == 0 || !h->sched || sched_hubs() == 1)
		return false;
	until = gs_now_ns() + HUB_SPIN_NS;
	atomic_store(&h->spinning, true);
	do {
		for (int i = 0; i < 64 && !posted; i++) {
			posted = atomic_load_explicit(&h->wake_sent, memory_order_relaxed);
			__builtin_ia32_pause();
		}
	} while (!posted && gs_now_ns() < until);
	/* A poster that saw spinning set wrote no eventfd: seen here. */
	atomic_store(&h->spinning, false);
	return posted || atomic_load(&h->wake_sent);
}

static void wake_write(struct hub *h)
{
	static const uint64_t one = 1;

	arch_syscall3(SYS_write, atomic_load(&h->wake_fd), (long)&one, sizeof one);
}

/* The first poster since h last looked: a write to h's eventfd, unless h
 * spins for it (it looks at wake_sent after it stops: hub_spin). */
static void wake_post(struct hub *h)
{
	if (!atomic_exchange(&h->wake_sent, true) && !atomic_load(&h->spinning))
		wake_write(h);
}

void hub_wake(struct hub *h)
{
	if (atomic_load_explicit(&h->wake_sent, memory_order_relaxed))
		return;
	atomic_fetch_add(&h->wake_users, 1);
	wake_post(h);
	atomic_fetch_sub(&h->wake_users, 1);
}

/* A post from another OS thread to one of h's lock-free lists (claimed
 * waits, threads to adopt, release or free), between post_begin and
 * post_end. h cannot go (hub_destroy) while the thing posted is pending;
 * once h has taken it, it could, and the poster still writes h's
 * eventfd: so the poster counts itself among h's wake_users from before
 * the push, which hub_destroy waits out. */
static void post_begin(struct hub *h)
{
	atomic_fetch_add(&h->wake_users, 1);
}

static void post_end(struct hub *h)
{
	wake_post(h);
	atomic_fetch_sub(&h->wake_users, 1);
}

int hub_close_redirect(int fd)
{
	struct hub *h = making_hub();
	int to = fd;

	if (h == NULL || fd != h->backend_libev)
		return fd;
	h->backend_libev = -1;
	hub_own_lock();
	for (int i = 0; i < atomic_load(&n_own_fds); i++) {
		struct own_slot *sl = &own_fds[i];

		if (atomic_load(&sl->used) && sl->hub == h && sl->kind == OWN_BACKEND &&
		    atomic_load(&sl->fd) != fd) {
			to = atomic_load(&sl->fd);
			own_release(sl);
			break;
		}
	}
	hub_own_unlock();
	return to;
}

/* An fd its users read inside a count of them (the wake-up eventfd's
 * writers, the set for exceptional conditions' users) has the number to:
 * none uses the old one once this returns. */
static void publish_move(atomic_int *fd, atomic_int *users, int to)
{
	atomic_store(fd, to);
	while (atomic_load(users) != 0)
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
}

/* Under own_lock: the new number is the slot's at once, so that a close
 * by libev meanwhile (hub_close_redirect) finds it. */
static int move_loop_fd(struct own_slot *sl, int fd)
{
	struct hub *h = sl->hub;
	int to = hub_own_dup(fd);

	if (to < 0)
		return to;
	if (sl->kind == OWN_WAKE) {
		publish_move(&h->wake_fd, &h->wake_users, to);
		atomic_store(&h->move_wake, true);
	} else if (sl->kind == OWN_EXC) {
		publish_move(&h->exc_fd, &h->exc_users, to);
		atomic_store(&h->move_exc, true);
	} else {
		atomic_store(&h->move_backend, true);
	}
	return to;
}

int hub_move_own_fd(int fd)
{
	struct own_slot *sl;
	struct hub *h = NULL;
	int to = 0, kind = 0;

	while (atomic_flag_test_and_set_explicit(&move_lock, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
	hub_own_lock();
	sl = own_find(fd);
	if (sl != NULL) {
		kind = sl->kind;
		h = sl->hub;
		if (kind == OWN_BACKEND || kind == OWN_WAKE || kind == OWN_EXC)
			to = move_loop_fd(sl, fd);
	}
	hub_own_unlock();
	switch (kind) {
	case 0:
		break; /* not the runtime's (any more) */
	case OWN_BACKEND:
	case OWN_WAKE:
	case OWN_EXC:
		if (to < 0)
			break;
		hub_wake(h);
		/* The hub leaves ev_run after one iteration; out of it, it
		 * takes the request up before it enters again. */
		while ((atomic_load(&h->move_wake) || atomic_load(&h->move_backend) ||
			atomic_load(&h->move_exc)) &&
		       atomic_load(&h->in_loop))
			arch_syscall3(SYS_sched_yield, 0, 0, 0);
		break;
	case OWN_MONITOR:
		to = monitor_move_fd(h, fd);
		break;
	case OWN_CONTROL:
		to = control_move_fd(fd);
		break;
	default:
		to = -EBUSY;
	}
	atomic_flag_clear_explicit(&move_lock, memory_order_release);
	return to < 0 ? to : 0;
}

/* tls_hub is initial-exec: at the same offset from every thread
 * pointer. */
static inline long tls_hub_offset(void)
{
	return (char *)&tls_hub - (char *)arch_tp_get();
}

void hub_tls_adopt(void *tp, struct hub *h)
{
	*(struct hub **)((char *)tp + tls_hub_offset()) = h;
}

struct hub *hub_peek(void)
{
	return tls_hub;
}

/* ---- what preload/ may know of a hub (runtime.h) ------------------------ */

bool hub_exit_ends_os_thread(const struct hub *h)
{
	return h->current == h->hub_green ||
	       (h->current == h->root && h->ngreen == 1 && h->tid != getpid());
}

int hub_os_tid(const struct hub *h)
{
	return h->tid;
}

int hub_pid(const struct hub *h)
{
	return h->pid;
}

void hub_handler_begin(struct hub *h, struct handler_frame *f, uint64_t extra, uint64_t *kmask)
{
	struct green *g = h->current;

	h->program_signals++;
	f->up = h->frames;
	h->frames = f;
	f->g = NULL;
	if (g != h->hub_green && g->state == GREEN_RUNNING && kmask != NULL) {
		f->g = g;
		f->at_entry = *kmask;
		f->old = sigmask_handler_enter(h, g, extra, kmask);
	}
}

void hub_handler_end(struct hub *h, struct handler_frame *f, uint64_t *kmask)
{
	/* The handler may have waited; its thread does not move to another
	 * hub meanwhile (may_move): h is its hub still. */
	if (f->g != NULL)
		sigmask_handler_leave(h, f->g, f->old, f->at_entry, kmask);
	h->frames = f->up;
}

/* Does a jump to sp leave f? Yes where f is deeper on the stack sp is on,
 * or on another stack (sigaltstack's, or sp's is the thread's own). */
static bool jump_leaves(const struct green *g, const struct handler_frame *f, uintptr_t sp)
{
	uintptr_t a = (uintptr_t)f, lo = (uintptr_t)g->stack.lo, hi = (uintptr_t)g->stack.hi;

	if (lo != 0 && (a >= lo && a < hi) != (sp >= lo && sp < hi))
		return true;
	return a < sp;
}

void hub_handlers_left(struct hub *h, uintptr_t sp)
{
	/* The thread's mask stays the handler's, as the kernel's does, unless
	 * the jump puts back one it saved (preload/signal.c). */
	while (h->frames != NULL && jump_leaves(h->current, h->frames, sp))
		h->frames = h->frames->up;
}

bool hub_in_handler(const struct hub *h)
{
	return h->frames != NULL;
}

struct green *hub_kill_target(const struct hub *h)
{
	return h->kill_target;
}

void hub_set_stuck_hook(void (*hook)(struct hub *))
{
	stuck_hook = hook;
}

uint64_t hub_new_green_id(void)
{
	return atomic_fetch_add_explicit(&next_green_id, 1, memory_order_relaxed);
}

void hub_link_green(struct hub *h, struct green *g)
{
	g->hub = h;
	if (g->id == 0)
		g->id = hub_new_green_id();
	g->all_prev = NULL;
	g->all_next = h->all;
	if (h->all != NULL)
		h->all->all_prev = g;
	h->all = g;
	h->ngreen++;
	h->nrunning++;
	if (GS_UNLIKELY(h->ngreen == 2))
		hub_threaded(h);
}

/* Made now, not when first needed: a new fd takes the lowest free number
 * until it is moved out of the way (place_high). Made while the program
 * ran on another hub, it would take for a moment a number the program had
 * just closed, and the program's select, fcntl or dup would see it open
 * (a CI run of 2026-12-07: select on a closed fd did not fail with EBADF,
 * as the monitor opened its files at its first sample of the other hub;
 * tests/preload/fd_reuse.c). */
void hub_make_kept_fds(struct hub *h)
{
	fdw_make_exc(h);
	monitor_open_files(h);
}

void hub_threaded(struct hub *h)
{
	/* An extra hub's were made at its start (sched.c); here the caller
	 * is the program's only thread. */
	if (!h->idle_root)
		hub_make_kept_fds(h);
	monitor_green_added();
	/* First the stack the caught calls' handler takes (SA_ONSTACK). */
	if (h->altstack == NULL)
		h->altstack = overflow_altstack_start();
	trap_hub_start(h);
}

static void post_green(struct hub *h, _Atomic(struct green *) *list, struct green *g);

/* The end of a period of h's stack pool (stack.c): the timer runs while
 * some class has more warm stacks than it keeps for ever. It keeps nothing
 * alive: a hub whose threads all wait on each other is still stuck. */
static void stack_decay_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hub *h = w->data;

	(void)revents;
	if (!stack_pool_decay(&h->stacks)) {
		ev_ref(loop);
		ev_timer_stop(loop, w);
	}
}

void hub_stack_put(struct hub *h, const struct stack *st)
{
	stack_put(&h->stacks, st);
	if (!ev_is_active(&h->stack_decay) && stack_pool_excess(&h->stacks)) {
		stack_pool_period(&h->stacks);
		ev_timer_again(h->loop, &h->stack_decay);
		ev_unref(h->loop);
	}
}

static void stack_decay_stop(struct hub *h)
{
	if (ev_is_active(&h->stack_decay)) {
		ev_ref(h->loop);
		ev_timer_stop(h->loop, &h->stack_decay);
	}
}

/* The second half of a release, on g's home hub: its TLS and stack go
 * back to the pools they came from. */
static void free_green(struct hub *h, struct green *g)
{
	tls_release(h, g);
	ctx_release(&g->ctx);
#ifdef GS_ASAN
	/* The frames g never returned from (its last switch) keep their
	 * redzones, which the stack's next thread would run into. */
	if (g->asan_size != 0 && g->state == GREEN_DEAD) {
		char *top = (char *)g->asan_bottom + g->asan_size;

		__asan_unpoison_memory_region(g->ctx.sp, (size_t)(top - (char *)g->ctx.sp));
	}
#endif
	if (!(g->flags & GREEN_USER_STACK)) {
		struct stack st = g->stack; /* g lives on this stack */

		hub_stack_put(h, &st);
	} else {
		/* g lives on the program's memory: the thread that released
		 * it waits for this (green.c), and may reuse it once woken. */
		struct wait *w = g->join_wait;

		stack_disown(&g->stack);
		if (w != NULL)
			wait_complete(w, 0);
	}
}

/* g leaves h's list of threads (released, or moved to another hub). */
static void unlink_green(struct hub *h, struct green *g)
{
	if (g->all_prev != NULL)
		g->all_prev->all_next = g->all_next;
	else
		h->all = g->all_next;
	if (g->all_next != NULL)
		g->all_next->all_prev = g->all_prev;
	h->ngreen--;
	/* The hub's context may run on g's TLS (hub_load_tls), which goes
	 * now: released, its DTV is freed and its block may be a new
	 * thread's; moved, it is in use on another OS thread. */
	if (h->fs == g->tp && (g->flags & GREEN_OWN_TLS))
		tls_hub_park(h);
}

void hub_release_green(struct hub *h, struct green *g)
{
	struct hub *home = sched_home(g);

	unlink_green(h, g);
	sigmask_tsig_free(g);
	if (home != h)
		post_green(home, &home->freed, g);
	else
		free_green(h, g);
}

static void hub_reap(struct hub *h)
{
	struct green *z = h->zombie;

	h->zombie = NULL;
	hub_release_green(h, z);
}

#ifdef GS_CHECK_INVARIANTS
void gs_invariant_failed(const char *what, const char *file, int line)
{
	char msg[256];
	int n = snprintf(msg, sizeof msg, "greenshim: invariant broken at %s:%d: %s\n", file, line,
			 what);

	sys_write(STDERR_FILENO, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	abort();
}
#endif

/* g into the run queue behind `after` (at its head if NULL). */
static inline void runq_insert(struct hub *h, struct green *after, struct green *g)
{
	GS_INVARIANT(g->state == GREEN_READY && g->hub == h,
		     "a green in the run queue is READY, in its own hub's");
#ifdef GS_CHECK_INVARIANTS
	GS_INVARIANT(!(g->flags & GREEN_IN_RUNQ), "a READY green is in the run queue exactly once");
	g->flags |= GREEN_IN_RUNQ;
#endif
	g->since = h->last_poll;
	if (after != NULL) {
		g->next = after->next;
		after->next = g;
	} else {
		g->next = h->runq_head;
		h->runq_head = g;
	}
	if (h->runq_tail == after)
		h->runq_tail = g;
	h->runq_len++;
}

void hub_runq_push(struct hub *h, struct green *g)
{
	runq_insert(h, h->runq_tail, g);
}

/* g, woken, goes behind the threads woken before it, ahead of the rest. */
static void runq_push_woken(struct hub *h, struct green *g)
{
	runq_insert(h, h->runq_woken, g);
	h->runq_woken = g;
}

/* With GREENSHIM_PREEMPT_MS=0, how long woken threads may run while
 * others (that yielded, or are new) wait behind them. */
#define RUNQ_WOKEN_AHEAD_NS 2000000

/* Queued threads below which runq_prefetch does nothing: a few dozen
 * threads' lines stay in the caches between their turns, and the
 * prefetches then only cost (1-2 ns a yield with ten yielding threads). */
#define RUNQ_PREFETCH_MIN 32

/* The offset from a thread pointer of errno, the same in every TLS of the
 * process (libc's block is in the static TLS): set by the first hub. */
static long tp_errno_off;

/* Brings in, while g runs, what the threads queued behind it read first
 * when they run. With a thousand threads taking turns, each one's state
 * has left the caches since it last ran, and a switch to it waited for
 * each line in turn: in `perf annotate` of the echo demo at 1,000
 * connections, the library's costliest instructions were the loads of
 * next->next in runq_pop and of next's saved stack pointer and first
 * saved register in ctx_switch, and __errno_location's load of the
 * thread pointer's first word (glibc's descriptor header). So, two steps
 * ahead: the second thread behind g gets the first line of its struct
 * green (runtime.h: what a switch to it and its wake-up touch); the first
 * thread behind g, whose line came in when g's predecessor ran, gets its
 * saved registers (the 64 bytes at its saved stack pointer, on one or two
 * lines) and three lines of its TLS: the descriptor header (with the
 * stack protector's canary), errno and tls_hub. Measured on 2026-12-04
 * (docs/BENCHMARKS.md, *The demo*). Also bringing in the kilobyte of
 * stack above the saved registers (the frames a return from a wait
 * reads) cost up to a third more per yield with 1,000 yielding threads
 * and showed nothing in the demo. */
static inline void runq_prefetch(const struct hub *h, const struct green *g)
{
	const struct green *n1 = g->next;
	const char *tp;

	if (h->runq_len < RUNQ_PREFETCH_MIN || n1 == NULL)
		return;
	if (n1->next != NULL)
		gs_prefetch(n1->next);
	gs_prefetch(n1->ctx.sp);
	gs_prefetch((const char *)n1->ctx.sp + 64);
	tp = n1->tp;
	gs_prefetch(tp);
	gs_prefetch(tp + __atomic_load_n(&tp_errno_off, __ATOMIC_RELAXED));
	gs_prefetch(tp + tls_hub_offset());
}

/* How long woken threads may run while others wait behind them. */
static int64_t woken_ahead_max(void)
{
	return gs_config.preempt_ns > 0 ? gs_config.preempt_ns : RUNQ_WOKEN_AHEAD_NS;
}

static struct green *runq_pop(struct hub *h)
{
	struct green *g = h->runq_head, *prev = NULL;

	if (g == NULL)
		return NULL;
	if (h->runq_woken == NULL) {
		h->woken_ahead_since = 0; /* the head is one of those behind */
	} else if (h->runq_woken->next != NULL) {
		/* Woken threads ahead of others: after a tick of them, the
		 * first behind goes first. */
		int64_t now = gs_now_ns();

		if (h->woken_ahead_since == 0) {
			h->woken_ahead_since = now;
		} else if (now - h->woken_ahead_since >= woken_ahead_max()) {
			prev = h->runq_woken;
			g = prev->next;
			h->woken_ahead_since = 0;
		}
	}
	runq_prefetch(h, g);
	if (prev != NULL)
		prev->next = g->next;
	else
		h->runq_head = g->next;
	if (h->runq_tail == g)
		h->runq_tail = prev;
	if (h->runq_woken == g)
		h->runq_woken = NULL;
	h->runq_len--;
#ifdef GS_CHECK_INVARIANTS
	GS_INVARIANT((g->flags & GREEN_IN_RUNQ) && g->state == GREEN_READY,
		     "a green leaves the run queue READY");
	g->flags &= ~GREEN_IN_RUNQ;
#endif
	return g;
}

void hub_unpark(struct green *g)
{
	struct hub *h = g->hub;

	h->nparked--;
	g->state = GREEN_READY;
	g->flags &= ~GREEN_PREEMPTED;
	runq_push_woken(h, g);
}

#ifdef GS_ASAN
/* ASan must know which stack runs: announce the switch before it, and
 * learn the bounds of the stack we came from after it (the root's, which
 * we did not allocate, are only known that way). */
static void asan_before(struct hub *h, struct green *cur, struct green *next)
{
	h->switch_from = cur;
	__sanitizer_start_switch_fiber(cur->state == GREEN_DEAD ? NULL : &cur->asan_fake,
				       next->asan_bottom, next->asan_size);
}

static void asan_after(struct hub *h, void *fake)
{
	struct green *from = h->switch_from;
	const void *bottom;
	size_t size;

	__sanitizer_finish_switch_fiber(fake, &bottom, &size);
	if (from != NULL && from->asan_size == 0) {
		from->asan_bottom = bottom;
		from->asan_size = size;
	}
}
#endif

void hub_first_run(struct hub *h)
{
#ifdef GS_ASAN
	asan_after(h, NULL);
#endif
	if (h->zombie != NULL)
		hub_reap(h);
	errno = 0;
}

/* errno is saved across a switch only for the contexts whose TLS another
 * context may use meanwhile: the root and the hub's (they share the OS
 * thread's), every green one with GREENSHIM_TLS=shared, and every one
 * when the hub's context rides (TLS_LDT, TLS_SLOW: it then runs on the
 * TLS of the thread it came from, below). */
static inline bool shares_tls(const struct green *g)
{
	return !(g->flags & GREEN_OWN_TLS) || tls_hub_rides();
}

/* Loads next's thread pointer if it is not loaded. With the LDT's
 * selectors and with arch_prctl (tls_hub_rides), the hub's context takes
 * none: it runs on whatever TLS is loaded, whose only runtime variable,
 * tls_hub, is the same in every TLS of the hub, and a hand-off between two
 * contexts through the hub costs one load instead of two. (Riding with
 * WRFSBASE alone saved nothing measurable in gs-microbench's switch and
 * hand-off, 2026-12-04: it stays off there.) */
static inline void hub_load_tls(struct hub *h, struct green *next)
{
	if (GS_LIKELY(next->tp == h->fs) || (tls_hub_rides() && next == h->hub_green))
		return;
	tls_load(next);
	h->fs = next->tp;
}

/* The only place a context is left and resumed. */
static void hub_switch(struct hub *h, struct green *cur, struct green *next)
{
	struct handler_frame *frames;

	GS_INVARIANT(cur == h->current && next->hub == h && hub_peek() == h,
		     "one context of a hub runs at a time, on the hub's OS thread");
	GS_INVARIANT(next->state != GREEN_DEAD && next->state != GREEN_PARKED,
		     "only a context that can run is switched to");
	GS_INVARIANT(gs_locks_held == 0 && gs_posts_held == NULL,
		     "no gsync lock is held across a switch");
	GS_INVARIANT(cur == h->hub_green || !osthread_is_runtime(),
		     "a thread never switches inside the runtime's call into a library");
	if (shares_tls(cur))
		cur->saved_errno = errno;
	next->state = GREEN_RUNNING;
	next->switches++;
	h->current = next;
	h->switches++;
	if (GS_UNLIKELY(__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED)))
		introspect_account(h, cur, next);
	/* Leaving a handler that waits: cur's mask is the handler's, which
	 * the others do not share (sigmask_handler_enter). */
	if (GS_UNLIKELY(h->frames != NULL) && !h->masks)
		sigmask_recount(h);
	if (GS_UNLIKELY(h->masks))
		sigmask_switch(h, next);
#ifdef GS_ASAN
	asan_before(h, cur, next);
#endif
	hub_load_tls(h, next);
	/* A call let through by trap.c catches none after it. */
	if (GS_UNLIKELY(h->trap_sel != h->trap_on))
		h->trap_sel = h->trap_on;
	/* A program's handler that waits (sigsuspend in it) is in progress
	 * on cur's context alone: the others run outside it. */
	frames = h->frames;
	h->frames = NULL;
	ctx_switch(&cur->ctx, &next->ctx);
	/* Resumed: cur runs again, on its hub, which is another when it was
	 * preempted and moved (sched_share). */
	h = cur->hub;
	h->frames = frames;
#ifdef GS_ASAN
	asan_after(h, cur->asan_fake);
#endif
	if (h->zombie != NULL)
		hub_reap(h);
	if (shares_tls(cur))
		errno = cur->saved_errno;
}

/* Every HUB_POLL_EVERY direct switches: is it time to poll the loop
 * (hub_impl.h)? */
static bool poll_due(const struct hub *h)
{
	int64_t waited = gs_now_ns() - h->last_poll;

	return waited >= HUB_POLL_INTERVAL_NS &&
	       (h->since_poll >= h->poll_round || waited >= HUB_POLL_ROUND_MAX_NS);
}

void hub_switch_out(struct hub *h, struct green *cur)
{
	struct green *next = NULL;

	if (h->runq_head != NULL &&
	    (GS_LIKELY(++h->since_poll % HUB_POLL_EVERY != 0) || !poll_due(h)))
		next = runq_pop(h);
	if (next == NULL)
		next = h->hub_green;
	if (next != cur)
		hub_switch(h, cur, next);
	else
		cur->state = GREEN_RUNNING;
}

void hub_preempt(struct hub *h, struct green *cur)
{
	/* Straight to the hub, which polls first and queues cur after the
	 * threads the poll made ready: a timed wait that has just ended runs
	 * before the thread that kept it waiting. */
	cur->state = GREEN_READY;
	cur->flags |= GREEN_PREEMPTED;
	h->preempted = cur;
	hub_switch(h, cur, h->hub_green);
}

void hub_requeue(struct hub *h, struct green *cur)
{
	cur->state = GREEN_READY;
	cur->flags &= ~GREEN_PREEMPTED;
	hub_runq_push(h, cur);
}

void hub_yield_polling(struct hub *h, struct green *cur)
{
	hub_requeue(h, cur);
	hub_switch(h, cur, h->hub_green);
}

void hub_hand_over(struct hub *h, struct green *cur, struct hub *t)
{
	cur->state = GREEN_READY;
	h->preempted = cur;
	h->move_to = t;
	hub_switch(h, cur, h->hub_green);
}

/* h leaves the stuck state it was counted in (sched.c). */
static void hub_unstuck(struct hub *h)
{
	if (h->stuck_counted) {
		h->stuck_counted = false;
		sched_stuck_end();
	}
}

static void stuck_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* h completed the set of stuck hubs: it waits STUCK_GRACE_NS for a
 * wake-up (which counts it out: hub_take_posts), and says whether none
 * came. */
static bool stuck_grace(struct hub *h)
{
	ev_timer grace;

	ev_timer_init(&grace, stuck_grace_cb, (double)STUCK_GRACE_NS / 1e9, 0.);
	ev_timer_start(h->loop, &grace);
	while (ev_is_active(&grace) && h->stuck_counted && h->runq_head == NULL)
		hub_poll(h, EVRUN_ONCE); /* also ends when a signal interrupts it */
	ev_timer_stop(h->loop, &grace);
	return h->stuck_counted && h->runq_head == NULL;
}

static void hub_stuck(struct hub *h)
{
	if (h->sched && sched_hubs() > 1) {
		unsigned long epoch;

		/* Stuck together with every other hub: a thread here may
		 * wait for one there, so only the whole process can be. */
		if (!h->stuck_counted && atomic_load(&h->remote_pending) == 0) {
			h->stuck_counted = true;
			if (sched_stuck_begin(&epoch) && stuck_hook != NULL && stuck_grace(h) &&
			    sched_stuck_confirm(epoch))
				stuck_hook(h);
		}
	} else if (!h->stuck_reported && h->nparked > 0 && h->ngreen > 1 &&
		   atomic_load(&h->remote_pending) == 0 && sched_hubs() == 1) {
		/* A hub with no green thread but its root belongs to an OS
		 * thread that waits as a real thread would (one that a
		 * library made behind greenshim's back: jemalloc's
		 * background thread); another OS thread may well wake it.
		 * Only green threads stuck together are reported, and
		 * never those of a hub beside the scheduler's several. */
		h->stuck_reported = true;
		if (stuck_hook != NULL)
			stuck_hook(h);
	}
	if (h->runq_head == NULL) {
		/* Nothing local can wake anyone; wait for another OS thread. */
		ev_ref(h->loop);
		hub_poll(h, EVRUN_ONCE);
		ev_unref(h->loop);
	}
	hub_unstuck(h);
}

static void hub_main(void *arg)
{
	struct hub *h = arg;

	hub_first_run(h);
	for (;;) {
		struct green *g;

		if (h->zombie != NULL)
			hub_reap(h);
		if (h->nrunning == 0 && hub_ended(h)) {
			/* The root ended (pthread_exit from main) and so did
			 * every other thread: the OS thread ends, as natively. */
			end_hook(h);
		}
		h->since_poll = 0;
		h->last_poll = gs_now_ns();
		h->loops++;
		if (h->runq_head != NULL || h->preempted != NULL) {
			hub_poll(h, EVRUN_NOWAIT);
		} else {
			/* Spin only after a sleep that another hub's post
			 * ended (hub_take_posts): threads handing work
			 * across. */
			bool spin = h->spin_next, woke;

			/* Idle: another hub may hand a thread over. */
			if (h->sched)
				atomic_store_explicit(&h->idle_since, gs_now_ns(),
						      memory_order_relaxed);
			atomic_store_explicit(&h->idle, h->sched, memory_order_relaxed);
			h->spin_next = false;
			if (spin && hub_spin(h)) {
				/* Posted while it spun: perhaps with no
				 * eventfd write (wake_post). */
				hub_take_posts(h);
				hub_poll(h, EVRUN_NOWAIT);
			} else {
				woke = hub_poll(h, EVRUN_ONCE);
				if (!woke && h->runq_head == NULL)
					hub_stuck(h);
			}
			/* Before the look at wake_sent below (preempt_kick). */
			atomic_store(&h->idle, false);
		}
		/* Posted while the poll ran, after epoll_wait had looked: taken
		 * now, not when a thread next lets the hub poll. A poster that
		 * saw in_loop still set sent no kick (preempt_kick). */
		if (atomic_load(&h->wake_sent))
			hub_take_posts(h);
		h->poll_round = h->runq_len;
		if (h->preempted != NULL) {
			struct hub *t = h->move_to;

			g = h->preempted;
			h->preempted = NULL;
			h->move_to = NULL;
			/* It would wait here behind others: to an idle hub. */
			if (t != NULL)
				hub_move_green(h, g, t);
			else if (h->runq_head == NULL || !sched_share(h, g))
				hub_runq_push(h, g);
		}
		g = runq_pop(h);
		if (g != NULL) {
			h->stuck_reported = false;
			if (!h->timer_armed)
				preempt_arm(h);
			hub_switch(h, h->hub_green, g);
		}
	}
}

static void hub_signal_deliver(struct hub *h);

void hub_post_close(struct hub *h, int fd, unsigned gen)
{
	struct close_msg *m = gs_malloc(sizeof *m), *head;

	if (m == NULL)
		return;
	m->fd = fd;
	m->gen = gen;
	head = atomic_load(&h->closed);
	do
		m->next = head;
	while (!atomic_compare_exchange_weak(&h->closed, &head, m));
	hub_wake(h);
}

static void take_closes(struct hub *h)
{
	struct close_msg *m, *next;

	for (m = atomic_exchange(&h->closed, NULL); m != NULL; m = next) {
		next = m->next;
		fdw_close_seen(h, m->fd, m->gen);
		gs_free(m);
	}
}

static void free_closes(struct hub *h)
{
	struct close_msg *m, *next;

	for (m = atomic_exchange(&h->closed, NULL); m != NULL; m = next) {
		next = m->next;
		gs_free(m);
	}
}

/* Pushes m, ready, on h's list of signals posted and wakes h. */
static void push_kill(struct hub *h, struct kill_msg *m)
{
	struct kill_msg *head = atomic_load_explicit(&h->kills, memory_order_relaxed);

	post_begin(h);
	do
		m->next = head;
	while (!atomic_compare_exchange_weak_explicit(&h->kills, &head, m, memory_order_release,
						      memory_order_relaxed));
	/* The wake-up first, then the look at whether h runs a thread
	 * (preempt_kick): h, leaving its loop, looks at wake_sent after it
	 * says so (hub_main), so one of the two sees the other. */
	wake_post(h);
	preempt_kick(h);
	atomic_fetch_sub(&h->wake_users, 1); /* post_end's second half */
}

/* A standard signal that the last post to h sent the same thread, not
 * yet taken, is pending already: the kernel would merge the two
 * (take_kills, merged), and this one costs nothing. The key is written
 * before the message is pushed, and take_kills clears it after it takes
 * the list, before it delivers: a key seen names a message that is
 * delivered after the look. A loop of pthread_kill to another hub's
 * thread made and freed a message per call, and the two hubs' OS threads
 * met on malloc's arena lock: under load a hub waited 100 ms in futex
 * (hubs kill_storm beside three busy loops, 2 runs in 20, 2026-12-07). */
int hub_post_kill_id(struct hub *h, struct green *g, uint64_t id, int sig, const siginfo_t *si)
{
	uint64_t key = si == NULL && sig > 0 && sig < 32 ? id * 64 + (uint64_t)sig : 0;
	struct kill_msg *m;

	if (key != 0 && atomic_load(&h->kill_last) == key)
		return 0;
	m = gs_malloc(sizeof *m);
	if (m == NULL)
		return -EAGAIN;
	m->g = g;
	m->id = id;
	m->sig = sig;
	m->queued = si != NULL;
	if (si != NULL)
		m->info = *si;
	if (key != 0)
		atomic_store(&h->kill_last, key);
	push_kill(h, m);
	return 0;
}

int hub_post_kill(struct hub *h, struct green *g, int sig, const siginfo_t *si)
{
	return hub_post_kill_id(h, g, g->id, sig, si);
}

/* post to g's hub, read under g's join lock: a move takes what was
 * posted before it (hub_move_green). */
static int post_to_home(struct green *g, int sig, const siginfo_t *si,
			int (*post)(struct hub *, struct green *, int, const siginfo_t *))
{
	int r;

	gsync_lock(&g->join_lock);
	r = post(g->hub, g, sig, si);
	gsync_unlock(&g->join_lock);
	return r;
}

int hub_post_kill_green(struct green *g, int sig, const siginfo_t *si)
{
	return post_to_home(g, sig, si, hub_post_kill);
}

/* The signals other hubs sent to this hub's threads, in the order sent,
 * each to the thread named if it is still one of this hub's. */
static void take_greens_handed_over(struct hub *h);

enum kill_fate { KILL_DROP, KILL_HOLD, KILL_FORWARDED };

/* What becomes of a signal for (g, id), which is not among h's threads:
 * held while a thread is on its way here, or while gid.c names h for it
 * (made for h by another hub, not yet handed over); forwarded to the hub
 * gid.c names, where it went since the sender looked (a sender that named
 * it by its kernel id, preload_tgkill, takes no lock against moves);
 * dropped if it has ended. */
static enum kill_fate fate_of(struct hub *h, const struct green *g, uint64_t id, struct hub **on)
{
	uint64_t now;
	struct green *live = gid_find((uint32_t)(id & GID_KEY_MASK), &now, on);

	if (atomic_load(&h->incoming) > 0)
		return KILL_HOLD;
	if (live != g || now != id || *on == NULL)
		return KILL_DROP;
	return *on == h ? KILL_HOLD : KILL_FORWARDED;
}

/* m, for a thread that is not among h's, while a thread is on its way
 * here (hub_move_green names h in g->hub before it hands g over: a
 * sender may post for g here first): held, after those held before,
 * until take_kills finds its thread. */
static void hold(struct hub *h, struct kill_msg *m)
{
	struct kill_msg **tail = &h->kills_held;

	while (*tail != NULL)
		tail = &(*tail)->next;
	m->next = NULL;
	*tail = m;
}

/* Standard signals sent to one thread before it took any are one pending
 * signal, as the kernel merges them (signal(7)); a batch of posts keeps
 * the first of each, which it checks against the last MERGE_SLOTS kept.
 * Without it a sender that posts in a loop from another CPU (tgkill's
 * SIGUSR1, 1 M a second) outran the hub that delivered each, and the
 * target thread ran nothing else (2026-12-07). */
#define MERGE_SLOTS 8

struct merge {
	const struct green *g[MERGE_SLOTS];
	uint64_t id[MERGE_SLOTS];
	int sig[MERGE_SLOTS];
	unsigned n;
};

/* Whether m repeats a standard signal kept; if not, keeps it. */
static bool merged(struct merge *k, const struct kill_msg *m)
{
	unsigned i;

	if (m->sig <= 0 || m->sig >= 32)
		return false; /* cancellation, real-time signals: each counts */
	for (i = 0; i < k->n && i < MERGE_SLOTS; i++)
		if (k->g[i] == m->g && k->id[i] == m->id && k->sig[i] == m->sig)
			return true;
	i = k->n++ % MERGE_SLOTS;
	k->g[i] = m->g;
	k->id[i] = m->id;
	k->sig[i] = m->sig;
	return false;
}

static void take_kills(struct hub *h)
{
	struct kill_msg *m, *rev = NULL, *next, **tail;
	struct merge kept = { .n = 0 };
	struct green *self = NULL;

	m = atomic_exchange(&h->kills, NULL);
	atomic_store(&h->kill_last, 0); /* after the take, before any delivery */
	for (; m != NULL; m = next) {
		next = m->next;
		m->next = rev;
		rev = m;
	}
	/* Those held, sent before, go first. */
	if (h->kills_held != NULL) {
		for (tail = &h->kills_held; *tail != NULL; tail = &(*tail)->next)
			;
		*tail = rev;
		rev = h->kills_held;
		h->kills_held = NULL;
	}
	/* A thread moved here may have been handed over since: linked
	 * first, it is found below. */
	if (rev != NULL)
		take_greens_handed_over(h);
	for (m = rev; m != NULL; m = next) {
		struct green *g;

		next = m->next;
		for (g = h->all; g != NULL && !(g == m->g && g->id == m->id); g = g->all_next)
			;
		/* Not here: on its way, moved on, or gone (dropped, as the
		 * kernel drops a signal for a thread that has ended). */
		if (g == NULL) {
			struct hub *on;
			enum kill_fate f = fate_of(h, m->g, m->id, &on);

			if (f == KILL_HOLD)
				hold(h, m);
			else if (f == KILL_FORWARDED)
				push_kill(on, m);
			else
				gs_free(m);
			continue;
		}
		if (g->state != GREEN_DEAD && m->sig == KILL_MSG_CANCEL)
			green_cancel(g);
		else if (g->state != GREEN_DEAD && !merged(&kept, m) &&
			 sigmask_kill_here(h, g, m->sig, m->queued ? &m->info : NULL))
			self = g;
		gs_free(m);
	}
	/* The running thread's own, once every other thread has its. */
	if (self != NULL)
		sigmask_raise_due(h, self);
}

void hub_take_kills_sent(struct hub *h)
{
	if (h->frames == NULL && atomic_load_explicit(&h->kills, memory_order_acquire) != NULL)
		take_kills(h);
}

static void free_kills(struct hub *h)
{
	struct kill_msg *m, *next;

	for (m = atomic_exchange(&h->kills, NULL); m != NULL; m = next) {
		next = m->next;
		gs_free(m);
	}
	for (m = h->kills_held; m != NULL; m = next) {
		next = m->next;
		gs_free(m);
	}
	h->kills_held = NULL;
	atomic_store(&h->kill_last, 0);
	atomic_store(&h->incoming, 0);
}

void hub_post_wait(struct hub *h, struct wait *w)
{
	struct wait *head = atomic_load_explicit(&h->remote_waits, memory_order_relaxed);

	post_begin(h);
	do
		w->remote_next = head;
	while (!atomic_compare_exchange_weak_explicit(&h->remote_waits, &head, w,
						      memory_order_release, memory_order_relaxed));
	post_end(h);
}

/* Pops every green of a hub's lock-free list (linked through next) in the
 * order they were pushed. */
static struct green *take_greens(_Atomic(struct green *) *list)
{
	struct green *g, *rev = NULL, *next;

	for (g = atomic_exchange_explicit(list, NULL, memory_order_acquire); g != NULL; g = next) {
		next = g->next;
		g->next = rev;
		rev = g;
	}
	return rev;
}

/* New threads other hubs made for this one (sched.c), and dead ones that
 * their joiner on another hub is done with. */
static void take_greens_handed_over(struct hub *h)
{
	struct green *g, *next;

	for (g = take_greens(&h->adopt); g != NULL; g = next) {
		next = g->next;
		g->next = NULL;
		hub_link_green(h, g);
		if (g->flags & GREEN_MOVING) {
			sched_moved_in(g);
			atomic_fetch_sub(&h->incoming, 1); /* linked: found now */
		}
		/* A mask of its own, where no thread had one yet. */
		if (!h->masks && g->sigmask != h->kmask)
			sigmask_recount(h);
		else
			sigmask_green_count(h, g);
		hub_runq_push(h, g);
	}
	for (g = take_greens(&h->released); g != NULL; g = next) {
		next = g->next;
		hub_release_green(h, g);
	}
	for (g = take_greens(&h->freed); g != NULL; g = next) {
		next = g->next;
		free_green(h, g);
	}
}

/* Pushes g on one of h's lists and wakes h. */
static void post_green(struct hub *h, _Atomic(struct green *) *list, struct green *g)
{
	struct green *head = atomic_load_explicit(list, memory_order_relaxed);

	post_begin(h);
	do
		g->next = head;
	while (!atomic_compare_exchange_weak_explicit(list, &head, g, memory_order_release,
						      memory_order_relaxed));
	post_end(h);
}

void hub_adopt_remote(struct hub *h, struct green *g)
{
	post_green(h, &h->adopt, g);
}

void hub_move_green(struct hub *h, struct green *g, struct hub *t)
{
	/* Signals sent from now on go to t; those sent before are here,
	 * delivered (take_kills) while g is still this hub's. */
	/* Moving from here on: the signals taken below are kept for g to
	 * handle on its own context, on t (sigmask.c), though g->hub names t
	 * already; until 2026-12-06 they ran on this hub's context instead
	 * (Boehm's suspend handler there died of SIGSEGV, 1 run in 150). A
	 * sender on t that finds g->hub naming t sees the flag too, and posts
	 * (pthread_kill) rather than touch g, which is still this hub's. */
	__atomic_store_n(&g->flags, g->flags | GREEN_MOVING, __ATOMIC_RELAXED);
	/* t holds what is posted for g before it links g (take_kills). */
	atomic_fetch_add(&t->incoming, 1);
	gsync_lock(&g->join_lock);
	g->hub = t;
	gid_moved(g, t);
	gsync_unlock(&g->join_lock);
	take_kills(h);
	hub_take_deferred(h); /* and those a handler here sent it */
	unlink_green(h, g);
	h->nrunning--;
	sigmask_green_end(h, g);
	tls_move(g, t);
	post_green(t, &t->adopt, g);
}

void hub_release_remote(struct green *g)
{
	post_green(g->hub, &g->hub->released, g);
}

/* Ends the waits other hubs claimed for this hub's threads, in the order
 * they were posted (a stack: reversed first). */
static void take_claimed_waits(struct hub *h)
{
	struct wait *w, *rev = NULL, *next;

	for (w = atomic_exchange_explicit(&h->remote_waits, NULL, memory_order_acquire); w != NULL;
	     w = next) {
		next = w->remote_next;
		w->remote_next = rev;
		rev = w;
	}
	for (w = rev; w != NULL; w = next) {
		next = w->remote_next; /* w may be gone once it ends */
		wait_end_claimed(w);
	}
}

/* What other OS threads posted to h since it last looked. wake_sent goes
 * back to false first: a post after that wakes h again. Not stuck from
 * here on (sched.c: no hub may take this one for stuck once its wake-up
 * is no longer to be seen). */
static void hub_take_posts(struct hub *h)
{
	struct remote_msg *m, *rev = NULL, *next;

	h->spin_next = true;
	hub_unstuck(h);
	atomic_store(&h->wake_sent, false);
	take_closes(h);
	/* Pushed as a stack: reverse to complete them in the order posted. */
	for (m = atomic_exchange(&h->remote, NULL); m != NULL; m = next) {
		next = m->next;
		m->next = rev;
		rev = m;
	}
	for (m = rev; m != NULL; m = next) {
		next = m->next; /* m may be gone once its wait completes */
		atomic_fetch_sub(&h->remote_pending, 1);
		wait_complete(m->wait, m->result);
	}
	take_claimed_waits(h);
	take_greens_handed_over(h);
	take_kills(h);
	sched_take_forwarded(h);
	hub_take_deferred(h);
	hub_signal_deliver(h);
	if (atomic_load_explicit(&h->ctl_call, memory_order_relaxed) != NULL)
		control_hub_poll(h);
}

static void hub_wake_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct hub *h = GS_CONTAINER_OF(w, struct hub, wake_w);
	uint64_t count;

	(void)loop;
	(void)revents;
	/* Read, then cleared (hub_take_posts): a wake-up written after the
	 * read writes again. */
	arch_syscall3(SYS_read, atomic_load(&h->wake_fd), (long)&count, sizeof count);
	hub_take_posts(h);
}

/* Signals. A signal kept for one thread runs its handler on that thread
 * (hub_sigwake, wait_park), and so does a process's signal that came on
 * another context (hub_defer_signal). Any other (the running thread's
 * own, or one that found no slot free) runs on whatever context the OS
 * thread was in; it only notes which wait it interrupted (hub_signal) and
 * wakes the loop; the loop ends that wait here, in the hub's context,
 * where the run queue may be touched. The wait sequence number makes sure
 * the wait ended is the one in progress when the signal came, not a later
 * one. */
void hub_signal_target(struct green *g)
{
	struct hub *h = tls_hub;

	if (h != NULL)
		h->kill_target = g;
}

/* Signals for the thread that runs when they come: those the kernel sends
 * to the thread that caused them (a write's SIGPIPE: the main thread,
 * waiting in a read meanwhile, would see EINTR), and the CPU-time timers'
 * (setitimer's ITIMER_PROF and ITIMER_VIRTUAL), which Linux sends to the
 * thread whose time made them expire: a profiler's handler samples what
 * runs. */
static bool for_the_running(int sig)
{
	return sigmask_raised_by_thread(sig) || sig == SIGPROF || sig == SIGVTALRM;
}

/* Which green thread a signal is for: the running one, for_the_running.
 * A process's signal, as Linux chooses: the main thread unless it blocks the signal;
 * else the running thread if it takes it; else a thread that does not
 * block it. */
static struct green *signal_receiver(struct hub *h, int sig)
{
	bool root = green_of_program(h->root);

	if (for_the_running(sig) && h->current != h->hub_green && green_of_program(h->current))
		return h->current;
	if (root && (!h->masks || !sigmask_blocks(h->root, sig)))
		return h->root;
	if (h->current != h->hub_green && !sigmask_blocks(h->current, sig))
		return h->current;
	for (struct green *g = h->all; g != NULL; g = g->all_next)
		if (g->state == GREEN_PARKED && green_of_program(g) && !sigmask_blocks(g, sig))
			return g;
	/* An extra hub's thread that took it as it ended. */
	return root ? h->root : NULL;
}

bool hub_defer_signal(struct hub *h, int sig, const siginfo_t *si)
{
	struct green *t;

	if (h->kill_target != NULL)
		return false; /* raised here for its thread: handled now */
	t = signal_receiver(h, sig);
	/* The running thread handles it now, unless it is between the start
	 * of an interruptible wait and its end (wait_after): a handler that
	 * left with siglongjmp would leave the wait queued. */
	if (t == NULL || (t == h->current && !(t->flags & GREEN_INTR_WAIT)) || !green_of_program(t) ||
	    t->state == GREEN_DEAD || sigmask_blocks(t, sig))
		return false;
	if (!sig_slots_post(&h->deferred, &(struct sig_post){ .si = *si, .has_info = true }))
		return false;
	hub_wake(h);
	return true;
}

int hub_defer_kill_id(struct hub *h, struct green *g, uint64_t id, int sig, const siginfo_t *si)
{
	struct sig_post p = { .g = g, .gid = id, .has_info = si != NULL };

	if (si != NULL)
		p.si = *si;
	p.si.si_signo = sig;
	if (!sig_slots_post(&h->deferred, &p))
		return -EAGAIN;
	hub_wake(h);
	preempt_kick(h); /* another hub's: taken where its thread computes */
	return 0;
}

int hub_defer_kill(struct hub *h, struct green *g, int sig, const siginfo_t *si)
{
	return hub_defer_kill_id(h, g, g->id, sig, si);
}

int hub_defer_kill_green(struct green *g, int sig, const siginfo_t *si)
{
	struct hub *h = tls_hub;

	/* A thread of the caller's hub leaves it only by this OS thread's
	 * doing (hub_move_green): no lock, which the handler may have
	 * interrupted this OS thread holding. */
	if (h != NULL && __atomic_load_n(&g->hub, __ATOMIC_RELAXED) == h)
		return hub_defer_kill(h, g, sig, si);
	return post_to_home(g, sig, si, hub_defer_kill);
}

/* A deferred signal for a thread not yet linked here, held with the posts
 * (take_kills), which deliver it once it is; or for a thread that went to
 * another hub since, posted there. Lost if no memory. */
static void pass_deferred(struct hub *h, const struct sig_post *p, struct hub *on)
{
	struct kill_msg *m = gs_malloc(sizeof *m);

	if (m == NULL)
		return;
	m->g = p->g;
	m->id = p->gid;
	m->sig = p->si.si_signo;
	m->queued = p->has_info;
	m->info = p->si;
	if (on == h)
		hold(h, m);
	else
		push_kill(on, m);
}

/* The live thread of h that p was posted for, or NULL if it has ended
 * (*known: among h's threads) or is not h's (*known false). */
static struct green *deferred_for(struct hub *h, const struct sig_post *p, bool *known)
{
	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		if (g == p->g && g->id == p->gid) {
			*known = true;
			return g->state != GREEN_DEAD ? g : NULL;
		}
	}
	return NULL;
}

/* Each signal deferred, kept for the thread it is for (a thread's pending
 * signals, as sigmask_thread_kill keeps them), which is woken to run its
 * handler; raised here, its handler on this context, if that is the
 * running thread (wait_after's) or no thread of the hub takes a process's
 * signal. One a handler sent to a thread that has ended since is dropped,
 * as the kernel drops it. */
void hub_take_deferred(struct hub *h)
{
	struct sig_post p;

	if (h->frames != NULL)
		return; /* a handler's wait_after: the loop takes them */
	while (sig_slots_take(&h->deferred, &p)) {
		int sig = p.si.si_signo;
		bool known = false;
		struct green *t = p.g != NULL ? deferred_for(h, &p, &known) : signal_receiver(h, sig);

		if (p.g != NULL && t == NULL) {
			/* Not here: held or forwarded as a post is. */
			struct hub *on;
			enum kill_fate f = known ? KILL_DROP : fate_of(h, p.g, p.gid, &on);

			if (f != KILL_DROP)
				pass_deferred(h, &p, f == KILL_HOLD ? h : on);
			continue;
		}
		t = t != NULL ? t : h->root;
		if (sigmask_kill_here(h, t, sig, p.has_info ? &p.si : NULL))
			sigmask_raise_due(h, t); /* the rest stay in h->deferred */
	}
}

struct green *hub_signal(int sig, bool restart)
{
	struct hub *h = tls_hub;
	struct green *t;

	if (h == NULL)
		return NULL;
	t = h->kill_target != NULL ? h->kill_target : signal_receiver(h, sig);
	h->kill_target = NULL;
	/* On its own context, running: a wait it was woken from to run the
	 * handler (hub_sigwake) has ended already, if the signal ends it
	 * (wait_park). */
	if (t != NULL && t == h->current && t != h->hub_green)
		return t;
	if (t == NULL || t->state != GREEN_PARKED || t->wait == NULL || !t->wait->interruptible)
		return t;
	/* Two signals on one wait: EINTR wins over a restart. */
	if (t->intr_seq != t->wait_seq || t->intr_result != -EINTR)
		t->intr_result = restart ? WAKE_SIGNAL : -EINTR;
	t->intr_seq = t->wait_seq;
	h->intr_target = t;
	hub_wake(h);
	return t;
}

void hub_sigwake(struct green *g)
{
	struct wait *w = g->wait;

	/* Its wait stays open: a waker may still end it, while the handler
	 * runs or once it parks again (wait_park). A claimed one is ended
	 * soon by its waker's post, and the handler runs after. */
	if (g->state == GREEN_PARKED && w != NULL && !wait_done(w) && !(g->flags & GREEN_SIGWAKE)) {
		g->flags |= GREEN_SIGWAKE;
		hub_unpark(g);
	}
}

static void hub_signal_deliver(struct hub *h)
{
	struct green *t = h->intr_target;

	if (t == NULL)
		return;
	h->intr_target = NULL;
	if (t->state == GREEN_PARKED && t->wait != NULL && t->wait->interruptible &&
	    t->intr_seq == t->wait_seq)
		wait_complete(t->wait, t->intr_result);
}

void hub_remote_begin(struct hub *h)
{
	atomic_fetch_add(&h->remote_pending, 1);
}

void hub_remote_post(struct hub *h, struct remote_msg *m)
{
	struct remote_msg *head = atomic_load(&h->remote);

	do
		m->next = head;
	while (!atomic_compare_exchange_weak(&h->remote, &head, m));
	hub_wake(h);
}

/* libev's memory, like the runtime's, is glibc's (runtime.h). */
static void *hub_ev_realloc(void *p, long size)
{
	if (size != 0)
		return gs_realloc(p, (size_t)size);
	gs_free(p);
	return NULL;
}

/* Makes h's loop and its cross-thread wake-up, and notes the fds libev
 * opened (hub_create, and the fork child). */
static bool hub_open_loop(struct hub *h)
{
	int was_free[OWN_FDS_PER_HUB];
	int nfree = free_fds(was_free, OWN_FDS_PER_HUB);

	long wfd;

	ev_set_allocator(hub_ev_realloc);
	h->n_own_fds = 0;
	h->backend_libev = -1;
	atomic_store(&h->move_wake, false);
	atomic_store(&h->move_backend, false);
	atomic_store(&h->move_exc, false);
	atomic_store(&h->wake_sent, false);
	/* Not libev's ev_async: its eventfd's number is libev's to keep, and
	 * a program's dup2 over it could not move it. */
	hub_own_lock();
	wfd = hub_own_place((int)arch_syscall3(SYS_eventfd2, 0, EFD_NONBLOCK | EFD_CLOEXEC, 0),
			    OWN_WAKE, h);
	hub_own_unlock();
	if (wfd < 0)
		return false;
	/* EVFLAG_NOSIGMASK: the signal mask is the program's, not ours. The
	 * fds libev opens reach hub_take_new_fd through the wrappers. */
	tls_opening = h;
	h->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (h->loop != NULL) {
		ev_set_userdata(h->loop, h);
		atomic_store(&h->wake_fd, (int)wfd);
		ev_io_init(&h->wake_w, hub_wake_cb, (int)wfd, EV_READ);
		/* First among an iteration's callbacks, as libev's own
		 * ev_async is: the control thread's and the profiler's calls
		 * see the threads as they waited, before timers wake them. */
		ev_set_priority(&h->wake_w, EV_MAXPRI);
		ev_io_start(h->loop, &h->wake_w);
	}
	tls_opening = NULL;
	if (h->loop == NULL) {
		hub_forget_own_fd((int)wfd);
		arch_syscall3(SYS_close, wfd, 0, 0);
		return false;
	}
	ev_unref(h->loop); /* a possible remote wake-up keeps nothing alive */
	/* Without the wrappers (the runtime linked into a program), the fds
	 * libev took are found among the lowest free numbers. Never with
	 * them: another OS thread may have opened one of those numbers
	 * meanwhile, and it would be taken for the hub's (seen with
	 * GREENSHIM_THREADS=native: a program's socket hidden as ours). */
	if (h->n_own_fds == 0)
		mark_own_fds(h, was_free, nfree);
	return true;
}

static void hub_close_loop(struct hub *h)
{
	int wfd;

	/* A move of one of h's fds in progress in another thread ends first
	 * (it waits for nothing h's thread does outside its loop). */
	while (atomic_flag_test_and_set_explicit(&move_lock, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
	wfd = atomic_load(&h->wake_fd);

	ev_ref(h->loop);
	ev_io_stop(h->loop, &h->wake_w);
	fdw_hub_closing(h);
	hub_forget_own_fd(wfd);
	arch_syscall3(SYS_close, wfd, 0, 0);
	/* libev closes its fds as the hub's (the close wrapper), the epoll
	 * fd under the number the runtime holds if it moved
	 * (hub_close_redirect); then whatever is left is forgotten. */
	tls_opening = h;
	ev_loop_destroy(h->loop);
	tls_opening = NULL;
	unmark_own_fds(h);
	h->loop = NULL;
	atomic_flag_clear_explicit(&move_lock, memory_order_release);
}

static struct hub *hub_create_once(void)
{
	struct hub *h = gs_calloc(1, sizeof *h);
	/* The root's rusage counters lie below it, as every thread's. */
	struct green_rusage *root_ru = gs_calloc(1, sizeof *root_ru + sizeof(struct green));
	struct green *root = root_ru != NULL ? (struct green *)(root_ru + 1) : NULL;
	struct stack st;
	struct green *hg;

	config_load();
	if (h == NULL || root == NULL)
		goto fail;
	if (!hub_open_loop(h))
		goto fail;
	ev_timer_init(&h->stack_decay, stack_decay_cb, 0., (double)STACK_DECAY_NS / 1e9);
	h->stack_decay.data = h;
	sigmask_hub_init(h);
	if (stack_get(&h->stacks, HUB_STACK_SIZE, &st) < 0)
		goto fail;
	hg = (struct green *)((uintptr_t)(st.hi - sizeof *hg) & ~(uintptr_t)63);
	memset(hg, 0, sizeof *hg);
	memset(green_ru(hg), 0, sizeof(struct green_rusage));
	hg->hub = h;
	hg->flags = GREEN_HUB;
	hg->stack = st;
	hg->state = GREEN_READY;
	hg->tp = arch_tp_get(); /* the OS thread's own TLS, shared with the root */
	h->fs = hg->tp;
	strcpy(hg->name, "hub");
#ifdef GS_ASAN
	hg->asan_bottom = st.lo;
	hg->asan_size = (size_t)(st.hi - st.lo);
#endif
	ctx_make(&hg->ctx, green_ru(hg), hub_main, h);
	h->hub_green = hg;
	h->next_deadline = h->precise_at = h->tick_due = GS_NO_DEADLINE;

	root->flags = GREEN_ROOT;
	root->tp = hg->tp;
	root->state = GREEN_RUNNING;
	hub_link_green(h, root);
	h->root = root;
	h->current = root;
	sigmask_root_init(h, root);
	overflow_init_thread();
	preempt_init_hub(h);
	tls_hub = h;
	__atomic_store_n(&tp_errno_off, (char *)&errno - (char *)arch_tp_get(), __ATOMIC_RELAXED);
	introspect_hub_register(h);
	atomic_fetch_add(&nhubs, 1);
	return h;
fail:
	if (h != NULL && h->loop != NULL)
		hub_close_loop(h);
	if (h != NULL)
		stack_pool_destroy(&h->stacks);
	gs_free(root_ru);
	gs_free(h);
	return NULL;
}

static struct hub *hub_create(void)
{
	struct hub *h;

	if (tls_hub_creating)
		return NULL;
	tls_hub_creating = true;
	h = hub_create_once();
	tls_hub_creating = false;
	return h;
}

struct hub *hub_get(void)
{
	struct hub *h = tls_hub;

	return GS_LIKELY(h != NULL) ? h : hub_create();
}

void hub_fork_child(void)
{
	struct hub *h = tls_hub;
	struct green *cur;

	pool_fork_child(); /* even without a hub: a plain thread may use it */
	gid_fork_child(h != NULL ? h->current : NULL, h);
	if (h == NULL)
		return;
	cur = h->current;
	/* The other green threads do not exist in the child (POSIX keeps
	 * only the thread that forked). Their watchers go, so that the new
	 * loop never sees them; their stacks stay mapped, as a native
	 * child keeps the other threads' stacks, until exec. */
	for (int fd = 0; fd < h->nfds; fd++) {
		if (h->fds[fd] != NULL) {
			fdw_drop(h, h->fds[fd]);
			gs_free(h->fds[fd]);
		}
	}
	gs_free(h->fds);
	h->fds = NULL;
	h->nfds = 0;
	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		ev_timer_stop(h->loop, &g->timer);
		if (g == cur)
			continue;
		/* A wait of a thread that is gone counts as ended, so that
		 * no waker (a mutex unlock, cur's exit and its joiner) ever
		 * hands it anything or brings it back. */
		if (g->wait != NULL) {
			g->wait->result = -ECANCELED;
			g->wait->state = WAIT_ENDED;
		}
		g->state = GREEN_DEAD;
	}
	/* The parent's epoll set and eventfd are shared with the child
	 * through the inherited descriptors: the child closes its copies
	 * and makes its own. */
	own_fork_child(h);
	free_closes(h);
	free_kills(h);
	atomic_store(&nhubs, 1);
	stack_decay_stop(h); /* the next free stack starts it in the new loop */
	sigmask_hub_stop(h); /* no waiter is left in the child */
	hub_close_loop(h);
	if (!hub_open_loop(h)) {
		static const char msg[] =
			"greenshim: fork: the child cannot make its event loop; stopping\n";

		sys_write(2, msg, sizeof msg - 1);
		_exit(127);
	}
	cur->all_prev = cur->all_next = NULL;
	h->all = cur;
	h->root = cur; /* the child's only thread is its main thread */
	h->ngreen = h->nrunning = 1;
	h->nparked = 0;
	h->runq_head = h->runq_tail = h->runq_woken = NULL;
	h->woken_ahead_since = 0;
	h->runq_len = 0;
	h->zombie = NULL;
	h->preempted = NULL;
	h->move_to = NULL;
	h->intr_target = h->kill_target = NULL;
	/* A child starts with no signal pending (fork(2)), and its CPU
	 * clock at 0 (introspect_thread_cpu_ns). */
	sigmask_tsig_clear(cur);
	cur->cpu_ns = 0;
	h->cpu_mark = 0;
	sig_slots_clear(&h->deferred);
	memset(h->nwaitset, 0, sizeof h->nwaitset);
	sigmask_fork_child(h, cur);
	atomic_store(&h->remote, NULL);
	atomic_store(&h->remote_waits, NULL);
	atomic_store(&h->adopt, NULL);
	atomic_store(&h->released, NULL);
	atomic_store(&h->freed, NULL);
	atomic_store(&h->remote_pending, 0);
	sched_fork_child(h);
	atomic_store(&h->ctl_call, NULL); /* the parent's control thread's */
	h->stuck_reported = false;
	h->stuck_counted = false;
	h->since_poll = 0;
	h->next_deadline = h->precise_at = h->tick_due = GS_NO_DEADLINE;
	if (h->masks)
		sigmask_recount(h);
	/* POSIX timers are not inherited; the new one must name the
	 * child's thread. */
	h->have_timer = h->timer_armed = false;
	preempt_init_hub(h);
	/* Nor is Syscall User Dispatch: on again with a second thread. */
	h->trap_on = false;
	h->trap_sel = 0;
	/* The other hubs' OS threads and the monitor are not in the child;
	 * the monitor's file named the parent's thread. */
	introspect_fork_child(h); /* first: it frees the hubs' lock */
	monitor_forget_hub(h);
	monitor_fork_child();
	/* The child runs on the forking thread's TLS. */
	tls_fork_child(h);
	h->fs = arch_tp_get();
}

void hub_destroy(void)
{
	struct hub *h = tls_hub;
	struct stack hg_stack;

	if (h == NULL || h->current != h->root || h->ngreen != 1)
		return;
	if (h->zombie != NULL)
		hub_reap(h);
	while (atomic_load(&h->wake_users) != 0) /* a waker of another hub */
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
	introspect_hub_unregister(h);
	atomic_fetch_sub(&nhubs, 1);
	free_closes(h);
	free_kills(h);
	monitor_forget_hub(h); /* the monitor sees h no more */
	stack_decay_stop(h);
	sigmask_hub_stop(h);
	hub_close_loop(h);
	for (int fd = 0; fd < h->nfds; fd++)
		gs_free(h->fds[fd]);
	gs_free(h->fds);
	preempt_fini_hub(h);
	trap_hub_stop(h);
	tls_hub_fini(h);
	hg_stack = h->hub_green->stack; /* the hub's context lives on it */
	stack_put(&h->stacks, &hg_stack);
	stack_pool_destroy(&h->stacks);
	overflow_fini_thread(h->altstack);
	sigmask_tsig_free(h->root);
	if (h->root->flags & GREEN_ROOT) /* not a forked child's thread */
		gs_free(green_ru(h->root));
	gs_free(h);
	tls_hub = NULL;
}
