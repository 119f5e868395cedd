/*
 * Introspection: what every green thread is doing, and its stack.
 *
 * What it owns: the tools' view of the runtime (greenctl, the blocking
 * monitor in monitor.c, the deadlock report below), the registry of hubs,
 * the per-switch accounting that a tool may turn on, the log fd, and
 * gs_debug_table: what a debugger needs to walk the same lists in a
 * stopped process or a core, where none of this code can run (gdb's
 * extension, tools/gdb/greenshim-gdb.py, says why a table and not DWARF).
 *
 * Cost: nothing on the hot path but what the waits already do. A wait is
 * labelled where it begins (wait_label: a kind, an object, a number, three
 * stores into the struct wait on the waiter's stack); wait_park notes its
 * deadline and the hub's last poll time as its start. A switch pays one
 * load and a predicted branch (gs_stats_on); only while a tool has turned
 * stats on does it read the clock (about 20 ns through the vDSO) to count
 * each green's CPU time and the hub's longest run exactly.
 *
 * Stacks: a suspended green thread's registers are the frame ctx_switch
 * left on its stack (arch/x86_64/switch.S: r15..rbp and the return
 * address above the saved sp); they are copied into a libunwind context
 * (a ucontext_t on x86-64) and libunwind walks on from there with the
 * DWARF unwind tables. A running thread can only be unwound by itself: the
 * caller's own stack (unw_getcontext), or, from another OS thread,
 * introspect_sample(), which sends preempt_signal() to the hub's OS thread
 * with tgkill and lets the handler unwind from the interrupted context.
 * libunwind names a frame from the object's .symtab when the file has one
 * (ordinary builds: static functions too), else from .dynsym (stripped
 * binaries: exported functions only).
 *
 * Threads: the registry is a list under a spinlock (hubs come and go
 * rarely; no libc mutex, which is greenshim's own under LD_PRELOAD). The
 * sample handshake is one pointer in the hub (h->sample): the requester
 * stores its request there, the handler takes it with an exchange, so a
 * request that timed out is never answered into freed memory.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "hub_impl.h"
#include "tools.h"

#include <dlfcn.h>
#include <link.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "sys.h"

int gs_stats_on;

/* ---- accounting ------------------------------------------------------- */

void introspect_set_stats(bool on)
{
	if (on)
		__atomic_or_fetch(&gs_stats_on, GS_STATS_TOOL, __ATOMIC_RELAXED);
	else
		__atomic_and_fetch(&gs_stats_on, ~GS_STATS_TOOL, __ATOMIC_RELAXED);
}

bool introspect_stats(void)
{
	return (__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED) & GS_STATS_TOOL) != 0;
}

/* The calling OS thread's CPU time: the kernel's, with the raw call
 * (libc's clock_gettime is greenshim's, preload/time.c). */
