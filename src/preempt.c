/*
 * Preemption of green threads that compute without ever waiting.
 *
 * Cooperative scheduling lets a thread that never waits keep every other
 * green thread of its OS thread from running: a timed wait that expired
 * is not noticed, so CPython's GIL, whose waiting thread asks for the GIL
 * after its 5 ms timed wait, would never change hands. Native threads are
 * preempted by the kernel; green threads are preempted here.
 *
 * How: each hub has a POSIX timer that sends preempt_signal() to its own
 * OS thread every gs_config.preempt_ns while a green thread runs (it is
 * disarmed when the hub finds nothing to run). The handler runs on the
 * running green thread's own stack. If that thread has switched since the
 * last tick and no timed wait has ended meanwhile (hub->next_deadline),
 * all is well. Otherwise, if it was interrupted at a safe point, the
 * handler puts it at the end of the run queue and switches to the hub,
 * from inside the handler; when the thread is resumed, the handler returns
 * and the kernel restores its registers. So a thread computes for at most
 * two ticks while others are ready. A timed wait that is to end before the
 * next tick brings that tick forward to its deadline (preempt_tick_by), so
 * it ends on time where the tick finds a safe point, not up to a tick
 * late.
 *
 * A safe point is an instruction of the program itself or of a library it
 * was started with, in a thread that is RUNNING, or of code not known at
 * start under the conditions of late_stack_ok (below: late code); never of
 * libc, the dynamic loader, the vDSO, libev, libgcc_s, libstdc++,
 * libunwind (the tools' unwinding runs with the wrappers off, introspect.c)
 * or greenshim (they hold locks, or the runtime is in the middle of a
 * switch there), wherever they were loaded from, of the library whose
 * malloc the program calls when that is not libc's (jemalloc, tcmalloc,
 * mimalloc: stopped halfway, an allocator leaves state that is not per
 * green thread half-updated: without this rule tests/preload/allocators.c
 * passed 3, 4 and 4 runs of 6 with them, even with a TLS per thread and
 * the runtime allocating from glibc's malloc), of a signal handler of the
 * program (hub->frames), or of a library the runtime calls with the
 * wrappers off (osthread_runtime_begin: libunwind and what it calls,
 * liblzma included): there the thread is left alone and tried again at
 * the next tick.
 *
 * A tick that would preempt but finds no safe point notes it
 * (h->preempt_missed, for the switch count it saw), and the thread is
 * preempted at the next return of an interposed call to the program's own
 * code (preempt_at_return: clock_gettime's, and every wrapper that may
 * wait, through PRELOAD_SETTLED), unless it switched meanwhile: a loop that
 * reads the clock until a time, or accepts from a full backlog, spends
 * nearly all its time where the ticks may not preempt it.
 *
 * A safe point is also where a thread of the asynchronous cancellation
 * type, cancelled by another, ends (cancel_async): glibc would signal it
 * at once; here the next tick that finds it at a safe point unwinds it
 * from the handler, through the signal's frame, as glibc's SIGCANCEL
 * handler does. Only at a safe point: the runtime's and libc's locks and
 * lists are never left half-done by the unwinding.
 *
 * The same signal, sent by another thread of the runtime with
 * rt_tgsigqueueinfo (si_code SI_QUEUE, this process's pid, a marker value:
 * preempt_send_sample), asks the thread for a backtrace of what it runs
 * (introspect_sample, for the blocking monitor and greenctl): the handler
 * answers it first and preempts nothing then. Sent with another marker
 * (preempt_kick) it is a kick: another OS thread posted a signal for one
 * of the hub's threads (hub_post_kill) while the hub runs one, and the
 * handler takes the post where the running thread may be stopped
 * (kick_take: no switch), so that a computing target handles it at once,
 * as natively, not at the hub's next turn through its loop. The handler is
 * installed for both even when preemption is off (GREENSHIM_PREEMPT_MS=0).
 * The signal
 * sent any other way (kill, raise, pthread_kill, sigqueue without the
 * marker: the program has no handler of its own for it, or the runtime's
 * would not be there) gets its native action: the process ends as killed
 * by it.
 *
 * Under valgrind, a tick that finds no safe point makes the next come twice
 * as late (at most TICK_BACKOFF_MAX_NS); the first preemption, or the next
 * arming, brings back gs_config.preempt_ns. Valgrind checks a system
 * call's arguments before it makes the call (every byte of a write's
 * buffer: some 5 ms for 4 MiB) and makes the call again after a handler
 * that came meanwhile returns (SA_RESTART): with a tick shorter than the
 * check, a big write started over for ever (tests/preload/io_semantics
 * big_write, docs/LIMITATIONS.md).
 *
 * Invariants: the signal is blocked while its handler runs (not
 * SA_NODEFER): where a delivery takes longer than a tick (a tracer that
 * stops the thread at every signal, as strace -k does), each new tick
 * came at the first instruction of the handler it interrupted, and the
 * nested frames filled the stack until the kernel killed the process
 * with SIGSEGV. A handler that leaves by a switch unblocks it first
 * (unblock_tick), so that a thread preempted inside the handler does not
 * keep the signal blocked for the others. The handler never runs on the
 * alternate signal stack (it switches away from the stack it runs on and
 * comes back later).
 */
