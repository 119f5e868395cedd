/*
 * greenshim runtime: the tools' view of it, the internal interface of the
 * files that serve greenctl, gdb, the profiles and the blocking monitor
 * (control.c, ctlcmd.c, introspect.c, profile.c, monitor.c), and the few
 * hooks the rest of the runtime calls into them with. Conventions as in
 * runtime.h, which it builds on.
 */
#ifndef GS_TOOLS_H
#define GS_TOOLS_H

#include "hub_impl.h"

/* ---- control.c: the control socket greenctl talks to --------------------- */

/* A reply being written: text grown with ctl_printf. */
struct ctl_buf {
	char *p;
	size_t len, cap;
	bool failed; /* out of memory: the reply says so */
};

void ctl_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The library's constructor: listens on @greenshim-PID and starts the
 * "gs-control" thread, unless GREENSHIM_CONTROL=off or AT_SECURE. */
void control_start(void);
/* The atfork child handler: the child listens on its own name. */
void control_fork_child(void);
/* Ends the "gs-control" thread for a moment, keeping the socket (true if
 * one ended), and starts another; on the program's only thread. */
bool control_pause(void);
void control_resume(void);
/* Runs fn(h, arg) on h's OS thread, in its hub context, where every green
 * thread is suspended; from any other OS thread (the control thread, the
 * profiler's; call it inside introspect_foreach_hub, which keeps h alive).
 * 0 once it has run; -ETIMEDOUT if the hub did not take it within
 * timeout_ms (then it never runs); -EBUSY if another thread's call to h is
 * in flight (one at a time per hub). */
int control_call_hub(struct hub *h, void (*fn)(struct hub *h, void *arg), void *arg,
		     int timeout_ms);
/* hub.c's wake-up callback: runs the call the control thread posted. */
void control_hub_poll(struct hub *h);

/* One more call into the runtime from the call site at return address
 * site (stats on): open addressing, no allocation; a table already full
 * of other sites counts nothing more. */
static inline void control_count_call(struct hub *h, uintptr_t site)
{
	unsigned s = (unsigned)((site * 0x9E3779B97F4A7C15ull) >> 58) & (HUB_CALL_SITES - 1);

	for (unsigned k = 0; k < HUB_CALL_SITES; k++, s = (s + 1) & (HUB_CALL_SITES - 1)) {
		if (h->call_site[s] == site) {
			h->call_n[s]++;
			return;
		}
		if (h->call_site[s] == 0) {
			h->call_site[s] = site;
			h->call_n[s] = 1;
			return;
		}
	}
}
/* ctlcmd.c: answers one request line ("ps", "stacks", "stats"...). */
void control_command(const char *line, struct ctl_buf *out);

/* ---- profile.c: cpu, wait and lock profiles ------------------------------ */

/* The control thread: "profile SECONDS [KINDS [FRAMES]]" (after
 * "profile "), answered when the time is up. */
void profile_command(const char *args, struct ctl_buf *out);
/* GREENSHIM_PROFILE: the constructor starts the same sampler for the
 * process's whole life ("gs-profile"); its folded stacks are appended to
 * the kinds' files at exit. The atfork child handler starts the child's
 * own, empty. */
void profile_start(void);
void profile_fork_child(void);
/* Lock tables registered (a lock profile runs): wait_complete then calls
 * profile_lock_event before it wakes a waiter, on the waker's hub. */
extern int gs_prof_locks_on; /* read with __atomic_load_n, relaxed */
void profile_lock_event(struct wait *w, int result);

/* ---- introspect.c: what the green threads are doing --------------------- */

/*
 * The tools' view of the runtime (greenctl, the blocking monitor, the
 * deadlock report). Unless said otherwise, a function that takes a struct
 * hub or struct green runs on that hub's OS thread, while the green threads
 * it looks at are not running (they are suspended: their saved context is
 * what is unwound). introspect_sample() is the one way to see the running
 * thread of a hub from another OS thread.
 */

/* Per-switch accounting: each green's CPU time (cpu_ns), exact state
 * times (since), the hub's run_start and longest_run. Off until a tool
 * turns it on (GS_STATS_TOOL), or the program first reads a thread's CPU
 * clock (GS_STATS_CPU, for good: cpu_ns is then the OS thread's CPU time,
 * read at each switch): while off a switch pays one load and a predicted
 * branch, since is only as exact as the hub's last poll, cpu_ns stays 0. */
void introspect_set_stats(bool on); /* any thread: the tool's bit */
bool introspect_stats(void);
extern int gs_stats_on; /* read with __atomic_load_n, relaxed */
#define GS_STATS_TOOL 1
#define GS_STATS_CPU 2
#define GS_STATS_RUSAGE 4 /* getrusage(RUSAGE_THREAD), for good */
/* hub_switch, while stats are on. */
void introspect_account(struct hub *h, struct green *cur, struct green *next);
/* CLOCK_THREAD_CPUTIME_ID for h's current context: its CPU time, counted
 * at switches from the first such call on (GS_STATS_CPU). On h. */
