/*
 * The blocking monitor: a report when one green thread runs so long without
 * waiting or yielding that the others of its OS thread cannot run
 * (GREENSHIM_MAX_BLOCKING_MS, 100 ms by default, as gevent's
 * max_blocking_time).
 *
 * What it owns: one OS thread of the runtime's ("gs-monitor", osthread.c),
 * started when the process first has two green threads on one hub (a
 * program with one thread cannot starve anyone, and gets no extra thread),
 * and started again in a fork child when it gets its second one.
 *
 * How it sees a blocked hub without costing the hub anything: every
 * max_blocking/2 it reads each hub's switch count and current context
 * (relaxed loads). A hub whose count has not moved while a green thread
 * (not the hub's own loop context) runs has been running that thread at
 * least since the monitor first saw that count (exactly since h->run_start
 * when a tool turned stats on). Once that reaches the limit it asks the
 * hub's OS thread for a backtrace (introspect_sample: a signal, unwound in
 * the handler, on the thread itself) and writes one report, in one write,
 * to stderr or GREENSHIM_LOG; again at most once a second while that same
 * run lasts.
 *
 * Cost: one wake-up of this thread every max_blocking/2 (50 ms by
 * default), a few loads per hub; the hubs pay nothing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime.h"
#include "sys.h"

#define REPEAT_NS 1000000000LL /* at most one report a second per run */
#define SAMPLE_TIMEOUT_MS 500

static atomic_bool enabled;
static atomic_int started; /* 0 no, 1 starting or running */
static atomic_ulong reports;

void monitor_enable(void)
{
	atomic_store(&enabled, true);
}

bool monitor_running(void)
{
	return atomic_load(&started) != 0;
}

unsigned long monitor_reports(void)
{
	return atomic_load(&reports);
}

static void report(struct hub *h, int64_t ran, bool exact)
{
	static struct sample_result s; /* only this thread reports */
	static char buf[16384];
	size_t n = 0, cap = sizeof buf;
	int r = introspect_sample(h, &s, SAMPLE_TIMEOUT_MS);
	long limit_ms = (long)(gs_config.max_blocking_ns / 1000000);
	unsigned long nrunning = __atomic_load_n(&h->nrunning, __ATOMIC_RELAXED);
	unsigned long others = nrunning > 0 ? nrunning - 1 : 0;

	if (r == 0 && (s.hub || s.switches != h->mon_switches))
		return; /* it moved on meanwhile: nothing to report */
	if (r == 0)
		n = (size_t)snprintf(buf, cap,
				     "greenshim: thread %llu%s%s%s has kept OS thread %d for %s%.3f s "
				     "without switching (GREENSHIM_MAX_BLOCKING_MS=%ld); the other %lu "
				     "green thread%s there cannot run meanwhile. Its stack:\n",
				     (unsigned long long)s.id, s.name[0] ? " \"" : "", s.name,
				     s.name[0] ? "\"" : "", h->tid, exact ? "" : "at least ",
				     (double)ran / 1e9, limit_ms, others, others == 1 ? "" : "s");
	else
		n = (size_t)snprintf(buf, cap,
				     "greenshim: a green thread has kept OS thread %d for %s%.3f s "
				     "without switching (GREENSHIM_MAX_BLOCKING_MS=%ld); no stack: %s\n",
				     h->tid, exact ? "" : "at least ", (double)ran / 1e9, limit_ms,
				     r == -EAGAIN ? "the program uses the signal it needs"
						  : "the thread did not answer the signal");
	if (n >= cap)
		n = cap - 1;
	if (r == 0)
		n += introspect_format_frames(s.frames, s.nframes, buf + n, cap - n);
	atomic_fetch_add(&reports, 1);
	introspect_log(buf, n);
}

static void check_hub(struct hub *h, void *arg)
{
	int64_t now = *(int64_t *)arg;
	uint64_t sw = __atomic_load_n(&h->switches, __ATOMIC_RELAXED);
	struct green *cur = __atomic_load_n(&h->current, __ATOMIC_RELAXED);
	int64_t start, ran;
	bool exact = true;

	if (sw != h->mon_switches || cur == h->hub_green || h->mon_seen == 0) {
		h->mon_switches = sw;
		h->mon_seen = now;
		h->mon_reported = 0;
		return;
	}
	start = atomic_load_explicit(&h->run_start, memory_order_relaxed);
	if (start == 0 || start > h->mon_seen) {
		start = h->mon_seen; /* stats off: the first time this run was seen */
		exact = false;
	}
	ran = now - start;
	if (ran < gs_config.max_blocking_ns)
		return;
	if (h->mon_reported != 0 && now - h->mon_reported < REPEAT_NS)
		return;
	h->mon_reported = now;
	report(h, ran, exact);
}

static void *monitor_main(void *arg)
{
	int64_t period = gs_config.max_blocking_ns / 2;
	struct timespec ts;

	(void)arg;
	if (period < 1000000)
		period = 1000000;
	ts.tv_sec = (time_t)(period / 1000000000);
	ts.tv_nsec = (long)(period % 1000000000);
	for (;;) {
		int64_t now;

		arch_syscall3(SYS_nanosleep, (long)&ts, 0, 0);
		now = gs_now_ns();
		introspect_foreach_hub(check_hub, &now);
	}
	return NULL;
}

void monitor_green_added(void)
{
	int expected = 0;

	if (!atomic_load_explicit(&enabled, memory_order_relaxed) ||
	    atomic_load_explicit(&started, memory_order_relaxed) != 0)
		return;
	config_load();
	if (gs_config.max_blocking_ns == 0 || gs_config.native_threads)
		return;
	if (!atomic_compare_exchange_strong(&started, &expected, 1))
		return;
	/* The handler that takes the backtraces, before anything is sent. */
	preempt_handler_ready();
	if (osthread_start(NULL, "gs-monitor", monitor_main, NULL, true) < 0)
		atomic_store(&started, 0);
}

void monitor_fork_child(void)
{
	atomic_store(&started, 0);
}