static int64_t os_thread_cpu_ns(void)
{
	struct timespec ts;

	if (arch_syscall3(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, (long)&ts, 0) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPU accounting below changes (cpu_seq odd): other OS threads that
 * read a thread's clock meanwhile read again (introspect_green_cpu_ns).
 * The stores between are releases, each after the odd count (no fence:
 * ThreadSanitizer has none), and the reader's loads acquires. */
static void cpu_seq_begin(struct hub *h)
{
	__atomic_store_n(&h->cpu_seq, h->cpu_seq + 1, __ATOMIC_RELAXED);
}

static void cpu_seq_end(struct hub *h)
{
	__atomic_store_n(&h->cpu_seq, h->cpu_seq + 1, __ATOMIC_RELEASE);
}

/* g's run begins on h, at cpu_mark. */
static void cpu_run_begins(struct hub *h, const struct green *g)
{
	__atomic_store_n(&h->cpu_run_id, green_of_program(g) ? g->id : 0, __ATOMIC_RELEASE);
	__atomic_store_n(&h->cpu_run_base, g->cpu_ns, __ATOMIC_RELEASE);
}

/* A hub begins counting CPU time: its root, where that is a program
 * thread, is given its OS thread's CPU time so far, as natively the main
 * thread has it (the program's start; all of a single-threaded program's
 * run). What other threads ran there before is lost to them. Inside
 * cpu_seq_begin/end. */
static void cpu_count_begin(struct hub *h, int64_t c)
{
	if (!h->idle_root)
		h->root->cpu_ns = c;
	__atomic_store_n(&h->cpu_mark, c, __ATOMIC_RELEASE);
	cpu_run_begins(h, h->current);
}

static void rusage_switch(struct hub *h, struct green *cur);

void introspect_account(struct hub *h, struct green *cur, struct green *next)
{
	int64_t now = gs_now_ns();
	int64_t start = atomic_load_explicit(&h->run_start, memory_order_relaxed);
	int on = __atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED);
	bool cpu = on & GS_STATS_CPU;

	/* start is 0 for the first switch after stats were turned on: that
	 * run began before anyone measured it. */
	if (start != 0) {
		int64_t run = now - start;

		if (!cpu)
			cur->cpu_ns += run;
		if (cur != h->hub_green && run > h->longest_run)
			h->longest_run = run;
	}
	/* With the program's thread CPU clocks, the OS thread's CPU time
	 * itself: the slice a run took excludes the time the kernel gave the
	 * CPU to others. cpu_mark is 0 on a hub that has not counted yet. */
	if (cpu) {
		int64_t c;

		/* The clock read after the count is odd: a reader of another
		 * OS thread that read this one's clock later than c sees the
		 * count change, and reads again (before 2026-12-07 it could
		 * take a time past c, and the thread's clock went back by as
		 * much at the switch: the TSan unit test saw 300 ns). */
		cpu_seq_begin(h);
		c = os_thread_cpu_ns();
		if (h->cpu_mark == 0) {
			cpu_count_begin(h, c); /* h->current is next already */
		} else {
			__atomic_store_n(&cur->cpu_ns, cur->cpu_ns + (c - h->cpu_mark),
					 __ATOMIC_RELEASE);
			__atomic_store_n(&h->cpu_mark, c, __ATOMIC_RELEASE);
			cpu_run_begins(h, next);
		}
		cpu_seq_end(h);
	}
	if (on & GS_STATS_RUSAGE)
		rusage_switch(h, cur);
	cur->since = now;
	next->since = now;
	atomic_store_explicit(&h->run_start, now, memory_order_relaxed);
}

/* ---- getrusage(RUSAGE_THREAD) ----------------------------------------- */

/* The calling OS thread's usage: the kernel's, with the raw call. */
static int os_thread_rusage(struct rusage *ru)
{
	return (int)arch_syscall3(SYS_getrusage, RUSAGE_THREAD, (long)ru, 0);
}

static int64_t tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

/* to gets what the OS thread's usage grew by from a to b. */
static void rusage_add(struct green_rusage *to, const struct rusage *a, const struct rusage *b)
{
	to->utime_us += tv_us(&b->ru_utime) - tv_us(&a->ru_utime);
	to->stime_us += tv_us(&b->ru_stime) - tv_us(&a->ru_stime);
	to->minflt += b->ru_minflt - a->ru_minflt;
	to->majflt += b->ru_majflt - a->ru_majflt;
	to->inblock += b->ru_inblock - a->ru_inblock;
	to->oublock += b->ru_oublock - a->ru_oublock;
	to->nvcsw += b->ru_nvcsw - a->ru_nvcsw;
	to->nivcsw += b->ru_nivcsw - a->ru_nivcsw;
}

/* h begins counting at now: its root, where that is a program thread, is
 * given its OS thread's usage so far, as natively the main thread has it;
 * what other threads ran there before is lost to them (as CPU time is). */
static void rusage_count_begin(struct hub *h, const struct rusage *now)
{
	static const struct rusage zero;

	if (!h->idle_root) {
		memset(green_ru(h->root), 0, sizeof(struct green_rusage));
		rusage_add(green_ru(h->root), &zero, now);
	}
	h->ru_mark = *now;
	h->ru_counting = true;
}

/* At a switch from cur: its run's share, and the switch itself. */
static void rusage_switch(struct hub *h, struct green *cur)
{
	struct rusage now;

	if (os_thread_rusage(&now) != 0)
		return;
	if (!h->ru_counting) {
		rusage_count_begin(h, &now);
		return;
	}
	rusage_add(green_ru(cur), &h->ru_mark, &now);
	h->ru_mark = now;
	if (cur == h->hub_green)
		return;
	if (cur->state == GREEN_PARKED)
		green_ru(cur)->nvcsw++;
	else if (cur->state == GREEN_READY)
		green_ru(cur)->nivcsw++;
}

int introspect_thread_rusage(struct hub *h, struct rusage *out)
{
	struct green_rusage ru;
	struct rusage now;
	int r = os_thread_rusage(&now);

	if (r != 0)
		return r;
	introspect_counting_on(GS_STATS_RUSAGE);
	if (!h->ru_counting)
		rusage_count_begin(h, &now);
	ru = *green_ru(h->current);
	rusage_add(&ru, &h->ru_mark, &now);
	memset(out, 0, sizeof *out);
	out->ru_utime.tv_sec = ru.utime_us / 1000000;
	out->ru_utime.tv_usec = ru.utime_us % 1000000;
	out->ru_stime.tv_sec = ru.stime_us / 1000000;
	out->ru_stime.tv_usec = ru.stime_us % 1000000;
	out->ru_maxrss = now.ru_maxrss; /* the process's, as the kernel's */
	out->ru_minflt = ru.minflt;
	out->ru_majflt = ru.majflt;
	out->ru_inblock = ru.inblock;
	out->ru_oublock = ru.oublock;
	out->ru_nvcsw = ru.nvcsw;
	out->ru_nivcsw = ru.nivcsw;
	return 0;
}

void introspect_counting_on(int what)
{
	if ((__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED) & what) != what)
		__atomic_or_fetch(&gs_stats_on, what, __ATOMIC_RELAXED);
}

/* The program reads a thread CPU clock: counting begins, on each hub at
 * its first switch or tick after this (or its first read). */
static void cpu_counting_on(void)
{
	introspect_counting_on(GS_STATS_CPU);
}

static void cpu_count_begin_here(struct hub *h, int64_t c)
{
	cpu_seq_begin(h);
	cpu_count_begin(h, c);
	cpu_seq_end(h);
}

int64_t introspect_thread_cpu_ns(struct hub *h)
{
	struct green *g = h->current;
	int64_t c = os_thread_cpu_ns();

	cpu_counting_on();
	if (h->cpu_mark == 0)
		cpu_count_begin_here(h, c);
	return g->cpu_ns + (c - h->cpu_mark);
}

/* In the tick's handler, which may have interrupted the accounting on
 * its way: not inside its sequence (odd), where the handler's begin would
 * end it early for the readers; before it, the accounting finds a mark
 * and counts the slice since (or begins again: the same values). */
void introspect_cpu_tick(struct hub *h)
{
	if (h->cpu_mark == 0 && !(h->cpu_seq & 1) &&
	    (__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED) & GS_STATS_CPU))
		cpu_count_begin_here(h, os_thread_cpu_ns());
}