#include "hub_impl.h"
#include "tools.h" /* before <link.h>: <elf.h> defines EV_NONE, ev.h an enum */

#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <valgrind/valgrind.h>

#include "sys.h"

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define SAFE_RANGES_MAX 64
#define TICK_BACKOFF_MAX_NS 1000000000
/* While ticks overrun, at most this many times GREENSHIM_PREEMPT_MS
 * between two (preempt_handler). */
#define TICK_OVERRUN_MAX 8

struct range {
	uintptr_t lo, hi;
};

static struct range safe[SAFE_RANGES_MAX];
static int nsafe;
/* libc's, the loader's and libunwind's code (preempt_pc_kind). */
static struct range libc_text[SAFE_RANGES_MAX];
static int nlibc;
/* The other objects of the start where no thread is preempted (libev,
 * libgcc_s, libstdc++, greenshim, the vDSO, the program's allocator). */
static struct range never[SAFE_RANGES_MAX];
static int nnever;
static atomic_int state; /* 0 unknown, 1 on, -1 off for good */
/* The program's disposition of the signal while our handler keeps it
 * (preempt_keep_signal): SIG_IGN, else SIG_DFL; or a handler of its own
 * (preempt_keep_handler), reached through program_handler. */
static atomic_bool program_ignores;
static atomic_bool program_handles;
static void (*program_handler)(int, siginfo_t *, void *);

/*
 * Code not known at start (late code): a library loaded with dlopen, and
 * code the program made itself (a JIT compiler's, in anonymous executable
 * memory or a memfd's). The first tick that finds a thread in code of no
 * known range looks its mapping up in /proc/self/maps (maps.c: raw system
 * calls, no lock taken) and records it here: a library by the names the
 * start's rules use (unsafe_name), made code as the program's.
 * A thread in late code is preempted only when its stack holds no frame
 * of libc or the loader below that code, past the main thread's own start
 * (late_stack_ok): a library's constructors run inside dlopen with the
 * loader's lock held, and glibc takes that lock's owner for the OS
 * thread's id, which every green thread of a hub shares (tls.c,
 * tcb_move); a JIT's code is called by its runtime, not by libc.
 *
 * Entries are written once, under late_lock, before nlate publishes them;
 * a handler that finds the lock taken leaves its thread alone for that
 * tick. dlclose (preload/) makes every entry void (late_gen): the range
 * may hold another object later. When the table is full, code still
 * unknown stays unpreempted, as all late code was before.
 */
#define LATE_MAX 1024
#define LATE_RETRY_NS 100000000 /* after a lookup that failed */
#define LATE_FRAMES_MAX 256
/* The stack late_stack_ok needs below the handler's frame: its array of
 * pcs and libunwind's cursor, context and calls, with room to spare. */
#define LATE_STACK_NEED (32 * 1024)

enum late_kind { LATE_CHECKED = 1, LATE_NEVER };

struct late {
	uintptr_t lo, hi;
	unsigned gen;
	unsigned char kind; /* enum late_kind */
};

static struct late late[LATE_MAX];
static atomic_int nlate;
static atomic_uint late_gen;
static atomic_flag late_lock = ATOMIC_FLAG_INIT;
static _Atomic int64_t late_retry_ns;

static bool unsafe_name(const char *name)
{
	/* The vDSO too: the runtime reads the clock through it in the
	 * middle of a switch (gs_now_ns, ev_now_update). libunwind: the
	 * runtime's own unwinding (introspect.c) holds its cache locks. */
	static const char *const unsafe[] = { "libc.so",   "ld-linux",  "libgreenshim",
					      "libev.so",  "libgcc_s",  "libstdc++",
					      "libpthread", "libdl.so", "linux-vdso",
					      "libunwind" };

	for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
		if (strstr(name, unsafe[i]) != NULL)
			return true;
	return false;
}

static bool libc_name(const char *name)
{
	static const char *const libc[] = { "libc.so", "ld-linux", "libpthread", "libdl.so",
					    "linux-vdso", "libunwind" };

	for (size_t i = 0; i < sizeof libc / sizeof libc[0]; i++)
		if (strstr(name, libc[i]) != NULL)
			return true;
	return false;
}

static void add_text(struct range *r, int *n, const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum && *n < SAFE_RANGES_MAX; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];

		if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
			r[*n].lo = info->dlpi_addr + p->p_vaddr;
			r[*n].hi = r[*n].lo + p->p_memsz;
			(*n)++;
		}
	}
}

/* Is this object the runtime itself, whatever its file is called? (By
 * name alone, a copy installed as anything but libgreenshim* was the
 * program's to the tick, which then preempted threads inside the
 * scheduler: seen with a renamed copy under MariaDB, a thread resumed
 * in sched_settle with the run queue emptied under it.) */
