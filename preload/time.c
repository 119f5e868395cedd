/*
 * Sleeps and yields: sleep, usleep, nanosleep, clock_nanosleep, sched_yield;
 * and the calling thread's CPU clock.
 *
 * A sleep of a green thread is a wait on its own timer in the hub. The
 * clocks that can be waited on are CLOCK_MONOTONIC, CLOCK_REALTIME,
 * CLOCK_BOOTTIME and CLOCK_TAI, relative or absolute; an absolute time is
 * turned into a duration when the call is made (a later change of the
 * realtime clock does not move it; docs/LIMITATIONS.md). CPU-time clocks
 * are the plain call.
 */
#include <sched.h>
#include <unistd.h>

#include "preload.h"
#include "../src/tools.h"

static bool ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

/* The time left to a deadline, for an interrupted sleep. */
static void time_left(int64_t deadline, struct timespec *rem)
{
	int64_t left = deadline - gs_now_ns();

	if (left < 0)
		left = 0;
	rem->tv_sec = left / 1000000000;
	rem->tv_nsec = left % 1000000000;
}

/* CLOCK_THREAD_CPUTIME_ID is the calling green thread's own CPU time, as
 * natively each thread's: the OS thread's CPU time counted at switches
 * from the program's first such call on (src/introspect.c; the time
 * before it goes to the main thread). Every other clock, and a caller
 * that is no green thread, libc's call; a loop that reads the clock is
 * preempted at its return if the last tick could not. */
GS_WRAP int clock_gettime(clockid_t clk, struct timespec *ts)
{
	struct hub *h;
	int64_t ns;
	int r;

	if (GS_UNLIKELY(clk < 0) && (r = preload_thread_clock(clk, &ns)) <= 0) {
		/* Another thread's CPU clock (pthread_getcpuclockid); a loop
		 * that reads it (a profiler, gs-threadbench's other-cpu-clock)
		 * is preempted here too, else the blocking monitor saw it keep
		 * its OS thread. */
		if (r < 0)
			return preload_fail(r);
		preempt_at_return((uintptr_t)__builtin_return_address(0));
	} else if (GS_LIKELY(clk != CLOCK_THREAD_CPUTIME_ID) || (h = hub_peek()) == NULL ||
		   hub_in_loop(h) || preload_native()) {
		if (clk == CLOCK_THREAD_CPUTIME_ID && h == NULL && !preload_native())
			introspect_counting_on(GS_STATS_CPU);
		r = REAL(clock_gettime)(clk, ts);
		/* A loop waiting for a time is preempted here. */
		preempt_at_return((uintptr_t)__builtin_return_address(0));
		return r;
	} else {
		ns = introspect_thread_cpu_ns(h);
		/* A loop that computes until its own CPU time has grown: the
		 * tick mostly finds it in the kernel's clock call, where it
		 * cannot stop it (before 2026-12-07 such a loop kept its hub
		 * to itself). */
		preempt_at_return((uintptr_t)__builtin_return_address(0));
	}
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

/* RUSAGE_THREAD is the calling green thread's own usage, as natively each
 * thread's: what its OS threads spent while it ran (CPU time, faults,
 * block I/O, their context switches), counted at switches from the
 * program's first such call on (src/introspect.c; what came before goes
 * to the main thread), and its own switches: a wait is a voluntary one, a
 * preemption or a yield an involuntary one. RUSAGE_SELF, RUSAGE_CHILDREN,
 * and a caller that is no green thread: libc's call. */
GS_WRAP int getrusage(__rusage_who_t who, struct rusage *usage)
{
	struct hub *h;
	int r;

	if (GS_LIKELY(who != RUSAGE_THREAD))
		return REAL(getrusage)(who, usage);
	if ((h = hub_peek()) == NULL || hub_in_loop(h) || preload_native()) {
		if (h == NULL && !preload_native())
			introspect_counting_on(GS_STATS_RUSAGE);
		return REAL(getrusage)(who, usage);
	}
	r = introspect_thread_rusage(h, usage);
	return r < 0 ? preload_fail(r) : 0;
}

/* A green thread's CPU clock, or main's, has the resolution of the
 * kernel's thread CPU clocks: 1 ns (HotSpot checks it before it uses
 * pthread_getcpuclockid's clocks). */
GS_WRAP int clock_getres(clockid_t clk, struct timespec *res)
{
	int r;

	if (GS_LIKELY(clk >= 0) || (r = preload_thread_clock(clk, NULL)) > 0)
		return REAL(clock_getres)(clk, res);
	if (r < 0)
		return preload_fail(r);
	if (res != NULL) {
		res->tv_sec = 0;
		res->tv_nsec = 1;
	}
	return 0;
}

GS_WRAP int nanosleep(const struct timespec *req, struct timespec *rem)
{
	int64_t deadline;
	struct hub *h;
	int r;

	if (req == NULL || !ts_valid(req) || (h = preload_hub()) == NULL)
		return REAL(nanosleep)(req, rem);
	deadline = preload_ts_deadline(req);
	r = green_sleep_until(deadline);
	if (r == -EINTR && rem != NULL)
		time_left(deadline, rem);
	return PRELOAD_SETTLED(r < 0 ? preload_fail(r) : 0);
}

GS_WRAP int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
			    struct timespec *rem)
{
	struct timespec now;
	int64_t ns, deadline;
	struct hub *h;
	int r;

	if (req == NULL || !ts_valid(req) ||
	    (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME && clk != CLOCK_BOOTTIME &&
	     clk != CLOCK_TAI) ||
	    (h = preload_hub()) == NULL)
		return REAL(clock_nanosleep)(clk, flags, req, rem);
	ns = (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
	if (flags & TIMER_ABSTIME) {
		if (clock_gettime(clk, &now) != 0)
			return errno;
		ns -= (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
		if (ns <= 0)
			return 0;
	}
	deadline = gs_deadline_after(ns);
	r = green_sleep_until(deadline);
	if (r == -EINTR && rem != NULL && !(flags & TIMER_ABSTIME))
		time_left(deadline, rem);
	/* A cancellation point: a cancellation acts here, as in glibc's
	 * (before 2026-12-07 it returned ECANCELED, which it never does). */
	if (GS_UNLIKELY(r == -ECANCELED))
		preload_cancel_act();
	return PRELOAD_SETTLED(r < 0 ? -r : 0); /* clock_nanosleep returns the error */
}

GS_WRAP int usleep(useconds_t us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	return PRELOAD_SETTLED(nanosleep(&ts, NULL));
}

GS_WRAP unsigned sleep(unsigned s)
{
	struct timespec ts = { s, 0 }, rem;

	if (preload_hub() == NULL)
		return REAL(sleep)(s);
	/* Interrupted: the whole seconds left, as glibc's sleep returns
	 * (it drops the fraction). */
	return PRELOAD_SETTLED(nanosleep(&ts, &rem) == 0 ? 0u : (unsigned)rem.tv_sec);
}

GS_WRAP int sched_yield(void)
{
	/* With native threads, the other threads are the kernel's to run. */
	if (preload_native() || preload_hub() == NULL)
		return REAL(sched_yield)();
	green_yield();
	return 0;
}