int64_t introspect_hub_cpu_ns(const struct hub *h)
{
	clockid_t c = (clockid_t)((~(unsigned)h->tid << 3) | 6); /* per thread, SCHED */
	struct timespec ts;

	if (arch_syscall3(SYS_clock_gettime, c, (long)&ts, 0) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* *out = *p, where p may be memory gone back to the system meanwhile (a
 * thread's that ended): read by the kernel, which says EFAULT there. pid
 * is this process's (a hub's, kept since the last fork). */
static bool read_safely(int pid, const int64_t *p, int64_t *out)
{
	struct iovec mine = { out, sizeof *out }, at = { (void *)p, sizeof *p };

	return arch_syscall6(SYS_process_vm_readv, pid, (long)&mine, 1, (long)&at, 1, 0) ==
	       (long)sizeof *out;
}

int introspect_green_cpu_ns(struct green *g, uint64_t id, struct hub *on, int64_t *ns)
{
	struct hub *h = hub_peek();
	int64_t v = 0;

	if (h != NULL && h == on && h->current == g && !hub_in_loop(h)) {
		*ns = introspect_thread_cpu_ns(h);
		return 0;
	}
	cpu_counting_on();
	/* The caller's own hub begins now (it runs the caller's call). */
	if (h != NULL && h->current != h->hub_green && h->cpu_mark == 0)
		cpu_count_begin_here(h, os_thread_cpu_ns());
	for (unsigned tries = 0;; tries++) {
		unsigned seq = __atomic_load_n(&on->cpu_seq, __ATOMIC_ACQUIRE);
		uint64_t run_id = __atomic_load_n(&on->cpu_run_id, __ATOMIC_ACQUIRE);
		int64_t base = __atomic_load_n(&on->cpu_run_base, __ATOMIC_ACQUIRE);
		int64_t mark = __atomic_load_n(&on->cpu_mark, __ATOMIC_ACQUIRE);

		/* Mid-switch there: wait for its end, a few clock reads away,
		 * unless it is this OS thread's own (a handler interrupted
		 * it), which cannot end first. The other OS thread may have
		 * lost its CPU inside (a loaded machine): after a short spin,
		 * the CPU is given up to it. Until 2026-12-07 the reader
		 * gave up after 1000 spins and said 0: the TSan unit test saw
		 * a thread's clock go from 32 ms to 0 on a loaded machine. */
		if ((seq & 1) && on != h) {
			if (tries < 100)
				__builtin_ia32_pause();
			else
				arch_syscall3(SYS_sched_yield, 0, 0, 0);
			continue;
		}
		if (run_id == id && mark != 0) {
			/* Running there since mark: its time so far, and the
			 * OS thread's since. */
			int64_t c = introspect_hub_cpu_ns(on);

			v = base + (c > mark ? c - mark : 0);
		} else if (!read_safely(on->pid, &g->cpu_ns, &v)) {
			return -EINVAL;
		}
		if (__atomic_load_n(&on->cpu_seq, __ATOMIC_RELAXED) == seq)
			break;
	}
	*ns = v;
	return 0;
}

struct green *introspect_main_green(struct hub **on)
{
	/* With one hub, the caller's is the only one (sched_hub is NULL). */
	struct hub *first = sched_hub(0) != NULL ? sched_hub(0) : hub_peek();

	/* The main OS thread's hub: its kernel id is the process's. */
	if (first == NULL || first->tid != first->pid || first->idle_root ||
	    !green_of_program(first->root) || green_ended(first->root))
		return NULL;
	*on = first;
	return first->root;
}

/* ---- what a green thread is doing ------------------------------------- */

static const char *const state_names[] = {
	[GREEN_RUNNING] = "running",
	[GREEN_READY] = "ready",
	[GREEN_PARKED] = "waiting",
	[GREEN_DEAD] = "dead",
};

const char *introspect_state_name(enum green_state s)
{
	return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

/* Each wait kind's key: gdb's (tools/gdb/greenshim-gdb.py describes waits
 * by them, as describe_wait does) and, but for the fd's two directions,
 * the stats' (introspect_kind_name). */
static const char *const wait_keys[WAIT_KINDS] = {
	[WAIT_OTHER] = "other",     [WAIT_FD_READ] = "fd_read",
	[WAIT_FD_WRITE] = "fd_write", [WAIT_POLL] = "poll",
	[WAIT_MUTEX] = "mutex",     [WAIT_COND] = "cond",
	[WAIT_SEM] = "semaphore",   [WAIT_RWLOCK] = "rwlock",
	[WAIT_BARRIER] = "barrier", [WAIT_ONCE] = "once",
	[WAIT_FUTEX] = "futex",     [WAIT_SLEEP] = "sleep",
	[WAIT_JOIN] = "join",       [WAIT_POOL] = "pool",
	[WAIT_CHILD] = "child",     [WAIT_SIGNAL] = "signal",
};

const char *introspect_kind_name(enum wait_kind k)
{
	if (k == WAIT_FD_READ || k == WAIT_FD_WRITE)
		return "fd";
	return (unsigned)k < WAIT_KINDS ? wait_keys[k] : "?";
}

/* The deadlock report of several hubs runs: every hub sleeps stuck, and
 * their threads' lists may be read from any of them. */
static bool all_hubs_still;

/* g if it is one of h's live greens: a mutex's owner may have ended and
 * its memory gone back to the stack pool. While every hub is still, g
 * may be another hub's. */
static const struct green *hub_green_of(const struct hub *h, const struct green *g)
{
	int n = all_hubs_still ? sched_hubs() : 1;

	for (int i = 0; i < n; i++) {
		const struct hub *in = n > 1 ? sched_hub(i) : h;

		for (const struct green *x = in->all; x != NULL; x = x->all_next)
			if (x == g)
				return x;
	}
	return NULL;
}

void introspect_green(const struct green *g, struct green_info *out)
{
	memset(out, 0, sizeof *out);
	out->id = g->id;
	memcpy(out->name, g->name, sizeof out->name);
	out->name[sizeof out->name - 1] = '\0';
	out->state = g->state;
	out->root = (g->flags & GREEN_ROOT) != 0;
	out->start = g->start;
	out->switches = g->switches;
	out->since = g->since;
	out->cpu_ns = g->cpu_ns;
	out->deadline = GS_NO_DEADLINE;
	if (g->state == GREEN_RUNNING)
		out->since = atomic_load_explicit(&g->hub->run_start, memory_order_relaxed);
	if (g->state != GREEN_PARKED || g->wait == NULL)
		return;
	out->kind = (enum wait_kind)g->wait->kind;
	out->num = g->wait->num;
	out->obj = g->wait->obj;
	out->deadline = g->wait->deadline;
	if (out->kind == WAIT_MUTEX || out->kind == WAIT_JOIN) {
		const struct green *o = out->kind == WAIT_MUTEX
						? ((const struct gsync_mutex *)out->obj)->owner
						: out->obj;

		o = o != NULL ? hub_green_of(g->hub, o) : NULL;
		if (o != NULL) {
			out->owner_id = o->id;
			memcpy(out->owner_name, o->name, sizeof out->owner_name);
			out->owner_name[sizeof out->owner_name - 1] = '\0';
		}
	}
}

static int describe_wait(const struct green_info *i, char *buf, size_t len)
{
	char who[48] = "";

	if (i->owner_id != 0)
		snprintf(who, sizeof who, "thread %llu%s%s%s", (unsigned long long)i->owner_id,
			 i->owner_name[0] ? " \"" : "", i->owner_name, i->owner_name[0] ? "\"" : "");
	switch (i->kind) {
	case WAIT_FD_READ:
	case WAIT_FD_WRITE:
		return snprintf(buf, len, "waiting on fd %ld (%s)", i->num,
				i->kind == WAIT_FD_READ ? "read" : "write");
	case WAIT_POLL:
		return snprintf(buf, len, "waiting on %ld fd%s (poll)", i->num, i->num == 1 ? "" : "s");
	case WAIT_MUTEX:
		if (i->owner_id == 0)
			return snprintf(buf, len, "waiting on mutex %p", i->obj);
		if (i->owner_id == i->id)
			return snprintf(buf, len, "waiting on mutex %p, which it holds itself", i->obj);
		return snprintf(buf, len, "waiting on mutex %p held by %s", i->obj, who);
	case WAIT_JOIN:
		return snprintf(buf, len, "waiting for %s to end (join)", who[0] ? who : "a thread");
	case WAIT_CHILD:
		if (i->num < 0)
			return snprintf(buf, len, "waiting for a child process");
		return snprintf(buf, len, "waiting for child process %ld", i->num);
	case WAIT_SLEEP:
		return snprintf(buf, len, "sleeping");
	case WAIT_POOL:
		return snprintf(buf, len, "waiting for a pool worker (call %p)", i->obj);
	case WAIT_SIGNAL:
		return snprintf(buf, len, "waiting for a signal");
	case WAIT_OTHER:
		return snprintf(buf, len, "waiting");
	default:
		return snprintf(buf, len, "waiting on %s %p", introspect_kind_name(i->kind), i->obj);
	}
}

int introspect_describe(const struct green_info *i, char *buf, size_t len)
{
	int n;

	if (i->state != GREEN_PARKED)
		return snprintf(buf, len, "%s", introspect_state_name(i->state));
	n = describe_wait(i, buf, len);
	if (n >= 0 && (size_t)n < len && i->deadline != GS_NO_DEADLINE) {
		int64_t left = i->deadline - gs_now_ns();

		n += snprintf(buf + n, len - (size_t)n, " (%.3f s left)",
			      (double)(left > 0 ? left : 0) / 1e9);
	}
	return n;
}

/* ---- stacks -------------------------------------------------------------- */

/* libunwind reaches pthread_mutex_lock, sigprocmask, read and close
 * through the PLT: greenshim's wrappers under LD_PRELOAD, which must give
 * it plain libc (a green mutex in a signal handler could park). */
/* ---- unwinding and fork ---------------------------------------------- */

/* libunwind keeps process-wide locks of its own (its caches, its walk of
 * the loaded objects). A fork while another OS thread holds one leaves it
 * held for ever in the child, whose first unwinding then waits for ever:
 * seen as greenrun --profile of bash hanging in 2 runs of 30, the
 * profiler naming frames while a command substitution forked. So every
 * unwinding is counted in, and the fork (introspect_fork_prepare) waits
 * until none is under way and lets no new one start. A signal handler does
 * not wait (it may have interrupted the forking thread): it gives its
 * sample up. Nothing waits inside the count: each unwinding finishes. */
static atomic_int unwinders;
static atomic_bool unwind_forking;
/* This thread's own unwindings: a program's handler that forks on top of
 * one must not wait for itself. */
static __thread int tls_unwinding __attribute__((tls_model("initial-exec")));

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	arch_syscall3(SYS_nanosleep, (long)&ts, 0, 0);
}

static void sleep_ms(long ms)
{
	sleep_ns(ms * 1000000);
}

/* Enters an unwinding unless a fork is under way (a signal handler gives
 * its sample up then); with libc's plain functions for libunwind's locks
 * and reads (osthread_runtime_begin). */
static bool unwind_try_begin(bool *was)
{
	atomic_fetch_add(&unwinders, 1);
	if (atomic_load(&unwind_forking)) {
		atomic_fetch_sub(&unwinders, 1);
		return false;
	}
	tls_unwinding++;
	*was = osthread_runtime_begin();
	return true;
}

static void unwind_begin(bool *was)
{
	while (!unwind_try_begin(was))
		sleep_ms(1);
}

static void unwind_end(bool was)
{
	osthread_runtime_end(was);
	tls_unwinding--;
	atomic_fetch_sub(&unwinders, 1);
}

void introspect_fork_prepare(void)
{
	atomic_store(&unwind_forking, true);
	while (atomic_load(&unwinders) > tls_unwinding)
		sleep_ms(1);
}

void introspect_fork_parent(void)
{
	atomic_store(&unwind_forking, false);
}

/* A frame interrupted in the runtime's raw system call, inside libc's
 * "syscall; ret" (at the instruction: a restart; after it): that pc lies
 * in some libc function whose unwind rules are not the call's. c starts
 * over from where the call returns to (arch/x86_64/syscall.h), with the
 * frame's registers. */
static bool past_raw_syscall(unw_cursor_t *c, unw_word_t pc)
{
	static const struct {
		int unw, greg;
	} regs[] = {
		{ UNW_X86_64_RBX, REG_RBX }, { UNW_X86_64_RBP, REG_RBP }, { UNW_X86_64_R12, REG_R12 },
		{ UNW_X86_64_R13, REG_R13 }, { UNW_X86_64_R14, REG_R14 }, { UNW_X86_64_R15, REG_R15 },
		{ UNW_X86_64_RSP, REG_RSP },
	};
	uintptr_t insn = (uintptr_t)arch_libc_syscall;
	unw_context_t ctx;
	ucontext_t *uc = (ucontext_t *)&ctx;
	const uint64_t *sp;

	if (insn == 0 || (pc != insn && pc != insn + 2))
		return false;
	unw_getcontext(&ctx);
	for (size_t k = 0; k < sizeof regs / sizeof regs[0]; k++) {
		unw_word_t v;

		if (unw_get_reg(c, regs[k].unw, &v) < 0)
			return false;
		uc->uc_mcontext.gregs[regs[k].greg] = (greg_t)v;
	}
	sp = (const uint64_t *)uc->uc_mcontext.gregs[REG_RSP];
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)sp[0];
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)(sp + 1);
	return unw_init_local2(c, &ctx, UNW_INIT_SIGNAL_FRAME) >= 0;
}