static bool is_runtime(const struct dl_phdr_info *info)
{
	uintptr_t self = (uintptr_t)&is_runtime;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + p->p_vaddr;

		if (p->p_type == PT_LOAD && self >= lo && self < lo + p->p_memsz)
			return true;
	}
	return false;
}

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *allocator = arg;

	(void)size;
	if (libc_name(info->dlpi_name))
		add_text(libc_text, &nlibc, info);
	else if (is_runtime(info) || unsafe_name(info->dlpi_name) ||
		 (allocator != NULL && strcmp(info->dlpi_name, allocator) == 0))
		add_text(never, &nnever, info);
	else
		add_text(safe, &nsafe, info);
	return 0;
}

/* The file name of the shared object that defines the malloc the program
 * calls (the first in lookup order), or NULL: libc's (already unsafe),
 * the executable's own (whose other code must stay preemptible), or
 * unknown. */
static const char *allocator_object(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;

	if (m == NULL || dladdr(m, &info) == 0 || info.dli_fname == NULL ||
	    info.dli_fname[0] == '\0' || strstr(info.dli_fname, "libc.so") != NULL)
		return NULL;
	return info.dli_fname;
}

static bool in_ranges(const struct range *r, int n, uintptr_t pc)
{
	for (int i = 0; i < n; i++)
		if (pc >= r[i].lo && pc < r[i].hi)
			return true;
	return false;
}

static bool safe_pc(uintptr_t pc)
{
	return in_ranges(safe, nsafe, pc);
}

enum code_at { AT_PROGRAM, AT_NEVER, AT_LATE, AT_UNKNOWN };

static enum code_at code_at(uintptr_t pc)
{
	unsigned gen;
	int n;

	if (safe_pc(pc))
		return AT_PROGRAM;
	if (in_ranges(libc_text, nlibc, pc) || in_ranges(never, nnever, pc))
		return AT_NEVER;
	gen = atomic_load_explicit(&late_gen, memory_order_acquire);
	n = atomic_load_explicit(&nlate, memory_order_acquire);
	for (int i = n - 1; i >= 0; i--)
		if (late[i].gen == gen && pc >= late[i].lo && pc < late[i].hi)
			return late[i].kind == LATE_CHECKED ? AT_LATE : AT_NEVER;
	return AT_UNKNOWN;
}

/* pc's code is not known yet: its mapping is looked up and recorded. In
 * the tick's handler; where another hub's handler is at it, or a lookup
 * failed less than LATE_RETRY_NS ago, the thread is left alone this
 * time. */
static enum code_at late_learn(uintptr_t pc)
{
	enum code_at at = AT_NEVER;
	struct maps_entry m;
	unsigned gen;
	int n;

	if (atomic_load_explicit(&nlate, memory_order_relaxed) >= LATE_MAX ||
	    gs_now_ns() < atomic_load_explicit(&late_retry_ns, memory_order_relaxed) ||
	    atomic_flag_test_and_set_explicit(&late_lock, memory_order_acquire))
		return AT_NEVER;
	n = atomic_load_explicit(&nlate, memory_order_relaxed);
	/* Before the read: a dlclose after it voids what the read saw. */
	gen = atomic_load_explicit(&late_gen, memory_order_acquire);
	at = code_at(pc); /* another handler may have learnt it meanwhile */
	if (at == AT_UNKNOWN && n < LATE_MAX) {
		if (maps_find(pc, &m) == 0) {
			/* Anonymous or a memfd's: made code; "[vdso]" and the
			 * like: the kernel's; a file: a library, by its name. */
			bool made = m.name[0] == '\0' || strncmp(m.name, "memfd:", 6) == 0;
			bool never_here = !made && (m.name[0] == '[' || unsafe_name(m.name));

			late[n].lo = m.lo;
			late[n].hi = m.hi;
			late[n].gen = gen;
			late[n].kind = never_here ? LATE_NEVER : LATE_CHECKED;
			atomic_store_explicit(&nlate, n + 1, memory_order_release);
			at = never_here ? AT_NEVER : AT_LATE;
		} else {
			atomic_store_explicit(&late_retry_ns, gs_now_ns() + LATE_RETRY_NS,
					      memory_order_relaxed);
			at = AT_NEVER;
		}
	}
	atomic_flag_clear_explicit(&late_lock, memory_order_release);
	return at == AT_UNKNOWN ? AT_NEVER : at;
}

/* May the thread interrupted in late code stop there? Not when a frame of
 * libc or the loader is below that code, short of the frames that start the
 * main thread (__libc_start_call_main and __libc_start_main, under the
 * program's _start) or a green thread (the runtime's): a library's
 * constructor runs under _dl_init, with the loader's lock held. The
 * stack is read with libunwind, from here, as the moves read a preempted
 * thread's (sched.c, movable); one that ends early (a JIT's frames have
 * no unwinding tables) is judged by the frames read. */
