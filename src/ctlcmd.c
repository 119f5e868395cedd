/*
 * The control socket's commands (control.c serves them): each request line
 * is answered with tab-separated records, one per line, which greenctl(1)
 * lays out; then the connection is closed.
 *
 *   ok     PID                                        ping
 *   hub    TID  THREADS  NOTE                         one per hub (OS thread)
 *   g      TID  ID  NAME  STATE  WHAT  AGE_NS  CPU_NS  SWITCHES  START
 *                                                     a green thread (ps, stacks)
 *   f      N  PC  FUNCTION+OFF  OBJECT                its frames (stacks)
 *   stat   TID  KEY  VALUE                            a counter (stats)
 *   note   TEXT                                       said once, above the rest
 *   error  TEXT                                       the request failed
 *
 * AGE_NS is the time since the thread entered its state, -1 if unknown;
 * CPU_NS its run time counted since a tool turned stats on (the first
 * greenctl request does, for the process's remaining life: a switch then
 * reads the clock, about 20 ns; src/introspect.c).
 *
 * Every record about a hub's green threads is written on that hub's OS
 * thread, in its hub context (control_call_hub): the control thread never
 * walks a hub's lists. A hub that does not answer in CTL_HUB_TIMEOUT_MS is
 * reported with what it runs, seen through introspect_sample() (a signal
 * the runtime owns, handled by the running thread itself).
 */
#include "hub_impl.h"
#include "tools.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_HUB_TIMEOUT_MS 1000
#define CTL_SAMPLE_TIMEOUT_MS 200

static int64_t stats_since; /* when the first request turned stats on */

enum ctl_what { CTL_PS, CTL_STACKS, CTL_STATS };

struct ctl_req {
	enum ctl_what what;
	struct ctl_buf *out;
};

/* ---- names for addresses ------------------------------------------------- */

/* The function containing pc, from the object's .symtab when it has one
 * (libunwind: static functions of an unstripped program too), else its
 * dynamic symbols; "" if none. Not for signal handlers. */
static void symbolize(uintptr_t pc, char *name, size_t len, uintptr_t *off)
{
	/* pc itself is looked up (the first frame's rule), not the call
	 * before a return address (pc - 1): a start routine's first byte
	 * would be named after the function before it. */
	struct frame f = { .pc = pc };
	Dl_info di;

	introspect_name_frames(&f, 1);
	if (f.name[0] != '\0') {
		snprintf(name, len, "%s", f.name);
		*off = f.off;
		return;
	}
	*off = 0;
	name[0] = '\0';
	if (dladdr((void *)pc, &di) != 0 && di.dli_sname != NULL) {
		snprintf(name, len, "%s", di.dli_sname);
		*off = pc - (uintptr_t)di.dli_saddr;
	}
}

static const char *object_of(uintptr_t pc)
{
	Dl_info di;

	if (dladdr((void *)pc, &di) != 0 && di.dli_fname != NULL && di.dli_fname[0] != '\0')
		return di.dli_fname;
	return "";
}

/* ---- what a hub answers, on its own thread ------------------------------- */