/* Fills f from c (named: with names), or with f NULL only pcs; *sig_at
 * (if not NULL) gets the index of the first frame a signal interrupted
 * (libunwind's "signal frame": its registers come from the signal's
 * context; the frame before it is the kernel's return trampoline), or -1. */
static int unwind(unw_cursor_t *c, struct frame *f, uintptr_t *pcs, int max, bool named,
		  int *sig_at)
{
	int n = 0;

	if (sig_at != NULL)
		*sig_at = -1;
	do {
		unw_word_t pc, off;
		bool sig;

		if (unw_get_reg(c, UNW_REG_IP, &pc) < 0 || pc == 0)
			break;
		sig = unw_is_signal_frame(c) > 0;
		if ((n == 0 || sig) && past_raw_syscall(c, pc) &&
		    unw_get_reg(c, UNW_REG_IP, &pc) < 0)
			break;
		if (sig_at != NULL && *sig_at < 0 && sig)
			*sig_at = n;
		if (f == NULL) {
			pcs[n++] = (uintptr_t)pc;
			continue;
		}
		f[n].pc = (uintptr_t)pc;
		f[n].sig = sig;
		f[n].off = 0;
		f[n].name[0] = '\0';
		if (!named)
			; /* named later, outside the signal handler */
		else if (unw_get_proc_name(c, f[n].name, sizeof f[n].name, &off) == 0)
			f[n].off = (uintptr_t)off;
		else
			f[n].name[0] = '\0';
		n++;
	} while (n < max && unw_step(c) > 0);
	return n;
}