static bool late_stack_ok(void)
{
	uintptr_t pcs[LATE_FRAMES_MAX];
	int sig_at, n = introspect_backtrace_pcs_here(pcs, LATE_FRAMES_MAX, &sig_at), end;

	if (n <= 0 || sig_at < 0 || n >= LATE_FRAMES_MAX)
		return false;
	end = n - 1;
	if (end > sig_at && preempt_pc_kind(pcs[end] - 1) != PC_LIBC)
		end--;
	while (end > sig_at && preempt_pc_kind(pcs[end] - 1) == PC_LIBC)
		end--;
	for (int k = sig_at + 1; k <= end; k++)
		if (preempt_pc_kind(pcs[k] - 1) == PC_LIBC)
			return false;
	return true;
}

/* May the tick stop cur, interrupted at pc? The handler runs on cur's
 * own stack: a green thread's that has less than LATE_STACK_NEED left
 * (a program's small stack) is not read, and the thread is left alone
 * in late code. */
static bool preemptible_at(const struct green *cur, uintptr_t pc)
{
	enum code_at at = code_at(pc);

	if (at == AT_UNKNOWN)
		at = late_learn(pc);
	if (at != AT_LATE)
		return at == AT_PROGRAM;
	if (cur->stack.lo != NULL &&
	    (uintptr_t)__builtin_frame_address(0) - (uintptr_t)cur->stack.lo < LATE_STACK_NEED)
		return false;
	return late_stack_ok();
}

void preempt_code_unloaded(void)
{
	atomic_fetch_add_explicit(&late_gen, 1, memory_order_release);
}

/* May h's current thread cur be stopped, wherever it is? Not on its way
 * out of the CPU (parking, yielding, ending: it has left RUNNING already,
 * the runtime is switching it, not the program running it), nor in a
 * handler of the program's or the runtime's own code. Nor while it holds
 * a FILE lock (flockfile): glibc's lock takes every thread of the hub for
 * its owner, and would let the next one's putc or fseek in
 * (preload/stdio.c). */
static bool may_stop(const struct hub *h, const struct green *cur)
{
	return cur->state == GREEN_RUNNING && h->frames == NULL && !osthread_is_runtime() &&
	       !(cur->flags & GREEN_FLOCK_MASK);
}

__thread unsigned char gs_preempt_owed __attribute__((tls_model("initial-exec")));

static void count_preemption(struct hub *h);

void preempt_owed(uintptr_t ra)
{
	struct hub *h = hub_peek();
	struct green *cur;

	if (h == NULL || h->preempt_missed != h->switches + 1) {
		gs_preempt_owed = 0; /* it switched since: nothing is owed */
		return;
	}
	cur = h->current;
	/* Only to the program's own code: late code would need its stack
	 * read for libc or loader frames below (late_stack_ok), and
	 * libunwind's lock, which the blocking monitor may hold, waited
	 * for here, on the OS thread. A return elsewhere leaves it owed to the next:
	 * to the wrapper that called another (pthread_cond_timedwait's
	 * clockwait), or to libev, whose clock the wait of a call with a
	 * deadline reads (time_left). Taken there, it was lost, and a
	 * thread whose timed waits kept ending at once (their deadline
	 * past) was never preempted at a return. */
	if (!may_stop(h, cur) || code_at(ra) != AT_PROGRAM)
		return;
	gs_preempt_owed = 0;
	/* To the hub, which polls first, then runs its queue, cur last. A
	 * plain yield ran the thread again at once when no other was
	 * ready, and a thread that kept calling read and write on a socket
	 * with data always there, beside one that slept 10 ms, let it wake
	 * once in 70 ms (the hub polled once in HUB_POLL_EVERY yields). No
	 * move to another hub here (as the tick's own stop may make):
	 * with it, 1 run in 20 of late_threads under load died in the
	 * tick's handler (the cause was not found). */
	count_preemption(h);
	hub_yield_polling(h, cur);
	green_take_due(cur);
}

bool preempt_safe_point(uintptr_t pc)
{
	enum code_at at = code_at(pc);

	return at == AT_PROGRAM || at == AT_LATE;
}

enum pc_kind preempt_pc_kind(uintptr_t pc)
{
	if (safe_pc(pc))
		return PC_PROGRAM;
	for (int i = 0; i < nlibc; i++)
		if (pc >= libc_text[i].lo && pc < libc_text[i].hi)
			return PC_LIBC;
	return introspect_own_pc(pc) ? PC_RUNTIME : PC_OTHER;
}

/* sival_int of a sample request and of a kick: "gs" and a number. */
#define SAMPLE_MARK 0x67730001
#define KICK_MARK 0x67730002
#define STOP_MARK 0x67730003

static long send_marked(int pid, int tid, int mark)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	si.si_signo = preempt_signal();
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value.sival_int = mark;
	return arch_syscall6(SYS_rt_tgsigqueueinfo, pid, tid, si.si_signo, (long)&si, 0, 0);
}

long preempt_send_sample(int tid)
{
	return send_marked(getpid(), tid, SAMPLE_MARK);
}

long preempt_send_stop(int tid)
{
	return send_marked(getpid(), tid, STOP_MARK);
}

/* One kick at a time: each is a real-time signal, queued, not merged as a
 * standard one is, and a sender that posts in a loop (a tgkill storm from
 * another CPU) kept the hub's OS thread busy taking them (2026-12-07: a
 * thread took none of its CPU for a minute). The posts a kick on its way
 * finds wait for it: the handler clears kicked first, then takes them. */
