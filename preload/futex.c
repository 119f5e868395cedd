/*
 * syscall(SYS_futex, ...): the futex waits that Rust's std, abseil,
 * libstdc++ and other runtimes make directly, past pthread. Futexes in
 * the process's own memory wait in the hub: a green thread parks on a
 * queue hashed by the futex word's address, and FUTEX_WAKE wakes the
 * green threads parked on that address (bitsets included). That covers
 * every FUTEX_PRIVATE_FLAG wait, and the waits without the flag (libstdc++
 * 12's std::future, atomic::wait and counting_semaphore make those) on a
 * private mapping. A wait without the flag on a MAP_SHARED mapping, which
 * another process may wake, runs on a worker of the pool in the kernel;
 * a wake without the flag reaches both: the green waiters first, then the
 * kernel's for what is left of the count. Anything else (other system
 * calls, other futex operations) is the real syscall(). The runtime's own
 * OS threads, which run program code too, wait in the kernel and wake
 * both (runtime_futex).
 *
 * The return values are the kernel's: 0 or -1 with EAGAIN (the word had
 * changed), ETIMEDOUT, EINTR for a wait; the number woken for a wake.
 */
#include <linux/futex.h>
#include <string.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

#define FUTEX_BUCKETS 256

struct futex_waiter {
	struct waiter w;
	const uint32_t *addr;
	uint32_t bitset;
};

/* Waiters of every hub hash here: a bucket's lock is held, as the kernel
 * holds its hash bucket's, from the check of the word to the queueing, and
 * by the waker as it wakes. */
static struct bucket {
	struct waitq q;
	uint16_t lock;
} buckets[FUTEX_BUCKETS];

static struct bucket *bucket(const uint32_t *addr)
{
	return &buckets[((uintptr_t)addr >> 2) % FUTEX_BUCKETS];
}

static long futex_wait(const uint32_t *addr, uint32_t val, const struct timespec *ts,
		       uint32_t bitset, bool absolute, clockid_t clk)
{
	struct futex_waiter fw;
	struct wait w;
	int64_t deadline = GS_NO_DEADLINE;
	int r;

	if (bitset == 0)
		return preload_fail(-EINVAL);
	if (ts != NULL) {
		if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000 || (!absolute && ts->tv_sec < 0))
			return preload_fail(-EINVAL);
		deadline = absolute ? preload_abs_deadline(clk, ts) : preload_ts_deadline(ts);
	}
	for (;;) {
		struct bucket *b = bucket(addr);

		/* Under the bucket's lock from this check to joining the
		 * queue: a wake after it cannot be missed, as with the
		 * kernel's futex. */
		gsync_lock(&b->lock);
		if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != val) {
			gsync_unlock(&b->lock);
			return preload_fail(-EAGAIN);
		}
		wait_init_interruptible(&w);
		w.cancelpoint = false; /* syscall() is no cancellation point */
		wait_label(&w, WAIT_FUTEX, addr, 0);
		fw.addr = addr;
		fw.bitset = bitset;
		waitq_add(&b->q, &fw.w, &w, 0);
		gsync_unlock(&b->lock);
		r = wait_park(&w, deadline);
		if (r != WAKE_OK) {
			/* Not woken by a FUTEX_WAKE: under the lock even if the
			 * entry looks unlinked, as in gsync_cond_wait (a wake
			 * on another hub may be between unlinking it and trying
			 * w, both on this stack). */
			gsync_lock(&b->lock);
			waitq_remove(&fw.w);
			gsync_unlock(&b->lock);
		}
		wait_after(&w);
		if (r == WAKE_OK)
			return 0;
		if (r == WAKE_SIGNAL && ts == NULL)
			continue; /* a restarting handler: wait again */
		return preload_fail(r == WAKE_SIGNAL ? -EINTR : r);
	}
}

static long futex_wake(const uint32_t *addr, int n, uint32_t bitset)
{
	struct bucket *b = bucket(addr);
	struct waiter *e, *next;
	long woken = 0;

	if (bitset == 0)
		return preload_fail(-EINVAL);
	gsync_lock(&b->lock);
	for (e = b->q.head; e != NULL && woken < n; e = next) {
		struct futex_waiter *fw = (struct futex_waiter *)e;

		next = e->next;
		if (fw->addr != addr || !(fw->bitset & bitset) || wait_done(e->wait))
			continue;
		waitq_remove(e);
		woken += wait_complete(e->wait, WAKE_OK);
	}
	gsync_unlock(&b->lock);
	return woken;
}

/* The runtime's own OS threads run program code too (a pool worker's NSS
 * lookup calls the program's malloc, whose locks may be futexes: tcmalloc's
 * spinlocks). They wait in the kernel, counted here, so that a green
 * thread's private wake asks the kernel too while one does; and their
 * wakes reach the green waiters first, then the kernel's. A waiter counts
 * itself before the kernel reads the word, and a waker reads the count
 * after the word it woke for changed: the waker sees the waiter, or the
 * waiter's kernel call sees the new word and does not sleep. */
