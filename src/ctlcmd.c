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
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "runtime.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
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
	unw_context_t uc;
	unw_cursor_t c;
	unw_word_t o = 0;
	Dl_info di;
	bool was;
	int r = -1;

	name[0] = '\0';
	*off = 0;
	/* A cursor whose ip is pc: libunwind names the procedure at pc
	 * without unwinding anything. As a signal frame, so that pc itself is
	 * looked up, not the call before a return address (pc - 1): a start
	 * routine's first byte would be named after the function before it. */
	unw_getcontext(&uc);
	((ucontext_t *)&uc)->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
	/* libunwind's locks and reads must get plain libc (introspect.c). */
	was = osthread_runtime_begin();
	if (unw_init_local2(&c, &uc, UNW_INIT_SIGNAL_FRAME) == 0)
		r = unw_get_proc_name(&c, name, len, &o);
	osthread_runtime_end(was);
	if (r == 0) {
		*off = (uintptr_t)o;
		return;
	}
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
	unsigned long ready = 0, parked = 0;

	for (struct green *g = h->runq_head; g != NULL; g = g->next)
		ready++;
	for (struct green *g = h->all; g != NULL; g = g->all_next)
		parked += g->state == GREEN_PARKED;
	stat_record(b, h, "threads", (long long)h->nrunning);
	stat_record(b, h, "threads_ready", (long long)ready);
	stat_record(b, h, "threads_waiting", (long long)parked);
	stat_record(b, h, "switches", (long long)__atomic_load_n(&h->switches, __ATOMIC_RELAXED));
	stat_record(b, h, "loop_iterations", (long long)h->loops);
	stat_record(b, h, "preempt_ticks", (long long)h->preempt_ticks);
	stat_record(b, h, "preemptions", (long long)h->preemptions);
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

		if (g->state == GREEN_DEAD)
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

/* ---- profile: on-CPU samples and off-CPU time, as folded stacks --------- */

#define PROF_ON_US 1000    /* a sample of what runs, every millisecond at most */
#define PROF_OFF_EVERY 20  /* the waiting threads' stacks, every 20 samples */
/* Each sample weighs the time since the one before (a sample can take
 * longer than the period: the signal waits for the CPU), so the weights
 * of one hub's samples add up to the profile's length. */
#define PROF_SLOTS 4096

struct prof {
	char *key[PROF_SLOTS];
	unsigned long long us[PROF_SLOTS];
	unsigned long on_samples, off_samples, lost;
	unsigned long long on_us, off_us; /* this round's weights */
	int hub_timeout_ms; /* for the waiting stacks; 0: CTL_HUB_TIMEOUT_MS */
	struct ctl_buf tmp;
};

static void prof_add(struct prof *p, const char *key, unsigned long long us)
{
	unsigned h = 5381;

	for (const char *c = key; *c != '\0'; c++)
		h = h * 33 + (unsigned char)*c;
	for (unsigned k = 0; k < PROF_SLOTS; k++) {
		unsigned s = (h + k) % PROF_SLOTS;

		if (p->key[s] == NULL) {
			p->key[s] = gs_strdup(key);
			if (p->key[s] == NULL)
				return;
			p->us[s] = us;
			return;
		}
		if (strcmp(p->key[s], key) == 0) {
			p->us[s] += us;
			return;
		}
	}
	p->lost++;
}

/* "top;frame;...;leaf" from frames innermost first. */
static void prof_key(struct ctl_buf *b, const char *top, const char *who,
		     const struct frame *f, int n)
{
	b->len = 0;
	ctl_printf(b, "%s;%s", top, who);
	for (int k = n - 1; k >= 0; k--)
		ctl_printf(b, ";%s", f[k].name[0] != '\0' ? f[k].name : "??");
}