void preempt_kick(struct hub *h)
{
	if (atomic_load_explicit(&state, memory_order_relaxed) > 0 && h != hub_peek() &&
	    !atomic_load(&h->in_loop) && !atomic_load(&h->idle) &&
	    !atomic_exchange(&h->kicked, true) && send_marked(h->pid, h->tid, KICK_MARK) < 0)
		atomic_store(&h->kicked, false); /* EAGAIN: the queue is full */
}

static bool marked(const siginfo_t *si, int mark)
{
	return si->si_code == SI_QUEUE && si->si_pid == getpid() && si->si_value.sival_int == mark;
}

/* Neither the tick nor a sample request: the native default action of a
 * real-time signal, the end of the process, killed by it. */
static void foreign(int sig)
{
	uint64_t set = (uint64_t)1 << (sig - 1);

	sig_set_default(sig);
	arch_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, sizeof set, 0, 0);
	arch_syscall3(SYS_tgkill, arch_syscall3(SYS_getpid, 0, 0, 0),
		      arch_syscall3(SYS_gettid, 0, 0, 0), sig);
}

/* The handler is about to switch away with its own signal blocked (the
 * kernel blocked it for the handler): the next thread must be preemptible.
 * A tick that comes before the switch finds the handler's own code under
 * it and leaves the thread alone (safe_pc). */
static void unblock_tick(void)
{
	uint64_t set = (uint64_t)1 << (preempt_signal() - 1);

	arch_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, sizeof set, 0, 0);
}

static bool tick_backs_off; /* under valgrind */

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
}

static void tick_set(struct hub *h, int64_t ns)
{
	struct itimerspec it;

	it.it_interval = ts_of(ns);
	it.it_value = it.it_interval;
	h->tick_ns = ns;
	h->timer_armed = timer_settime(h->timer, 0, &it, NULL) == 0;
	h->tick_due = h->timer_armed ? gs_now_ns() + ns : GS_NO_DEADLINE;
}

/* A tick no sooner than this before the one due is not worth a system
 * call to move: the regular one is that late at most. */
#define TICK_EARLY_MIN_NS 50000

void preempt_tick_by(struct hub *h, int64_t deadline)
{
	struct itimerspec it;
	int64_t now, left;

	if (!h->timer_armed || deadline >= h->tick_due - TICK_EARLY_MIN_NS)
		return;
	now = gs_now_ns();
	left = deadline - now;
	if (left <= 0)
		return; /* ended already: the tick due notices it */
	it.it_interval = ts_of(h->tick_ns);
	it.it_value = ts_of(left);
	if (timer_settime(h->timer, 0, &it, NULL) == 0)
		h->tick_due = deadline;
}

/* A preemption is about to send the running thread to the hub: a timed
 * wait that has ended is noticed there, and a tick that backed off comes
 * at its pace again. */
static void count_preemption(struct hub *h)
{
	if (gs_now_ns() >= h->next_deadline)
		h->next_deadline = GS_NO_DEADLINE;
	if (GS_UNLIKELY(tick_backs_off && h->tick_ns != gs_config.preempt_ns))
		tick_set(h, gs_config.preempt_ns);
	h->preemptions++;
}

/* May the tick stop cur where it interrupted it, to run others or to end
 * it? Where it runs code the program may be stopped in (preemptible_at),
 * and may_stop. */