int64_t introspect_thread_cpu_ns(struct hub *h);
/* Another green thread's CPU clock (pthread_getcpuclockid): g, whose id
 * is id, on hub on (as gid_find said), from any OS thread. Counting
 * begins as for CLOCK_THREAD_CPUTIME_ID, on on at its next switch or
 * preemption tick. 0 and *ns, or -EINVAL if its memory cannot be read
 * (the caller then checks that g is still id, on on). */
int introspect_green_cpu_ns(struct green *g, uint64_t id, struct hub *on, int64_t *ns);
/* The main thread as a green thread, on the first hub (*on); NULL where
 * it is none (GREENSHIM_THREADS=native) or has ended. */
struct green *introspect_main_green(struct hub **on);
/* h's OS thread's CPU time, from any OS thread, or -1: its thread CPU
 * clock (clock_getcpuclockid's for a thread id), read with the raw call. */
int64_t introspect_hub_cpu_ns(const struct hub *h);
/* The program reads its own thread's CPU clock (GS_STATS_CPU) or usage
 * (GS_STATS_RUSAGE) where the answer is the kernel's (a thread with no hub
 * yet: the main thread before its second): each hub begins counting at
 * its first switch from now on, so that the threads that run there later
 * are not counted to the main thread. Any thread. */
void introspect_counting_on(int what);
/* getrusage(RUSAGE_THREAD) for h's current context: what its OS threads
 * spent while it ran, counted at switches from the first such call on
 * (GS_STATS_RUSAGE), its own switches, and the process's ru_maxrss as the
 * kernel gives it. 0, or -errno from the kernel's call. On h. */
int introspect_thread_rusage(struct hub *h, struct rusage *out);
/* The preemption tick on h, wherever it came: h begins counting CPU time
 * if the program reads thread CPU clocks and h has not yet. */
void introspect_cpu_tick(struct hub *h);

/* Writes one report, in one write, to stderr or to the end of the file
 * GREENSHIM_LOG names. The file is opened for each report and closed
 * after it: the program's fd numbers stay its own (config_load only
 * checked that it can be opened). Any thread; not in a signal handler. */
void introspect_log(const char *buf, size_t len);

/* A snapshot of one green thread. */
struct green_info {
	uint64_t id;
	char name[16];            /* "" if the program never named it */
	enum green_state state;
	bool root;                /* the OS thread's own context (main()) */
	void *(*start)(void *);   /* NULL for the root */
	uint64_t switches;        /* times it was switched to */
	int64_t since;            /* CLOCK_MONOTONIC ns it entered state; 0 unknown */
	int64_t cpu_ns;           /* stats on: its run slices so far */
	/* PARKED only: */
	enum wait_kind kind;
	long num;
	const void *obj;
	int64_t deadline;         /* GS_NO_DEADLINE if untimed */
	uint64_t owner_id;        /* WAIT_MUTEX: the holder (0: none); WAIT_JOIN: the joined */
	char owner_name[16];
};

const char *introspect_state_name(enum green_state s); /* "running", ... */
const char *introspect_kind_name(enum wait_kind k);    /* "mutex", "fd", ... */
void introspect_green(const struct green *g, struct green_info *out);
/* One line of text for what i is doing: "running", "ready",
 * "waiting on fd 5 (read)", "waiting on mutex 0x5588... held by thread 3
 * \"worker\"", "sleeping (1.500 s left)"... Returns snprintf's count. */
int introspect_describe(const struct green_info *i, char *buf, size_t len);

/*
 * The table debuggers read (tools/gdb/greenshim-gdb.py): exported, so that
 * a library stripped of its debug info and .symtab still has it. It is
 * self-describing: names[] holds count space-separated names ("hub.all",
 * "green.state", "state.parked"...), and values[k] and sizes[k] the k-th:
 * a field's offset and width in bytes, or, with size 0, a constant or an
 * address in the process. version changes when a name's meaning does;
 * new names may be added without it.
 */
#define GS_DEBUG_TABLE_VERSION 1

struct gs_debug_table {
	char magic[8]; /* "gsdebug" */
	uint32_t version;
	uint32_t count;
	const char *names;
	const uint64_t *values;
	const uint8_t *sizes;
};

extern const struct gs_debug_table gs_debug_table;

/* One stack frame, symbolized by libunwind (the object's .symtab if it has
 * one, else .dynsym). */
struct frame {
	uintptr_t pc;
	uintptr_t off;  /* pc - the function's start, when named */
	char name[64];  /* "" when no symbol covers pc */
	bool sig;       /* a signal interrupted it: the frame before is the
			 * kernel's trampoline, and a handler's above that */
};

#define INTROSPECT_FRAMES_MAX 48

/* Unwinds g's stack into f (at most max frames), innermost first: from its
 * saved context if suspended, or the caller's own stack if g is the
 * calling green. Returns the count or a negative errno (-ESRCH: g is dead
 * or runs on another OS thread). */