static void prof_offcpu_hub(struct hub *h, void *arg)
{
	struct prof *p = arg;

	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		struct frame f[INTROSPECT_FRAMES_MAX];
		int n;

		if (g->state != GREEN_PARKED)
			continue;
		n = introspect_backtrace(g, f, INTROSPECT_FRAMES_MAX);
		if (n <= 0)
			continue;
		prof_key(&p->tmp, "off-CPU", g->name[0] != '\0' ? g->name : "thread", f, n);
		if (!p->tmp.failed)
			prof_add(p, p->tmp.p, p->off_us);
		p->off_samples++;
	}
}

struct prof_tick {
	struct prof *p;
	bool offcpu;
};

static void prof_each(struct hub *h, void *arg)
{
	struct prof_tick *t = arg;
	struct prof *p = t->p;
	struct sample_result s;

	if (introspect_sample(h, &s, 20) == 0 && !s.hub && s.nframes > 0) {
		prof_key(&p->tmp, "on-CPU", s.name[0] != '\0' ? s.name : "thread", s.frames,
			 s.nframes);
		if (!p->tmp.failed)
			prof_add(p, p->tmp.p, p->on_us);
		p->on_samples++;
	}
	if (t->offcpu)
		control_call_hub(h, prof_offcpu_hub, p,
				 p->hub_timeout_ms > 0 ? p->hub_timeout_ms : CTL_HUB_TIMEOUT_MS);
}

/* One sample of every hub (and, every PROF_OFF_EVERY ticks, of their
 * waiting threads), weighed by the time since the last. */
struct prof_clock {
	unsigned long tick;
	int64_t last, last_off, next;
};

static void prof_clock_init(struct prof_clock *c)
{
	c->tick = 0;
	c->last = c->last_off = c->next = gs_now_ns();
}

static void prof_sample(struct prof *p, struct prof_clock *c)
{
	struct prof_tick t = { .p = p, .offcpu = c->tick++ % PROF_OFF_EVERY == 0 };
	int64_t now = gs_now_ns();

	p->on_us = (unsigned long long)(now - c->last) / 1000;
	c->last = now;
	if (t.offcpu) {
		p->off_us = (unsigned long long)(now - c->last_off) / 1000;
		c->last_off = now;
	}
	introspect_foreach_hub(prof_each, &t);
}