static bool stoppable(const struct hub *h, const struct green *cur, const ucontext_t *uc)
{
	return may_stop(h, cur) && preemptible_at(cur, (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
}

/* A thread of the asynchronous cancellation type whose cancellation is
 * due ends where the tick found it, as glibc's SIGCANCEL handler ends a
 * pthread: unwound from the handler, through the signal's frame, into the
 * program's frames (green_cancel_now). No sigreturn comes to take the
 * tick off the mask the handler runs with: that is done first. Returns
 * when the thread cannot be unwound (a TLS shared with its OS thread). */
static void cancel_async(struct green *cur)
{
	if (!(cur->flags & GREEN_CANCEL_ASYNC) || !green_cancel_due(cur))
		return;
	unblock_tick();
	green_cancel_now(cur);
}

static void preempt_stop(int sig, siginfo_t *si, void *ucp);
static void kick_take(int sig, siginfo_t *si, void *ucp);

void preempt_unmask(void *ucp, uint64_t extra)
{
	const ucontext_t *uc = ucp;
	uint64_t m;

	memcpy(&m, &uc->uc_sigmask, sizeof m);
	m |= extra;
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m, 0, 0);
}

static void preempt_handler(int sig, siginfo_t *si, void *ucp)
{
	struct hub *h = hub_peek();
	ucontext_t *uc = ucp;
	struct green *cur;
	int saved_errno = errno;
	bool stop_now;

	if (si->si_code != SI_TIMER && !marked(si, SAMPLE_MARK) && !marked(si, KICK_MARK)) {
		if (marked(si, STOP_MARK))
			pool_stop_signal(ucp); /* a worker's: it has no hub */
		else if (atomic_load_explicit(&program_handles, memory_order_acquire))
			program_handler(sig, si, ucp);
		else if (!atomic_load_explicit(&program_ignores, memory_order_relaxed))
			foreign(sig);
		return;
	}
	if (h == NULL)
		return;
	if (atomic_load_explicit(&h->sample, memory_order_relaxed) != NULL)
		introspect_sample_signal(h, ucp);
	/* Another hub posted a signal for one of h's threads: taken now,
	 * where the running thread may be stopped, and off the alternate
	 * stack (its handler may wait). Elsewhere it waits for h's next
	 * poll, as before the kick. */
	if (marked(si, KICK_MARK)) {
		atomic_store(&h->kicked, false);
		cur = h->current;
		if (cur != h->hub_green && stoppable(h, cur, uc) &&
		    overflow_signal_stack(h, SIGSTACK_TICK, kick_take, sig, si, ucp))
			kick_take(sig, si, ucp);
		goto out;
	}
	/* The tools' tgkill asks for a backtrace (above), never a preemption;
	 * and without a tick, nothing here is preemption's. */
	if (si->si_code != SI_TIMER || !h->have_timer)
		goto out;
	h->preempt_ticks++;
	h->tick_due = gs_now_ns() + h->tick_ns;
	/* A timed wait that ends before the next tick: the tick comes then
	 * instead, so the wait ends on time, not up to a tick late (whether
	 * this tick preempts or not). */
	preempt_tick_by(h, h->next_deadline);
	/* Ticks that came while an earlier one was still being delivered
	 * (si_overrun: a tracer that stops the thread at each signal, as
	 * strace -f -k does, for longer than a tick) left the program no
	 * time between them: nothing ran, and a process that was to end never
	 * did (tools' strace_k test on the PVM VMs, 1.6 ms a delivery against
	 * 2 ms ticks). The tick comes half as often while they overrun, to
	 * TICK_OVERRUN_MAX times GREENSHIM_PREEMPT_MS at most (a busy machine
	 * that holds the hub's OS thread off its CPU overruns ticks too: the
	 * blocking monitor's 100 ms must stay far), and twice as often again,
	 * down to GREENSHIM_PREEMPT_MS, once one comes in time. */
	if (GS_UNLIKELY(si->si_overrun > 0) && h->tick_ns < TICK_OVERRUN_MAX * gs_config.preempt_ns)
		tick_set(h, h->tick_ns * 2);
	else if (GS_UNLIKELY(h->tick_ns > gs_config.preempt_ns) && si->si_overrun == 0 &&
		 !tick_backs_off)
		tick_set(h, h->tick_ns / 2 > gs_config.preempt_ns ? h->tick_ns / 2
								 : gs_config.preempt_ns);
	cur = h->current;
	h->in_tick++; /* a sample taken meanwhile leaves these frames out */
	if (cur == h->hub_green) {
		/* Nothing runs: the hub, in its loop, will arm the timer again
		 * before it runs a thread. Out of its loop it may have armed it
		 * already, about to switch to one: it stays armed. (A tick
		 * there, late: strace -f -k holds each signal, disarmed the
		 * timer of a thread that then computed unpreempted for ever,
		 * in 1 of 50 runs of tools' strace_k test beside two busy
		 * loops.) */
		if (atomic_load_explicit(&h->in_loop, memory_order_relaxed))
			preempt_disarm(h);
		goto out_tick;
	}
	/* The program reads other threads' CPU clocks, and h has not begun
	 * counting: it begins here (a thread that computes alone never
	 * switches), wherever the tick found it (introspect_cpu_tick says
	 * why that is safe). Until 2026-12-07 only at a safe point: a JVM
	 * thread that spins on System.nanoTime is nearly always in the vDSO
	 * or libc, and its clock stood still. */
	if (GS_UNLIKELY(h->cpu_mark == 0) &&
	    (__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED) & GS_STATS_CPU))
		introspect_cpu_tick(h);
	/* Of the asynchronous type, and cancelled since it last stopped
	 * here (by a thread of its hub while it waited in no cancellation
	 * point, or of another): it ends now, as natively at once. */
	stop_now = (cur->flags & GREEN_CANCEL_ASYNC) && green_cancel_due(cur) && stoppable(h, cur, uc);
	/* A thread that switched since the last tick made progress; but a
	 * timed wait that has ended (a sleep, the GIL's 5 ms wait) must be
	 * noticed now, whoever runs, and so must what other OS threads posted
	 * (wake_sent: a kick that came as the hub left its loop found no
	 * thread to stop). */
	if (!stop_now && h->switches != h->preempt_seen && gs_now_ns() < h->next_deadline &&
	    !atomic_load_explicit(&h->wake_sent, memory_order_relaxed)) {
		h->preempt_seen = h->switches;
		goto out_tick;
	}
	/* Stopped, the thread leaves the handler's frame where it is while
	 * others run: off the OS thread's alternate stack first
	 * (overflow_signal_stack), or not stopped here. */
	if (stop_now || stoppable(h, cur, uc)) {
		h->in_tick--;
		errno = saved_errno;
		if (overflow_signal_stack(h, SIGSTACK_TICK, preempt_stop, sig, si, ucp)) {
			preempt_stop(sig, si, ucp);
			return;
		}
		h->in_tick++;
	}
	h->preempt_missed = h->switches + 1;
	gs_preempt_owed = 1; /* cur's TLS: its next wrapper's return */
	if (GS_UNLIKELY(tick_backs_off) && h->tick_ns < TICK_BACKOFF_MAX_NS)
		tick_set(h, h->tick_ns * 2 < TICK_BACKOFF_MAX_NS ? h->tick_ns * 2 : TICK_BACKOFF_MAX_NS);
out_tick:
	h->in_tick--;
out:
	errno = saved_errno;
}