/* The registers ctx_switch saved on a suspended stack (switch.S). */
static void ctx_regs(const struct ctx *x, ucontext_t *uc)
{
	const uint64_t *sp = x->sp;

	uc->uc_mcontext.gregs[REG_R15] = (greg_t)sp[CTX_SLOT_R15];
	uc->uc_mcontext.gregs[REG_R14] = (greg_t)sp[CTX_SLOT_R14];
	uc->uc_mcontext.gregs[REG_R13] = (greg_t)sp[CTX_SLOT_R13];
	uc->uc_mcontext.gregs[REG_R12] = (greg_t)sp[CTX_SLOT_R12];
	uc->uc_mcontext.gregs[REG_RBX] = (greg_t)sp[CTX_SLOT_RBX];
	uc->uc_mcontext.gregs[REG_RBP] = (greg_t)sp[CTX_SLOT_RBP];
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)sp[CTX_SLOT_RIP];
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)(sp + CTX_SLOTS);
}

/* Into f, named, or with f NULL into pcs. */
static __attribute__((noinline)) int backtrace_self(struct frame *f, uintptr_t *pcs, int max,
						   int *sig_at)
{
	unw_context_t uc;
	unw_cursor_t c;

	unw_getcontext(&uc);
	if (unw_init_local(&c, &uc) < 0)
		return -EINVAL;
	/* Neither this function's frame nor the entry point's that
	 * backtrace_any is inlined into. */
	if (unw_step(&c) <= 0 || unw_step(&c) <= 0)
		return 0;
	return unwind(&c, f, pcs, max, true, sig_at);
}

static int backtrace_suspended(const struct green *g, struct frame *f, uintptr_t *pcs, int max,
			       int *sig_at)
{
	unw_context_t uc;
	unw_cursor_t c;

	unw_getcontext(&uc);
	ctx_regs(&g->ctx, (ucontext_t *)&uc);
	/* The first frame's pc is a return address, as in any caller frame:
	 * libunwind looks it up as such. */
	if (unw_init_local(&c, &uc) < 0)
		return -EINVAL;
	return unwind(&c, f, pcs, max, true, sig_at);
}

/* Inlined into each entry point, and they into nothing, whatever the build
 * (a sanitizer's keeps calls that an optimized build folds):
 * backtrace_self steps over its own frame and the entry point's to reach
 * its caller's. */
static inline __attribute__((always_inline)) int backtrace_any(struct green *g, struct frame *f,
							       uintptr_t *pcs, int max,
							       int *sig_at)
{
	struct hub *h = hub_peek();
	bool was;
	int n;

	if (sig_at != NULL)
		*sig_at = -1;
	if (max <= 0)
		return 0;
	if (h == NULL || g->state == GREEN_DEAD)
		return -ESRCH;
	/* Another hub's thread: only while every hub is still (it does not
	 * run, its context is saved). */
	if (g->hub != h && !(all_hubs_still && g->state == GREEN_PARKED))
		return -ESRCH;
	if (g != h->current && g->ctx.sp == NULL)
		return -ESRCH;
	unwind_begin(&was);
	n = g == h->current ? backtrace_self(f, pcs, max, sig_at)
			    : backtrace_suspended(g, f, pcs, max, sig_at);
	unwind_end(was);
	return n;
}

__attribute__((noinline)) int introspect_backtrace_pcs_here(uintptr_t *pcs, int max, int *sig_at)
{
	bool was;
	int n;

	*sig_at = -1;
	if (max <= 0)
		return 0;
	if (!unwind_try_begin(&was))
		return -EAGAIN;
	n = backtrace_self(NULL, pcs, max, sig_at);
	unwind_end(was);
	return n;
}

void introspect_unwind_init(void)
{
	static atomic_bool done;
	int saved_errno = errno; /* libunwind's probes may leave EAGAIN */
	unw_context_t uc;
	unw_cursor_t c;
	bool was;

	if (atomic_exchange(&done, true))
		return;
	unwind_begin(&was);
	unw_getcontext(&uc);
	if (unw_init_local(&c, &uc) == 0)
		unw_step(&c);
	unwind_end(was);
	errno = saved_errno;
}

__attribute__((noinline)) int introspect_backtrace(struct green *g, struct frame *f, int max)
{
	return backtrace_any(g, f, NULL, max, NULL);
}

__attribute__((noinline)) int introspect_backtrace_pcs(struct green *g, uintptr_t *pcs, int max,
							 int *sig_at)
{
	return backtrace_any(g, NULL, pcs, max, sig_at);
}

int introspect_backtrace_uc(void *ucp, struct frame *f, int max, bool past_signal)
{
	unw_cursor_t c;
	bool was;
	int n = -EINVAL, sig_at;

	if (max <= 0)
		return 0;
	if (!unwind_try_begin(&was))
		return -EAGAIN;
	if (unw_init_local2(&c, (unw_context_t *)ucp, UNW_INIT_SIGNAL_FRAME) >= 0)
		n = unwind(&c, f, NULL, max, false, &sig_at);
	unwind_end(was);
	if (past_signal && sig_at > 0 && sig_at < n) {
		n -= sig_at;
		memmove(f, f + sig_at, (size_t)n * sizeof *f);
	}
	return n;
}

