/*
 * io_uring through liburing: the waits for completions park in the hub.
 *
 * liburing makes its io_uring_enter system calls itself, past every
 * wrapper: a green thread waiting for completions would hold its OS
 * thread until the kernel had them. The ring's fd is pollable (readable
 * while the completion queue holds entries), so a wait becomes a wait for
 * that fd, and liburing's own call is made once it cannot block. Taken
 * over: __io_uring_get_cqe (what the inline io_uring_wait_cqe,
 * io_uring_wait_cqe_nr and io_uring_peek_cqe call), io_uring_wait_cqes,
 * io_uring_wait_cqe_timeout and io_uring_submit_and_wait, liburing 2's
 * exported waits. Submissions without waiting, a ring polled by the
 * kernel for I/O (IORING_SETUP_IOPOLL: only io_uring_enter reaps it), a
 * wait with a signal mask and a ring whose fd was closed are liburing's
 * own call.
 *
 * Results as liburing's: 0 or a negative errno value, -ETIME when a
 * timeout passes, -EINTR when a signal handler runs for the waiter.
 * liburing's functions are found with dlsym(RTLD_NEXT) when first needed:
 * a program without liburing never calls these.
 */
#include <liburing.h>
#include <poll.h>
#include <sys/syscall.h>

#include "preload.h"
#include "../src/sys.h"

#include <dlfcn.h> /* after runtime.h: <elf.h> and ev.h both name EV_NONE */

static int (*real_get_cqe)(struct io_uring *, struct io_uring_cqe **, unsigned, unsigned,
			   sigset_t *);
static int (*real_submit)(struct io_uring *);
static int (*real_wait_cqes)(struct io_uring *, struct io_uring_cqe **, unsigned,
			     struct __kernel_timespec *, sigset_t *);
static int (*real_submit_and_wait)(struct io_uring *, unsigned);

/* Resolves liburing's own functions (idempotent); false if it is not
 * there. */
static bool uring_real(void)
{
	if (GS_LIKELY(__atomic_load_n(&real_get_cqe, __ATOMIC_ACQUIRE) != NULL))
		return true;
	real_submit = (int (*)(struct io_uring *))dlsym(RTLD_NEXT, "io_uring_submit");
	real_wait_cqes = (int (*)(struct io_uring *, struct io_uring_cqe **, unsigned,
				  struct __kernel_timespec *, sigset_t *))dlsym(RTLD_NEXT,
										"io_uring_wait_cqes");
	real_submit_and_wait =
		(int (*)(struct io_uring *, unsigned))dlsym(RTLD_NEXT, "io_uring_submit_and_wait");
	if (real_submit == NULL || real_wait_cqes == NULL || real_submit_and_wait == NULL)
		return false;
	__atomic_store_n(&real_get_cqe,
			 (int (*)(struct io_uring *, struct io_uring_cqe **, unsigned, unsigned,
				  sigset_t *))dlsym(RTLD_NEXT, "__io_uring_get_cqe"),
			 __ATOMIC_RELEASE);
	return real_get_cqe != NULL;
}

/* Rings whose completions only their io_uring_enter brings in, by fd
 * (preload_uring_setup): IORING_SETUP_IOPOLL, which only enter reaps, and
 * IORING_SETUP_DEFER_TASKRUN, whose completions the kernel posts inside
 * the submitting thread's own enter: their fd never becomes readable for
 * them, and a wait for it never ended (fio's io_uring engine hung,
 * 2026-12-07). A number closed and used again keeps its bit until a ring
 * is set up there: such a ring waits the slower way, correctly. */
#define URING_FDS 65536
static _Atomic uint64_t entered_only[URING_FDS / 64];

#define URING_ENTER_ONLY (IORING_SETUP_IOPOLL | IORING_SETUP_DEFER_TASKRUN)

static bool ring_entered_only(int fd)
{
	return fd >= 0 && fd < URING_FDS &&
	       (atomic_load_explicit(&entered_only[fd / 64], memory_order_relaxed) >> (fd % 64) & 1);
}

long preload_uring_setup(const long a[6])
{
	const struct io_uring_params *p = (const struct io_uring_params *)a[1];
	long fd = arch_syscall6(SYS_io_uring_setup, a[0], a[1], 0, 0, 0, 0);

	if (fd >= 0 && fd < URING_FDS) {
		uint64_t bit = 1ull << (fd % 64);

		if (p->flags & URING_ENTER_ONLY)
			atomic_fetch_or(&entered_only[fd / 64], bit);
		else
			atomic_fetch_and(&entered_only[fd / 64], ~bit);
	}
	return fd;
}

/* May this wait on ring park? A ring that only enter reaps: liburing's
 * own call, whose io_uring_enter src/trap.c catches (preload_uring_enter
 * waits there). */
static struct hub *uring_hub(const struct io_uring *ring, const sigset_t *sigmask)
{
	if (sigmask != NULL || ring->ring_fd < 0 || (ring->flags & URING_ENTER_ONLY) ||
	    preload_native())
		return NULL;
	return preload_hub();
}