/* The tick's part that stops the running thread, where preempt_handler
 * found it may (stoppable), on a stack of the thread's own: it ends the
 * thread if it is to be cancelled asynchronously, else hands its hub to
 * the others. */
/* The return from a handler that switched away (preempt_stop) or ran a
 * handler of the program's that may have waited (kick_take) puts back the
 * mask and signal stack the signal found, on hub from's OS thread; but a
 * hub that keeps masks per thread has put cur's in the kernel since, and
 * a thread moved to another hub (sched_share) is on another OS thread,
 * with its own: the frame gets those. */
static void frame_follows(const struct hub *from, const struct green *cur, ucontext_t *uc)
{
	const struct hub *h = cur->hub;
	bool moved = h != from;

	if (GS_UNLIKELY(moved))
		sys_sigaltstack(NULL, &uc->uc_stack);
	if (h->masks || moved)
		memcpy(&uc->uc_sigmask, &h->kmask, sizeof h->kmask);
}

static void preempt_stop(int sig, siginfo_t *si, void *ucp)
{
	struct hub *h = hub_peek(), *now;
	struct green *cur = h->current;
	ucontext_t *uc = ucp;
	int saved_errno = errno;

	(void)sig;
	(void)si;
	preempt_unmask(uc, 0);
	cancel_async(cur);
	/* Preempt: to the hub, which polls the loop (due timers, fds) and
	 * puts cur at the back of the run queue. */
	count_preemption(h);
	unblock_tick();
	hub_preempt(h, cur);
	now = cur->hub; /* another once moved (sched_share) */
	now->in_tick++; /* a sample taken meanwhile leaves these frames out */
	/* Signals kept for it meanwhile: handled now, where the tick
	 * interrupted it. */
	green_take_due(cur);
	now->in_tick--;
	frame_follows(h, cur, uc);
	/* Cancelled while the others ran. */
	cancel_async(cur);
	errno = saved_errno;
}

/* A kick's part that takes what other hubs posted for h's threads, where
 * preempt_handler found the running thread cur may be stopped, on a stack
 * of cur's own: a signal for cur is handled now, where the kick found it,
 * as the kernel delivers one to a running thread; one for a thread that
 * waits ends its wait. Nothing switches but a handler's own wait, after
 * which cur may be on another hub, as after preempt_stop's. */
static void kick_take(int sig, siginfo_t *si, void *ucp)
{
	struct hub *h = hub_peek();
	struct green *cur = h->current;
	ucontext_t *uc = ucp;
	int saved_errno = errno;

	(void)sig;
	(void)si;
	preempt_unmask(uc, 0);
	h->in_tick++; /* a sample taken meanwhile leaves these frames out */
	hub_take_kills_sent(h);
	hub_take_deferred(h); /* those another hub's handler sent */
	h->in_tick--;
	green_take_due(cur);
	sigmask_follow_waits(h); /* another thread's sigwait: before the frame's */
	frame_follows(h, cur, uc);
	cancel_async(cur);
	errno = saved_errno;
}

int preempt_signal(void)
{
	return SIGRTMAX - 1;
}

/* Puts the kernel's disposition of the signal: our handler, or SIG_IGN.
 * glibc's own name: sigaction is greenshim's under LD_PRELOAD. */
static int install(bool ours)
{
	/* A fault blocked in its handler would end the process. */
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof sa);
	if (ours) {
		sa.sa_sigaction = preempt_handler;
		/* On the OS thread's alternate stack, off the program's: moved
		 * before it stops the thread (preempt_stop). */
		sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
		/* Every signal the program may get waits meanwhile: nested
		 * there, its handler could not move off the stack the tick
		 * is on (overflow_signal_stack), and Go's runtime dies of a
		 * handler not on its alternate stack. Let in again once the
		 * frame is moved (preempt_stop, the trampoline). */
		sigfillset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
			sigdelset(&sa.sa_mask, faults[i]);
	} else {
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
	}
	if (__sigaction(preempt_signal(), &sa, &old) != 0)
		return -1;
	/* Ignored from the start, as the program that exec'd this one left
	 * it: the program's own disposition, then. */
	if (ours && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
		atomic_store(&program_ignores, true);
	return 0;
}

/* Installs the handler once: for the tick, or for the tools' samples
 * (introspect_sample) even when preemption is off. */