static void green_record(struct ctl_buf *b, struct hub *h, struct green *g, int64_t now)
{
	struct green_info i;
	char what[160], start[80];
	uintptr_t off;

	introspect_green(g, &i);
	introspect_describe(&i, what, sizeof what);
	for (char *p = what; *p != '\0'; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
	if (i.root) {
		snprintf(start, sizeof start, "%s", h->root == g ? "(OS thread's own)" : "-");
	} else if (i.start != NULL) {
		symbolize((uintptr_t)i.start, start, sizeof start, &off);
		if (start[0] == '\0')
			snprintf(start, sizeof start, "%p", (void *)i.start);
	} else {
		snprintf(start, sizeof start, "-");
	}
	ctl_printf(b, "g\t%d\t%llu\t%s\t%s\t%s\t%lld\t%lld\t%llu\t%s\n", h->tid,
		   (unsigned long long)i.id, i.name, introspect_state_name(i.state), what,
		   i.since != 0 ? (long long)(now - i.since) : -1LL, (long long)i.cpu_ns,
		   (unsigned long long)i.switches, start);
}

static void frame_records(struct ctl_buf *b, const struct frame *f, int n)
{
	for (int k = 0; k < n; k++) {
		const char *obj = object_of(f[k].pc - (k > 0));

		if (f[k].name[0] != '\0')
			ctl_printf(b, "f\t%d\t0x%lx\t%s+0x%lx\t%s\n", k, (unsigned long)f[k].pc,
				   f[k].name, (unsigned long)f[k].off, obj);
		else
			ctl_printf(b, "f\t%d\t0x%lx\t??\t%s\n", k, (unsigned long)f[k].pc, obj);
	}
}

static void stat_record(struct ctl_buf *b, struct hub *h, const char *key, long long v)
{
	ctl_printf(b, "stat\t%d\t%s\t%lld\n", h->tid, key, v);
}

/* The call counters by call site, summed by the function that holds the
 * site (one wrapper may call into the runtime from several places). */
static void call_records(struct ctl_buf *b, struct hub *h, const char *prefix,
			 const uint64_t *counts)
{
	char names[HUB_CALL_SITES][64];
	uint64_t sums[HUB_CALL_SITES];
	int n = 0;

	for (int s = 0; s < HUB_CALL_SITES; s++) {
		char name[64];
		uintptr_t off;
		int k;

		if (h->call_site[s] == 0 || counts[s] == 0)
			continue;
		/* A return address: the call is the byte before it. */
		symbolize(h->call_site[s] - 1, name, sizeof name, &off);
		if (name[0] == '\0')
			snprintf(name, sizeof name, "%#lx", (unsigned long)h->call_site[s]);
		for (k = 0; k < n && strcmp(names[k], name) != 0; k++)
			;
		if (k == n) {
			snprintf(names[n], sizeof names[n], "%s", name);
			sums[n++] = 0;
		}
		sums[k] += counts[s];
	}
	for (int k = 0; k < n; k++)
		ctl_printf(b, "stat\t%d\t%s.%s\t%llu\n", h->tid, prefix, names[k],
			   (unsigned long long)sums[k]);
}

static void hub_stats(struct ctl_buf *b, struct hub *h)
{
	unsigned long parked = 0;

	for (struct green *g = h->all; g != NULL; g = g->all_next)
		parked += g->state == GREEN_PARKED && green_of_program(g);
	stat_record(b, h, "threads", (long long)h->nrunning);
	stat_record(b, h, "threads_ready", (long long)h->runq_len);
	stat_record(b, h, "threads_waiting", (long long)parked);
	stat_record(b, h, "switches", (long long)__atomic_load_n(&h->switches, __ATOMIC_RELAXED));
	stat_record(b, h, "loop_iterations", (long long)h->loops);
	stat_record(b, h, "preempt_ticks", (long long)h->preempt_ticks);
	stat_record(b, h, "preemptions", (long long)h->preemptions);
	stat_record(b, h, "threads_moved_out", (long long)h->moved_out);
	stat_record(b, h, "threads_moved_at_return", (long long)h->moved_at_return);
	stat_record(b, h, "program_signal_handlers_run", (long long)h->program_signals);
	stat_record(b, h, "longest_run_without_yielding_ns", (long long)h->longest_run);
	for (int k = 0; k < WAIT_KINDS; k++) {
		char key[64];

		if (h->waits[k] == 0)
			continue;
		snprintf(key, sizeof key, "waits.%s%s", introspect_kind_name((enum wait_kind)k),
			 k == WAIT_FD_READ ? "_read" : k == WAIT_FD_WRITE ? "_write" : "");
		stat_record(b, h, key, (long long)h->waits[k]);
	}
	call_records(b, h, "calls", h->call_n);
}

static void hub_answer(struct hub *h, void *arg)
{
	struct ctl_req *r = arg;
	struct ctl_buf *b = r->out;
	int64_t now = gs_now_ns();

	ctl_printf(b, "hub\t%d\t%lu\t\n", h->tid, h->nrunning);
	if (r->what == CTL_STATS) {
		hub_stats(b, h);
		return;
	}
	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		struct frame f[INTROSPECT_FRAMES_MAX];
		int n;

		if (g->state == GREEN_DEAD || !green_of_program(g))
			continue;
		green_record(b, h, g, now);
		if (r->what != CTL_STACKS)
			continue;
		n = introspect_backtrace(g, f, INTROSPECT_FRAMES_MAX);
		if (n < 0)
			ctl_printf(b, "f\t0\t0\t(no stack: %s)\t\n", strerror(-n));
		else
			frame_records(b, f, n);
	}
}

/* ---- on the control thread -------------------------------------------------- */

static void each_hub(struct hub *h, void *arg)
{
	struct ctl_req *r = arg;
	struct sample_result s;
	int e;

	if (control_call_hub(h, hub_answer, r, CTL_HUB_TIMEOUT_MS) == 0)
		return;
	/* The hub did not come back to its loop: say what it runs. */
	e = introspect_sample(h, &s, CTL_SAMPLE_TIMEOUT_MS);
	if (e != 0) {
		ctl_printf(r->out, "hub\t%d\t?\tno answer in %d ms, and no sample (%s)\n", h->tid,
			   CTL_HUB_TIMEOUT_MS, strerror(-e));
		return;
	}
	if (s.hub)
		ctl_printf(r->out, "hub\t%d\t?\tno answer in %d ms: the hub's own loop runs\n",
			   h->tid, CTL_HUB_TIMEOUT_MS);
	else
		ctl_printf(r->out,
			   "hub\t%d\t?\tno answer in %d ms: green thread %llu \"%s\" runs without "
			   "yielding (preemption off, or outside the program's code)\n",
			   h->tid, CTL_HUB_TIMEOUT_MS, (unsigned long long)s.id, s.name);
	if (r->what == CTL_STACKS && !s.hub) {
		ctl_printf(r->out, "g\t%d\t%llu\t%s\trunning\trunning (seen by a signal)\t-1\t-1\t%llu\t?\n",
			   h->tid, (unsigned long long)s.id, s.name,
			   (unsigned long long)s.switches);
		frame_records(r->out, s.frames, s.nframes);
	}
}

void control_command(const char *line, struct ctl_buf *out)
{
	struct ctl_req r = { .out = out };

	if (strcmp(line, "ping") == 0) {
		ctl_printf(out, "ok\t%d\n", (int)getpid());
		return;
	}
	if (strncmp(line, "profile ", 8) == 0) {
		profile_command(line + 8, out);
		return;
	}
	if (strcmp(line, "ps") == 0)
		r.what = CTL_PS;
	else if (strcmp(line, "stacks") == 0)
		r.what = CTL_STACKS;
	else if (strcmp(line, "stats") == 0)
		r.what = CTL_STATS;
	else {
		ctl_printf(out, "error\tunknown request \"%.64s\"\n", line);
		return;
	}
	if (!introspect_stats()) {
		stats_since = gs_now_ns();
		introspect_set_stats(true);
	}
	ctl_printf(out, "note\tCPU times and counters since greenctl first attached, %.1f s ago\n",
		   (double)(gs_now_ns() - stats_since) / 1e9);
	/* One hub after another: no thread moves from one to another
	 * meanwhile (it would be counted twice or not at all). */
	sched_moves_pause();
	introspect_foreach_hub(each_hub, &r);
	sched_moves_resume();
}