/* Names frames that introspect_backtrace_uc left unnamed: on an ordinary
 * thread, never in the handler. unw_get_proc_name reads the object's
 * symbol table with malloc: in a handler that interrupted malloc it
 * deadlocks on the arena's lock (seen with a sample every millisecond).
 * A caller frame's pc is a return address: the call is at pc - 1 (a
 * noreturn call may end its function). */
void introspect_name_frames(struct frame *f, int n)
{
	for (int k = 0; k < n; k++) {
		uintptr_t look = k == 0 ? f[k].pc : f[k].pc - 1;
		unw_context_t uc;
		unw_cursor_t c;
		unw_word_t off = 0;
		bool was;

		f[k].name[0] = '\0';
		f[k].off = 0;
		unw_getcontext(&uc);
		((ucontext_t *)&uc)->uc_mcontext.gregs[REG_RIP] = (greg_t)look;
		unwind_begin(&was);
		if (unw_init_local2(&c, &uc, UNW_INIT_SIGNAL_FRAME) == 0 &&
		    unw_get_proc_name(&c, f[k].name, sizeof f[k].name, &off) == 0)
			f[k].off = (uintptr_t)off + (f[k].pc - look);
		else
			f[k].name[0] = '\0';
		unwind_end(was);
	}
}

/* The runtime's own code: the executable segments of the object this file
 * is linked into (libgreenshim.so, or a unit test's binary), found once. */
struct own_text {
	uintptr_t lo[4], hi[4];
	int n;
};

static struct own_text own_text;
static atomic_int own_text_state; /* 0 unknown, 1 finding, 2 known */

static int own_text_phdr(struct dl_phdr_info *i, size_t size, void *arg)
{
	uintptr_t base = (uintptr_t)arg;

	(void)size;
	if (i->dlpi_addr != base)
		return 0;
	for (int k = 0; k < i->dlpi_phnum && own_text.n < 4; k++) {
		const ElfW(Phdr) *p = &i->dlpi_phdr[k];

		if (p->p_type != PT_LOAD || !(p->p_flags & PF_X))
			continue;
		own_text.lo[own_text.n] = i->dlpi_addr + p->p_vaddr;
		own_text.hi[own_text.n] = i->dlpi_addr + p->p_vaddr + p->p_memsz;
		own_text.n++;
	}
	return 1;
}

bool introspect_own_pc(uintptr_t pc)
{
	int expected = 0;

	if (atomic_load_explicit(&own_text_state, memory_order_acquire) != 2) {
		if (atomic_compare_exchange_strong(&own_text_state, &expected, 1)) {
			Dl_info d;
			bool was = osthread_runtime_begin();

			if (dladdr((void *)introspect_own_pc, &d) != 0)
				dl_iterate_phdr(own_text_phdr, d.dli_fbase);
			osthread_runtime_end(was);
			atomic_store_explicit(&own_text_state, 2, memory_order_release);
		}
		while (atomic_load_explicit(&own_text_state, memory_order_acquire) != 2)
			;
	}
	for (int k = 0; k < own_text.n; k++)
		if (pc >= own_text.lo[k] && pc < own_text.hi[k])
			return true;
	return false;
}

/* Is name the exported (.dynsym) symbol starting at start? Then a pc that
 * dladdr found in no symbol lies past its end. */
static bool exported_elsewhere(const char *name, uintptr_t start)
{
	Dl_info d;

	return dladdr((void *)start, &d) != 0 && d.dli_sname != NULL &&
	       (uintptr_t)d.dli_saddr == start && strcmp(d.dli_sname, name) == 0;
}

size_t introspect_format_frames(const struct frame *f, int n, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used + 1 < len; i++) {
		Dl_info di;
		struct link_map *lm = NULL;
		const char *obj = "?", *name = f[i].name;
		uintptr_t off = f[i].off;
		int w;

		memset(&di, 0, sizeof di);
		/* pc - 1: a return address may be the first byte past its
		 * function (a call that does not return). */
		if (dladdr1((void *)(f[i].pc - (i > 0)), &di, (void **)&lm, RTLD_DL_LINKMAP) != 0 &&
		    di.dli_fname != NULL)
			obj = di.dli_fname;
		if (di.dli_sname != NULL) {
			/* glibc checks the symbol's size; libunwind takes the
			 * nearest symbol before pc, whatever its size. */
			name = di.dli_sname;
			off = f[i].pc - (uintptr_t)di.dli_saddr;
		} else if (name[0] != '\0' && exported_elsewhere(name, f[i].pc - off)) {
			/* A stripped object: the nearest exported function
			 * ends before pc, which is in a function of its own
			 * that has no name left. */
			name = "";
		}
		if (name[0] != '\0')
			w = snprintf(buf + used, len - used, "    #%-2d 0x%012lx %s+0x%lx (%s)\n", i,
				     (unsigned long)f[i].pc, name, (unsigned long)off, obj);
		else /* the address in the object's file, for addr2line -e */
			w = snprintf(buf + used, len - used, "    #%-2d 0x%012lx ?? (%s+0x%lx)\n", i,
				     (unsigned long)f[i].pc, obj,
				     (unsigned long)(f[i].pc - (lm != NULL ? lm->l_addr : 0)));
		if (w < 0)
			break;
		used += (size_t)w < len - used ? (size_t)w : len - used - 1;
	}
	return used;
}

/* ---- the registry of hubs ----------------------------------------------- */

static struct hub *hubs;
static atomic_flag hubs_lock = ATOMIC_FLAG_INIT;

void introspect_hubs_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&hubs_lock, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
}

void introspect_hubs_unlock(void)
{
	atomic_flag_clear_explicit(&hubs_lock, memory_order_release);
}

void introspect_hub_register(struct hub *h)
{
	h->tid = (int)arch_syscall3(SYS_gettid, 0, 0, 0);
	h->pid = (int)arch_syscall3(SYS_getpid, 0, 0, 0);
	introspect_hubs_lock();
	h->reg_next = hubs;
	hubs = h;
	introspect_hubs_unlock();
}