static int64_t uring_deadline(const struct __kernel_timespec *ts)
{
	if (ts == NULL)
		return GS_NO_DEADLINE;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -EINVAL;
	return gs_deadline_after((int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec);
}

/* liburing's own call, which cannot wait here: its io_uring_enter is let
 * through, not caught (src/trap.c), which would cost a signal. */
#define URING_NOWAIT(h, call)                                  \
	({                                                     \
		char was_ = trap_let_through(h);               \
		__typeof__(call) r_ = (call);                  \
		trap_restore(h, was_);                         \
		r_;                                            \
	})

/* Waits in the hub until the completion queue holds wait_nr entries, then
 * lets liburing take the first (without waiting). */
static int uring_wait(struct hub *h, struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
		      unsigned wait_nr, int64_t deadline)
{
	for (;;) {
		unsigned ready = io_uring_cq_ready(ring);
		int r;

		if (ready >= wait_nr)
			return URING_NOWAIT(h, real_get_cqe(ring, cqe_ptr, 0, wait_nr, NULL));
		if (io_uring_cq_has_overflow(ring)) {
			/* Entries wait in the kernel: a call that does not
			 * wait brings them in. */
			r = URING_NOWAIT(h, real_get_cqe(ring, cqe_ptr, 0, 0, NULL));
			if (r < 0 && r != -EAGAIN)
				return r;
			continue;
		}
		if (ready == 0) {
			/* Readable: the queue holds an entry. */
			r = preload_wait_fd(h, ring->ring_fd, EV_READ, deadline, 0);
		} else {
			/* Some are in, fewer than asked for: the fd stays
			 * readable; look again after a while. */
			int64_t soon = gs_deadline_after(1000000);

			r = green_sleep_until(soon < deadline ? soon : deadline);
			if (r == 0 && gs_now_ns() >= deadline)
				r = -ETIMEDOUT;
		}
		if (r == -ETIMEDOUT)
			return -ETIME;
		if (r == WAKE_SIGNAL)
			return -EINTR;
		if (r < 0)
			return r;
	}
}

GS_WRAP int __io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
			       unsigned submit, unsigned wait_nr, sigset_t *sigmask)
{
	struct hub *h;
	int r;

	if (!uring_real())
		return -ENOSYS;
	if (wait_nr == 0 || (h = uring_hub(ring, sigmask)) == NULL)
		return real_get_cqe(ring, cqe_ptr, submit, wait_nr, sigmask);
	if (submit != 0 && (r = URING_NOWAIT(h, real_get_cqe(ring, cqe_ptr, submit, 0, NULL))) < 0)
		return r;
	return uring_wait(h, ring, cqe_ptr, wait_nr, GS_NO_DEADLINE);
}

GS_WRAP int io_uring_wait_cqes(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
			       unsigned wait_nr, struct __kernel_timespec *ts, sigset_t *sigmask)
{
	struct hub *h;
	int64_t deadline;

	if (!uring_real())
		return -ENOSYS;
	if (wait_nr == 0 || (h = uring_hub(ring, sigmask)) == NULL)
		return real_wait_cqes(ring, cqe_ptr, wait_nr, ts, sigmask);
	deadline = uring_deadline(ts);
	return deadline < 0 ? (int)deadline : uring_wait(h, ring, cqe_ptr, wait_nr, deadline);
}

GS_WRAP int io_uring_wait_cqe_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
				      struct __kernel_timespec *ts)
{
	return io_uring_wait_cqes(ring, cqe_ptr, 1, ts, NULL);
}

/* Never waits: made by liburing, let through rather than caught. */
GS_WRAP int io_uring_submit(struct io_uring *ring)
{
	if (!uring_real())
		return -ENOSYS;
	return URING_NOWAIT(hub_peek(), real_submit(ring));
}

GS_WRAP int io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr)
{
	struct io_uring_cqe *cqe;
	struct hub *h;
	int n, r;

	if (!uring_real())
		return -ENOSYS;
	if (wait_nr == 0 || (h = uring_hub(ring, NULL)) == NULL)
		return real_submit_and_wait(ring, wait_nr);
	n = URING_NOWAIT(h, real_submit(ring));
	if (n < 0)
		return n;
	r = uring_wait(h, ring, &cqe, wait_nr, GS_NO_DEADLINE);
	return r < 0 ? r : n;
}

/* A raw io_uring_enter that src/trap.c caught (rawsys.c): a wait for
 * completions (IORING_ENTER_GETEVENTS with min_complete > 0, no signal
 * mask) submits without waiting, then waits for the ring's fd and asks
 * the kernel, without waiting, whether min_complete entries are in; any
 * other call is made as asked. Returns as the kernel does: the number
 * submitted if any, else 0 or -errno (-ETIME when the timeout of
 * IORING_ENTER_EXT_ARG passes). A ring set up with IORING_SETUP_IOPOLL
 * is unknown here: waiting for its fd would never end; the calls'
 * results are its own. */