static void prof_sleep(struct prof_clock *c)
{
	struct timespec ts;

	c->next += PROF_ON_US * 1000LL;
	ts.tv_sec = (time_t)(c->next / 1000000000);
	ts.tv_nsec = (long)(c->next % 1000000000);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void profile(struct ctl_buf *out, double seconds)
{
	struct prof *p = gs_calloc(1, sizeof *p);
	struct prof_clock c;
	int64_t end;

	if (p == NULL) {
		ctl_printf(out, "error\tout of memory\n");
		return;
	}
	prof_clock_init(&c);
	end = c.last + (int64_t)(seconds * 1e9);
	while (gs_now_ns() < end) {
		prof_sample(p, &c);
		prof_sleep(&c);
	}
	ctl_printf(out, "profile\t%lu\t%lu\t%lu\n", p->on_samples, p->off_samples, p->lost);
	for (unsigned k = 0; k < PROF_SLOTS; k++) {
		if (p->key[k] == NULL)
			continue;
		ctl_printf(out, "folded\t%s\t%llu\n", p->key[k], p->us[k]);
		gs_free(p->key[k]);
	}
	gs_free(p->tmp.p);
	gs_free(p);
}

/* ---- GREENSHIM_PROFILE: the same sampler for the process's whole life --- */

/* One runtime thread, "gs-profile", samples as above from the library's
 * start until exit; an exit handler (atexit, registered by the
 * constructor, so it runs after the program's own) stops it and appends
 * "PROGRAM;on-CPU;THREAD;frames... MICROSECONDS" lines to the file in one
 * write(2) (O_APPEND: processes that share the file never interleave).
 * The program's name leads each stack, so the processes of one run (a
 * shell script and what it starts, a server and its forked workers) are
 * told apart in one graph, and those of one name merge.
 *
 * The lock: the sampler holds it for each tick, the exit handler takes it
 * to stop the sampler for good and read the table. The exit handler may
 * run on a hub's thread (exit from a green thread): a tick that asks that
 * hub for its waiting stacks then waits RUN_HUB_TIMEOUT_MS at most (a
 * hub that answers later loses that round of waiting stacks).
 *
 * Fork: the child has no sampler thread, and a table (and lock) perhaps
 * caught mid-tick: it starts over, empty, with its own thread, and appends
 * its own profile when it exits. _exit, a fatal signal and exec end a
 * process without exit handlers: its samples are lost (docs/LIMITATIONS.md). */
#define RUN_HUB_TIMEOUT_MS 50

static struct prof *run_prof;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool run_stop;
static long run_pid;

static void *profile_main(void *arg)
{
	struct prof_clock c;

	(void)arg;
	prof_clock_init(&c);
	for (;;) {
		os_ops.mutex_lock(&run_lock);
		if (atomic_load(&run_stop)) {
			os_ops.mutex_unlock(&run_lock);
			return NULL;
		}
		prof_sample(run_prof, &c);
		os_ops.mutex_unlock(&run_lock);
		prof_sleep(&c);
	}
}

static bool write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		long w = arch_syscall3(SYS_write, fd, (long)p, (long)n);

		if (w == -EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The program's own threads run this (exit): raw system calls, never the
 * interposed ones, and libc's lock (os_ops). */
static void profile_at_exit(void)
{
	struct ctl_buf b = { 0 };
	struct prof *p = run_prof;
	long fd;

	if (p == NULL || arch_syscall3(SYS_getpid, 0, 0, 0) != run_pid)
		return;
	atomic_store(&run_stop, true);
	os_ops.mutex_lock(&run_lock);
	run_prof = NULL;
	for (unsigned k = 0; k < PROF_SLOTS; k++)
		if (p->key[k] != NULL)
			ctl_printf(&b, "%s;%s %llu\n", program_invocation_short_name, p->key[k],
				   p->us[k]);
	os_ops.mutex_unlock(&run_lock);
	if (b.len == 0 || b.failed)
		return;
	fd = arch_syscall3(SYS_open, (long)gs_config.profile_path,
			   O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_all_fd((int)fd, b.p, b.len);
		arch_syscall3(SYS_close, fd, 0, 0);
	}
	gs_free(b.p);
}

static void profile_start_thread(void)
{
	if (osthread_start(NULL, "gs-profile", profile_main, NULL, true) != 0)
		run_prof = NULL; /* no sampler: nothing to write */
}

void profile_start(void)
{
	config_load();
	if (gs_config.profile_path == NULL)
		return;
	run_prof = gs_calloc(1, sizeof *run_prof);
	if (run_prof == NULL)
		return;
	run_prof->hub_timeout_ms = RUN_HUB_TIMEOUT_MS;
	run_pid = arch_syscall3(SYS_getpid, 0, 0, 0);
	atexit(profile_at_exit);
	profile_start_thread();
}

void profile_fork_child(void)
{
	if (run_prof == NULL)
		return;
	/* The parent's table and lock, as the fork found them: the
	 * parent's to write. Its strings are left to the copy-on-write
	 * pages. */
	run_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	memset(run_prof, 0, sizeof *run_prof);
	run_prof->hub_timeout_ms = RUN_HUB_TIMEOUT_MS;
	run_pid = arch_syscall3(SYS_getpid, 0, 0, 0);
	profile_start_thread();
}

void control_command(const char *line, struct ctl_buf *out)
{
	double seconds;

	struct ctl_req r = { .out = out };

	if (strcmp(line, "ping") == 0) {
		ctl_printf(out, "ok\t%d\n", (int)getpid());
		return;
	}
	if (sscanf(line, "profile %lf", &seconds) == 1) {
		if (seconds <= 0 || seconds > 3600)
			ctl_printf(out, "error\tprofile: seconds from 0 to 3600\n");
		else
			profile(out, seconds);
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
	introspect_foreach_hub(each_hub, &r);
}