void introspect_hub_unregister(struct hub *h)
{
	introspect_hubs_lock();
	for (struct hub **p = &hubs; *p != NULL; p = &(*p)->reg_next) {
		if (*p == h) {
			*p = h->reg_next;
			break;
		}
	}
	introspect_hubs_unlock();
}

void introspect_foreach_hub(void (*fn)(struct hub *h, void *arg), void *arg)
{
	introspect_hubs_lock();
	for (struct hub *h = hubs; h != NULL; h = h->reg_next)
		fn(h, arg);
	introspect_hubs_unlock();
}

void introspect_fork_child(struct hub *h)
{
	/* Only the forking thread exists: its hub alone, and the lock as if
	 * nobody held it (the holder may have been another thread). */
	atomic_flag_clear(&hubs_lock);
	atomic_store(&unwinders, tls_unwinding);
	atomic_store(&unwind_forking, false);
	hubs = h;
	h->reg_next = NULL;
	h->tid = (int)arch_syscall3(SYS_gettid, 0, 0, 0);
	h->pid = (int)arch_syscall3(SYS_getpid, 0, 0, 0);
	atomic_store(&h->sample, NULL);
	h->mon_switches = 0;
	h->mon_seen = h->mon_reported = 0;
	/* The child's OS thread is a new task, whose CPU time and usage
	 * begin at zero, as the forking thread's do natively there: the
	 * counting begins again (its root, the forking thread, given them)
	 * at the next switch or read, not from the parent's marks, which
	 * made the first slice negative. */
	__atomic_store_n(&h->cpu_mark, 0, __ATOMIC_RELEASE);
	h->ru_counting = false;
}

/* ---- the table for debuggers --------------------------------------------- */

#define FIELD(X, type, name, member) \
	X(name, offsetof(struct type, member), sizeof(((struct type *)0)->member))
#define CONST(X, name, value) X(name, (uint64_t)(value), 0)
#define ADDR(X, name, addr) X(name, (uint64_t)(uintptr_t)(addr), 0)

#define DEBUG_TABLE(X)                                                         \
	ADDR(X, "hubs", &hubs)                                                 \
	FIELD(X, hub, "hub.reg_next", reg_next)                                \
	FIELD(X, hub, "hub.all", all)                                          \
	FIELD(X, hub, "hub.current", current)                                  \
	FIELD(X, hub, "hub.hub_green", hub_green)                              \
	FIELD(X, hub, "hub.root", root)                                        \
	FIELD(X, hub, "hub.tid", tid)                                          \
	FIELD(X, hub, "hub.idle_root", idle_root)                              \
	FIELD(X, green, "green.ctx_sp", ctx.sp)                                \
	FIELD(X, green, "green.tp", tp)                                        \
	FIELD(X, green, "green.hub", hub)                                      \
	FIELD(X, green, "green.state", state)                                  \
	FIELD(X, green, "green.flags", flags)                                  \
	FIELD(X, green, "green.id", id)                                        \
	FIELD(X, green, "green.start", start)                                  \
	FIELD(X, green, "green.wait", wait)                                    \
	FIELD(X, green, "green.all_next", all_next)                            \
	FIELD(X, green, "green.name", name)                                    \
	FIELD(X, wait, "wait.kind", kind)                                      \
	FIELD(X, wait, "wait.num", num)                                        \
	FIELD(X, wait, "wait.obj", obj)                                        \
	FIELD(X, wait, "wait.deadline", deadline)                              \
	FIELD(X, gsync_mutex, "mutex.owner", owner)                            \
	CONST(X, "flag.root", GREEN_ROOT)                                      \
	CONST(X, "state.running", GREEN_RUNNING)                               \
	CONST(X, "state.parked", GREEN_PARKED)                                 \
	CONST(X, "state.dead", GREEN_DEAD)                                     \
	ADDR(X, "state.names", state_names)                                    \
	CONST(X, "state.count", sizeof state_names / sizeof state_names[0])    \
	ADDR(X, "wait.keys", wait_keys)                                        \
	CONST(X, "wait.count", WAIT_KINDS)                                     \
	CONST(X, "deadline.none", GS_NO_DEADLINE)                              \
	ADDR(X, "ctx.slot_names", CTX_SLOT_NAMES)                              \
	ADDR(X, "ctx.start", ctx_trampoline)                                   \
	CONST(X, "ctx.slots", CTX_SLOTS)

#define AS_NAME(name, value, size) name " "
#define AS_VALUE(name, value, size) value,
#define AS_SIZE(name, value, size) size,

static const uint64_t debug_values[] = { DEBUG_TABLE(AS_VALUE) };
static const uint8_t debug_sizes[] = { DEBUG_TABLE(AS_SIZE) };

GS_API const struct gs_debug_table gs_debug_table = {
	.magic = "gsdebug",
	.version = GS_DEBUG_TABLE_VERSION,
	.count = sizeof debug_values / sizeof debug_values[0],
	.names = DEBUG_TABLE(AS_NAME),
	.values = debug_values,
	.sizes = debug_sizes,
};

/* ---- samples: the running thread, seen from another OS thread ----------- */

struct sample {
	atomic_int done;
	struct sample_result *out;
};

void introspect_sample_signal(struct hub *h, void *uc)
{
	struct sample *s = atomic_exchange(&h->sample, NULL);
	struct handler_frame frame = { .up = h->frames };
	struct sample_result *r;
	struct green *cur;

	if (s == NULL)
		return;
	/* A tick that interrupts the unwinding below must not preempt: the
	 * wrappers are off meanwhile (osthread_runtime_begin), and would stay
	 * off for the thread the hub ran next. A handler's frame says so. */
	h->frames = &frame;
	r = s->out;
	cur = h->current;
	r->id = cur->id;
	memcpy(r->name, cur->name, sizeof r->name);
	r->name[sizeof r->name - 1] = '\0';
	r->hub = cur == h->hub_green;
	r->switches = h->switches;
	/* Interrupted in the preemption tick's handler: the frames are the
	 * thread's from where the tick interrupted it (the runtime's own
	 * handler is no place the program spends its time). */
	r->nframes = introspect_backtrace_uc(uc, r->frames, INTROSPECT_FRAMES_MAX, h->in_tick > 0);
	h->frames = frame.up;
	atomic_store_explicit(&s->done, 1, memory_order_release);
}