int introspect_backtrace(struct green *g, struct frame *f, int max);
/* The same, as pcs only (introspect_name_frames names them later, on any
 * thread), and *sig_at the index of the first frame a signal interrupted
 * (struct frame's sig), -1 if none. Light on the stack: a lock profile
 * calls it on the thread that unlocks. */
int introspect_backtrace_pcs(struct green *g, uintptr_t *pcs, int max, int *sig_at);
/* The same for the thread that runs, from its own signal handler: -EAGAIN
 * rather than wait while a fork holds the unwinders off. */
int introspect_backtrace_pcs_here(uintptr_t *pcs, int max, int *sig_at);
/* Names frames left unnamed: not in a signal handler (libunwind reads
 * symbol tables with malloc). Frame 0's pc is taken as exact, the others
 * as return addresses. */
void introspect_name_frames(struct frame *f, int n);
/* libunwind's one-time set-up (it opens a pipe to check addresses with),
 * done by the first sampler before it sends a signal whose handler
 * unwinds. errno is kept. */
void introspect_unwind_init(void);
/* pc is the runtime's own code (libgreenshim.so's executable segments). */
bool introspect_own_pc(uintptr_t pc);
/* Unwinds from a signal handler's ucontext (its third argument): what the
 * interrupted code was doing, frames unnamed (pc only: naming mallocs,
 * which the handler may have interrupted; introspect_sample names them
 * afterwards on its own thread). Async-signal-safe as far as libunwind's
 * local unwinding is. */
/* past_signal: only the frames outside the innermost signal handler (the
 * context was in the runtime's own). */
int introspect_backtrace_uc(void *uc, struct frame *f, int max, bool past_signal);
/* Appends "    #N 0xPC name+0xOFF (object)" lines to buf (dladdr names the
 * object; "?? (object+0xOFF)" when no symbol is known, for addr2line);
 * not for signal handlers. Returns the length written. */
size_t introspect_format_frames(const struct frame *f, int n, char *buf, size_t len);

/* Every hub of the process: registered by hub_create, gone with
 * hub_destroy. fn runs under the registry's lock (it must not wait for a
 * hub's OS thread to do anything but handle a signal). Any thread. */
void introspect_foreach_hub(void (*fn)(struct hub *h, void *arg), void *arg);
/* The lock introspect_foreach_hub holds (the registry of hubs). */
void introspect_hubs_lock(void);
void introspect_hubs_unlock(void);
void introspect_hub_register(struct hub *h);
void introspect_hub_unregister(struct hub *h);
/* Around fork (pthread_atfork): no unwinding under way in another OS
 * thread, whose libunwind locks the child would inherit held. */
void introspect_fork_prepare(void);
void introspect_fork_parent(void);
void introspect_fork_child(struct hub *h); /* h: the child's one hub */

/* The running green thread of h, seen from another OS thread (from inside
 * an introspect_foreach_hub callback, so that h stays alive): a signal
 * (preempt_signal(), marked by preempt_send_sample) makes h's OS thread unwind
 * itself in the handler. Fills what ran (id, name, the hub's switch count
 * then) and its frames. -EAGAIN: the signal is the program's, -EBUSY:
 * another sample is under way, -ETIMEDOUT: no answer in timeout_ms. */
struct sample_result {
	uint64_t id;
	char name[16];
	bool hub;          /* the hub's own context was running (the loop) */
	uint64_t switches; /* h->switches when the handler ran */
	int nframes;
	struct frame frames[INTROSPECT_FRAMES_MAX];
};
int introspect_sample(struct hub *h, struct sample_result *out, int timeout_ms);
/* The same, its frames unnamed (pc and sig only), for a caller that names
 * them itself (the profiler, through its cache). */
int introspect_sample_unnamed(struct hub *h, struct sample_result *out, int timeout_ms);
/* preempt.c's handler, first thing: answers a pending sample. */
void introspect_sample_signal(struct hub *h, void *uc);

/* A report of every green thread of h, what it does and its stack, after
 * a first line title (none if NULL), into buf (NUL-terminated); returns
 * its length. On h's OS thread, from the hub's context (every green
 * suspended), as the stuck hook is; or from another hub's while h sleeps
 * stuck (the deadlock report of several hubs, sched.c). */
size_t introspect_dump_hub(struct hub *h, const char *title, char *buf, size_t len);
/* The stuck hook (preload/init.c installs it): the deadlock report. */
void introspect_deadlock_report(struct hub *h);

/* ---- monitor.c: the blocking monitor (GREENSHIM_MAX_BLOCKING_MS) -------- */

/* preload/init.c: the monitor thread ("gs-monitor") starts when the
 * process first has two green threads on one hub. */
void monitor_enable(void);
/* hub_link_green, when a hub gets its second green thread. */
void monitor_green_added(void);
/* Fork child: the thread is not there any more; it starts again with the
 * second green thread. */
void monitor_fork_child(void);
bool monitor_running(void);
/* Reports written so far (for tests). */
unsigned long monitor_reports(void);

#endif
