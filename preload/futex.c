/*
 * syscall(SYS_futex, ...): the futex waits that Rust's std, abseil and
 * other runtimes make directly, past pthread. Private futexes
 * (FUTEX_PRIVATE_FLAG) wait in the hub: a green thread parks on a queue
 * hashed by the futex word's address, and FUTEX_WAKE wakes the green
 * threads parked on that address (bitsets included). Anything else — other
 * system calls, other futex operations, futexes shared between processes —
 * is the real syscall().
 *
 * The return values are the kernel's: 0 or -1 with EAGAIN (the word had
 * changed), ETIMEDOUT, EINTR for a wait; the number woken for a wake.
 */
#include <linux/futex.h>
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

static struct waitq buckets[FUTEX_BUCKETS];

static struct waitq *bucket(const uint32_t *addr)
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
		/* No switch between this check and joining the queue: a wake
		 * after it cannot be missed, as with the kernel's futex. */
		if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != val)
			return preload_fail(-EAGAIN);
		wait_init_interruptible(&w);
		wait_label(&w, WAIT_FUTEX, addr, 0);
		fw.addr = addr;
		fw.bitset = bitset;
		waitq_add(bucket(addr), &fw.w, &w, 0);
		r = wait_park(&w, deadline);
		waitq_remove(&fw.w);
		if (r == WAKE_OK)
			return 0;
		if (r == WAKE_SIGNAL && ts == NULL)
			continue; /* a restarting handler: wait again */
		return preload_fail(r == WAKE_SIGNAL ? -EINTR : r);
	}
}

static long futex_wake(const uint32_t *addr, int n, uint32_t bitset)
{
	struct waitq *q = bucket(addr);
	struct waiter *e, *next;
	long woken = 0;

	if (bitset == 0)
		return preload_fail(-EINVAL);
	for (e = q->head; e != NULL && woken < n; e = next) {
		struct futex_waiter *fw = (struct futex_waiter *)e;

		next = e->next;
		if (fw->addr != addr || !(fw->bitset & bitset) || e->wait->done)
			continue;
		waitq_remove(e);
		wait_complete(e->wait, WAKE_OK);
		woken++;
	}
	return woken;
}

GS_WRAP long syscall(long n, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_futex && (a[1] & FUTEX_PRIVATE_FLAG) && !preload_native() &&
	    preload_hub() != NULL) {
		int op = (int)(a[1] & FUTEX_CMD_MASK);
		const uint32_t *addr = (const uint32_t *)a[0];
		clockid_t clk = (a[1] & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;

		switch (op) {
		case FUTEX_WAIT:
			return futex_wait(addr, (uint32_t)a[2], (const struct timespec *)a[3],
					  FUTEX_BITSET_MATCH_ANY, false, clk);
		case FUTEX_WAIT_BITSET:
			return futex_wait(addr, (uint32_t)a[2], (const struct timespec *)a[3],
					  (uint32_t)a[5], true, clk);
		case FUTEX_WAKE:
			return futex_wake(addr, (int)a[2], FUTEX_BITSET_MATCH_ANY);
		case FUTEX_WAKE_BITSET:
			return futex_wake(addr, (int)a[2], (uint32_t)a[5]);
		default:
			break;
		}
	}
	return REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