static atomic_int kernel_waiters;

static long runtime_futex(long n, const long a[6])
{
	int op = (int)(a[1] & FUTEX_CMD_MASK);
	long r, woken;
	int err;

	switch (op) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		atomic_fetch_add(&kernel_waiters, 1);
		r = REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
		err = errno;
		atomic_fetch_sub(&kernel_waiters, 1);
		errno = err;
		return r;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		woken = futex_wake((const uint32_t *)a[0], (int)a[2],
				   op == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : (uint32_t)a[5]);
		if (woken < 0 || woken >= (int)a[2])
			return woken;
		r = REAL(syscall)(n, a[0], a[1], (int)a[2] - woken, a[3], a[4], a[5]);
		return r < 0 ? r : woken + r;
	default:
		return REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}

/* Is addr in a MAP_SHARED mapping? False when unsure (maps.c could not
 * tell): the wait is then green, as a private one. */
static bool addr_shared(const void *addr)
{
	struct maps_entry m;

	return maps_find((uintptr_t)addr, &m) == 0 && m.perms[3] == 's';
}

/* A shared futex wait, on a worker in the kernel. */
struct kernel_wait {
	long a[6];
	long ret;
	int err;
};

static void kernel_wait_job(void *arg)
{
	struct kernel_wait *k = arg;

	k->ret = REAL(syscall)(SYS_futex, k->a[0], k->a[1], k->a[2], k->a[3], k->a[4], k->a[5]);
	k->err = errno;
}

static long futex_shared_wait(const long a[6])
{
	struct kernel_wait k = { .a = { a[0], a[1], a[2], a[3], a[4], a[5] } };

	preload_pool_call(kernel_wait_job, &k);
	if (k.ret < 0)
		return preload_fail(-k.err);
	return k.ret;
}

GS_WRAP long syscall(long n, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_gettid)
		return preload_gettid();
	if (n == SYS_sigaltstack)
		return sigaltstack((const stack_t *)a[0], (stack_t *)a[1]);
	if (n == SYS_tgkill || n == SYS_tkill) {
		bool is_real;
		long r = n == SYS_tgkill ? preload_tgkill((pid_t)a[0], (pid_t)a[1], (int)a[2], &is_real)
					 : preload_tgkill(-1, (pid_t)a[0], (int)a[1], &is_real);

		if (!is_real)
			return r;
	}
	/* As when the program makes them itself (rawsys.c): a wait for
	 * completions parks; libc's call would hold the OS thread, and take
	 * each preemption tick for EINTR. */
	if (n == SYS_io_uring_enter || n == SYS_io_uring_setup) {
		long r = n == SYS_io_uring_enter ? preload_uring_enter(a) : preload_uring_setup(a);

		return r < 0 ? preload_fail((int)r) : r;
	}
	if (n == SYS_futex && !preload_native() && preload_hub() != NULL) {
		int op = (int)(a[1] & FUTEX_CMD_MASK);
		bool private = (a[1] & FUTEX_PRIVATE_FLAG) != 0;
		const uint32_t *addr = (const uint32_t *)a[0];
		clockid_t clk = (a[1] & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
		long woken;

		switch (op) {
		case FUTEX_WAIT:
		case FUTEX_WAIT_BITSET:
			if (!private && addr_shared(addr))
				return futex_shared_wait(a);
			if (op == FUTEX_WAIT)
				return PRELOAD_SETTLED(futex_wait(addr, (uint32_t)a[2],
								  (const struct timespec *)a[3],
								  FUTEX_BITSET_MATCH_ANY, false, clk));
			return PRELOAD_SETTLED(futex_wait(addr, (uint32_t)a[2], (const struct timespec *)a[3],
							  (uint32_t)a[5], true, clk));
		case FUTEX_WAKE:
		case FUTEX_WAKE_BITSET:
			woken = futex_wake(addr, (int)a[2],
					   op == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : (uint32_t)a[5]);
			if (woken < 0 || woken >= (int)a[2] ||
			    (private && atomic_load(&kernel_waiters) == 0))
				return woken;
			/* Waiters in the kernel: another process's, a worker's. */
			a[2] = (int)a[2] - woken;
			n = REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
			return n < 0 ? n : woken + n;
		default:
			break;
		}
	} else if (n == SYS_futex && osthread_is_runtime() && !gs_config.native_threads) {
		return runtime_futex(n, a);
	} else {
		int err = errno;
		long r;

		/* A read, poll, sleep... as the program's own instruction
		 * would be made (rawsys.c); errno as the kernel's call leaves
		 * it. */
		if (preload_syscall_green(n, a, __builtin_return_address(0), &r)) {
			if (r < 0)
				return preload_fail((int)r);
			errno = err;
			return r;
		}
	}
	return REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