int introspect_sample(struct hub *h, struct sample_result *out, int timeout_ms)
{
	int r = introspect_sample_unnamed(h, out, timeout_ms);

	if (r == 0)
		introspect_name_frames(out->frames, out->nframes);
	return r;
}

int introspect_sample_unnamed(struct hub *h, struct sample_result *out, int timeout_ms)
{
	struct sample s = { .out = out };
	struct sample *expected = NULL;
	long r;

	if (!preempt_handler_ready())
		return -EAGAIN;
	/* libunwind sets itself up at its first unwinding (a pipe2 among
	 * others, greenshim's wrapper, which takes a lock): here, before the
	 * first signal, not in the handler, where the code it interrupted may
	 * hold that lock. Only a process that is sampled gets its pipe. */
	introspect_unwind_init();
	atomic_init(&s.done, 0);
	if (!atomic_compare_exchange_strong(&h->sample, &expected, &s))
		return -EBUSY;
	r = preempt_send_sample(h->tid);
	/* A running hub answers in tens of microseconds: look again after
	 * 50 us, then twice as long each time up to 1 ms, not a full
	 * millisecond at once (a profile's round waits on every hub). */
	for (long waited = 0, step = 50000; r == 0 && waited < timeout_ms * 1000000L;
	     waited += step, step = step < 500000 ? step * 2 : 1000000) {
		if (atomic_load_explicit(&s.done, memory_order_acquire))
			return 0;
		sleep_ns(step);
	}
	expected = &s;
	if (atomic_compare_exchange_strong(&h->sample, &expected, NULL))
		return r < 0 ? (int)r : -ETIMEDOUT; /* never taken: nobody writes s */
	/* The handler took it: it finishes without waiting for anything. */
	while (!atomic_load_explicit(&s.done, memory_order_acquire))
		sleep_ms(1);
	return 0;
}

/* ---- reports -------------------------------------------------------------- */

struct dump_buf {
	char *p;
	size_t len, cap;
};

static void dump_printf(struct dump_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dump_printf(struct dump_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

void introspect_log(const char *p, size_t n)
{
	int fd = STDERR_FILENO;

	config_load();
	if (gs_config.log_path != NULL) {
		long r = arch_syscall3(SYS_open, (long)gs_config.log_path,
				       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (r < 0)
			return; /* it could be opened at start: removed since */
		fd = (int)r;
	}
	while (n > 0) {
		long w = sys_write(fd, p, n);

		if (w == -EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		n -= (size_t)w;
	}
	if (fd != STDERR_FILENO)
		arch_syscall3(SYS_close, fd, 0, 0);
}

size_t introspect_dump_hub(struct hub *h, const char *title, char *buf, size_t len)
{
	struct frame f[INTROSPECT_FRAMES_MAX];
	struct dump_buf b = { buf, 0, len };
	int64_t now = gs_now_ns();

	if (len == 0)
		return 0;
	b.p[0] = '\0';
	if (title != NULL)
		dump_printf(&b, "%s\n", title);
	/* Oldest first: h->all has the newest at its head. */
	struct green *last = h->all;

	while (last != NULL && last->all_next != NULL)
		last = last->all_next;
	for (struct green *g = last; g != NULL; g = g->all_prev) {
		struct green_info i;
		char what[160];
		int n;

		if (g->state == GREEN_DEAD || !green_of_program(g))
			continue;
		introspect_green(g, &i);
		introspect_describe(&i, what, sizeof what);
		dump_printf(&b, "  thread %llu%s%s%s%s: %s", (unsigned long long)i.id,
			    i.name[0] ? " \"" : "", i.name, i.name[0] ? "\"" : "",
			    i.root ? " (main)" : "", what);
		if (i.since != 0 && i.since <= now)
			dump_printf(&b, ", for %.3f s", (double)(now - i.since) / 1e9);
		dump_printf(&b, "\n");
		n = introspect_backtrace(g, f, INTROSPECT_FRAMES_MAX);
		if (n > 0) {
			size_t cap = b.cap - b.len;

			if (cap > 1)
				b.len += introspect_format_frames(f, n, b.p + b.len, cap);
		}
	}
	return b.len;
}

#define DEADLOCK_REPORT_MAX (256 * 1024)

/* A thread that waits for a signal (poll with no fd, sigwait) is not
 * stuck for ever: the program expects a signal from outside. */
static bool waits_for_a_signal(struct hub *h)
{
	for (struct green *g = h->all; g != NULL; g = g->all_next)
		if (g->state == GREEN_PARKED && g->wait != NULL && g->wait->kind == WAIT_SIGNAL)
			return true;
	return false;
}

void introspect_deadlock_report(struct hub *h)
{
	char title[400], *buf;
	struct hub *hs[CONFIG_HUBS_MAX];
	int n = 1;
	unsigned long threads = 0;
	size_t len = 0, t;

	/* With several hubs, every one of them is stuck (sched.c), and
	 * their threads are reported together, hub by hub. */
	hs[0] = h;
	if (h->sched && sched_hubs() > 1)
		for (n = 0; n < sched_hubs(); n++)
			hs[n] = sched_hub(n);
	for (int i = 0; i < n; i++) {
		if (waits_for_a_signal(hs[i]))
			return;
		threads += hs[i]->nrunning;
	}
	t = (size_t)snprintf(title, sizeof title, "greenshim: deadlock: all %lu threads of OS thread%s ",
			     threads, n > 1 ? "s" : "");
	for (int i = 0; i < n && t < sizeof title; i++)
		t += (size_t)snprintf(title + t, sizeof title - t, "%s%d",
				      i == 0 ? "" : i == n - 1 ? " and " : ", ", hs[i]->tid);
	if (t < sizeof title)
		snprintf(title + t, sizeof title - t,
			 " wait, and nothing can wake any of them: this would block forever");
	buf = gs_malloc(DEADLOCK_REPORT_MAX);
	if (buf == NULL)
		return;
	all_hubs_still = n > 1;
	for (int i = 0; i < n && len + 1 < DEADLOCK_REPORT_MAX; i++)
		len += introspect_dump_hub(hs[i], i == 0 ? title : NULL, buf + len,
					   DEADLOCK_REPORT_MAX - len);
	all_hubs_still = false;
	introspect_log(buf, len);
	gs_free(buf);
}