bool preempt_handler_ready(void)
{
	int expected = 0;

	if (atomic_load(&state) != 0)
		return atomic_load(&state) > 0;
	dl_iterate_phdr(collect, (void *)allocator_object());
	if (atomic_compare_exchange_strong(&state, &expected, 1) && install(true) != 0)
		atomic_store(&state, -1);
	return atomic_load(&state) > 0;
}

bool preempt_program_ignores(void)
{
	return atomic_load(&program_ignores);
}

bool preempt_keep_signal(bool ignore)
{
	if (!preempt_handler_ready())
		return false;
	atomic_store(&program_handles, false);
	atomic_store(&program_ignores, ignore);
	return true;
}

bool preempt_keep_handler(void (*fn)(int, siginfo_t *, void *))
{
	if (!preempt_handler_ready())
		return false;
	program_handler = fn;
	atomic_store_explicit(&program_handles, true, memory_order_release);
	return true;
}

static bool preempt_global_init(void)
{
	config_load();
	if (gs_config.preempt_ns == 0)
		return false;
	tick_backs_off = RUNNING_ON_VALGRIND;
	return preempt_handler_ready();
}

void preempt_init_hub(struct hub *h)
{
	struct sigevent ev;

	if (!preempt_global_init())
		return;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = preempt_signal();
	ev.sigev_notify_thread_id = (pid_t)sys_gettid();
	h->have_timer = timer_create(CLOCK_MONOTONIC, &ev, &h->timer) == 0;
}

void preempt_fini_hub(struct hub *h)
{
	if (h->have_timer)
		timer_delete(h->timer);
	h->have_timer = false;
}

void preempt_arm(struct hub *h)
{
	/* One thread alone needs no preempting: a program that never makes
	 * a second thread never sees a tick. */
	if (!h->have_timer || h->timer_armed || h->ngreen < 2 || atomic_load(&state) <= 0)
		return;
	h->preempt_seen = h->switches;
	tick_set(h, gs_config.preempt_ns);
	preempt_tick_by(h, h->next_deadline);
}

void preempt_disarm(struct hub *h)
{
	struct itimerspec it;

	if (!h->timer_armed)
		return;
	memset(&it, 0, sizeof it);
	timer_settime(h->timer, 0, &it, NULL);
	h->timer_armed = false;
	h->tick_due = GS_NO_DEADLINE;
}

/* The program ignores the signal: so must the program it execs or
 * spawns, which inherits the kernel's SIG_IGN (and would have our handler
 * reset to SIG_DFL). Meanwhile the hubs' ticks are lost, as a late one is,
 * and the samplers are held off (introspect_hubs_lock). begin says whether
 * it put SIG_IGN, end puts the handler back. */
static bool ignore_for_child(bool begin)
{
	static bool ignoring;

	if (begin && preempt_active() && atomic_load(&program_ignores)) {
		ignoring = install(false) == 0;
		return ignoring;
	}
	if (!begin && ignoring) {
		ignoring = false;
		install(true);
	}
	return false;
}

bool preempt_exec_begin(void)
{
	struct hub *h = hub_peek();
	uint64_t pending = 0, one = 1ull << (preempt_signal() - 1);
	struct timespec zero = { 0, 0 };

	/* The child of a fork made by a raw system call (Go's runtime forks
	 * so), which ran none of the runtime's fork handlers: its only
	 * thread is this one, and the registry's lock may be a copy of one
	 * another thread held at the fork (the monitor's, sampling): no
	 * sampler or tick is there to quiet. */
	if (h != NULL && h->pid != (int)arch_syscall3(SYS_getpid, 0, 0, 0))
		return false;
	introspect_hubs_lock();
	if (h != NULL)
		preempt_disarm(h);
	/* Sent, given up by its sampler, and blocked here meanwhile. */
	if (arch_syscall3(SYS_rt_sigpending, (long)&pending, sizeof pending, 0) == 0 &&
	    (pending & one))
		arch_syscall6(SYS_rt_sigtimedwait, (long)&one, 0, (long)&zero, sizeof one, 0, 0);
	ignore_for_child(true);
	return true;
}

void preempt_exec_end(bool begun)
{
	if (!begun)
		return;
	ignore_for_child(false);
	introspect_hubs_unlock();
}

bool preempt_spawn_begin(void)
{
	/* Asked first without the lock: few programs ignore the signal. */
	if (!preempt_active() || !atomic_load(&program_ignores))
		return false;
	introspect_hubs_lock();
	if (ignore_for_child(true))
		return true;
	introspect_hubs_unlock();
	return false;
}

void preempt_spawn_end(bool begun)
{
	if (!begun)
		return;
	ignore_for_child(false);
	introspect_hubs_unlock();
}

bool preempt_stale_tick(struct hub *h, const siginfo_t *si)
{
	/* glibc's timer_t for a signal timer is the kernel's timer id. */
	if (h == NULL || !h->have_timer || si->si_code != SI_TIMER ||
	    si->si_timerid != (int)(intptr_t)h->timer)
		return false;
	preempt_disarm(h);
	return true;
}

bool preempt_active(void)
{
	return atomic_load_explicit(&state, memory_order_relaxed) > 0;
}