/* How long a wait in the kernel for a ring that only enter reaps may hold
 * its hub's OS thread at a time: the hub's other threads, timers and
 * posts wait that long at most. */
#define ENTER_SLICE_NS 1000000

/* Waits for min_complete entries of a ring that only enter reaps
 * (ring_entered_only) in the kernel's own io_uring_enter, made by the
 * waiting thread (DEFER_TASKRUN's completions are the submitter's to
 * post): at most ENTER_SLICE_NS at a time, and not at all while other
 * threads of the hub are ready; between two, the hub polls its loop (its
 * timers, other hubs' posts) and runs its ready threads. A preemption
 * tick's EINTR is no signal of the program's: the wait goes on. */
static long enter_wait(struct hub *h, int fd, unsigned min_complete, unsigned flags,
		       int64_t deadline)
{
	unsigned long signals = hub_program_signals(h);
	unsigned how = (flags & ~(unsigned)IORING_ENTER_SQ_WAKEUP) | IORING_ENTER_GETEVENTS |
		       IORING_ENTER_EXT_ARG;

	for (;;) {
		int64_t left = deadline == GS_NO_DEADLINE ? ENTER_SLICE_NS : deadline - gs_now_ns();
		struct __kernel_timespec ts = { 0, 0 };
		struct io_uring_getevents_arg arg = { .ts = (uint64_t)(uintptr_t)&ts };
		long r;

		if (left > ENTER_SLICE_NS)
			left = ENTER_SLICE_NS;
		if (left > 0 && !hub_others_ready(h))
			ts.tv_nsec = left;
		r = arch_syscall6(SYS_io_uring_enter, fd, 0, min_complete, how, (long)&arg, sizeof arg);
		if (r == -EINTR && hub_program_signals(h) != signals)
			return -EINTR;
		if (r != -ETIME && r != -EINTR)
			return r;
		if (deadline != GS_NO_DEADLINE && gs_now_ns() >= deadline)
			return -ETIME;
		hub_yield_polling(h, hub_current(h));
		h = hub_peek(); /* the same: a thread in a call of greenshim's stays */
	}
}

long preload_uring_enter(const long a[6])
{
	int fd = (int)a[0];
	unsigned to_submit = (unsigned)a[1], min_complete = (unsigned)a[2];
	unsigned flags = (unsigned)a[3];
	const struct io_uring_getevents_arg *ext = NULL;
	struct io_uring_getevents_arg now = { 0 };
	struct __kernel_timespec zero = { 0, 0 };
	int64_t deadline = GS_NO_DEADLINE;
	long submitted = 0, r;
	struct hub *h;

	if (flags & IORING_ENTER_EXT_ARG) {
		ext = (const struct io_uring_getevents_arg *)a[4];
		if (a[5] != sizeof *ext || ext == NULL)
			ext = NULL;
	}
	if (!(flags & IORING_ENTER_GETEVENTS) || min_complete == 0 ||
	    (flags & IORING_ENTER_EXT_ARG ? ext == NULL || ext->sigmask != 0 : a[4] != 0) ||
	    (h = preload_hub()) == NULL)
		return arch_syscall6(SYS_io_uring_enter, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (ext != NULL && ext->ts != 0) {
		deadline = uring_deadline((const struct __kernel_timespec *)(uintptr_t)ext->ts);
		if (deadline < 0)
			return deadline;
	}
	if (to_submit != 0) {
		submitted = arch_syscall6(SYS_io_uring_enter, fd, to_submit, 0,
					  flags & ~(unsigned)(IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG),
					  0, 0);
		if (submitted < 0)
			return submitted;
	}
	now.ts = (uint64_t)(uintptr_t)&zero;
	if (ring_entered_only(fd)) {
		r = enter_wait(h, fd, min_complete, flags, deadline);
		return submitted != 0 ? submitted : r;
	}
	for (;;) {
		/* Are min_complete in? With a zero timeout, -ETIME says no. */
		r = arch_syscall6(SYS_io_uring_enter, fd, 0, min_complete,
				  (flags & ~(unsigned)IORING_ENTER_SQ_WAKEUP) | IORING_ENTER_GETEVENTS |
					  IORING_ENTER_EXT_ARG,
				  (long)&now, sizeof now);
		if (r != -ETIME)
			break;
		r = preload_wait_fd(h, fd, EV_READ, deadline, 0);
		if (r == 0) {
			/* Readable with fewer than asked for stays readable:
			 * look again after a while, as uring_wait does. */
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int64_t soon = gs_deadline_after(1000000);

			if (arch_syscall6(SYS_poll, (long)&p, 1, 0, 0, 0, 0) == 1 &&
			    (r = green_sleep_until(soon < deadline ? soon : deadline)) == 0 &&
			    gs_now_ns() >= deadline)
				r = -ETIMEDOUT;
		}
		if (r == -ETIMEDOUT)
			r = -ETIME;
		else if (r == WAKE_SIGNAL)
			r = -EINTR;
		if (r < 0)
			break;
	}
	return submitted != 0 ? submitted : r;
}
