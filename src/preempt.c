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
 * two ticks while others are ready, and a timed wait ends at most one tick
 * late.
 *
 * A safe point is an instruction of the program itself or of a library it
 * was started with, in a thread that is RUNNING; never of libc, the dynamic
 * loader, the vDSO, libev, libgcc_s, libstdc++, libunwind (the tools'
 * unwinding runs with the wrappers off, introspect.c) or greenshim (they hold
 * locks, or the runtime is in the middle of a switch there), of a library
 * loaded later (not known at start), of the library whose malloc the
 * program calls when that is not libc's (jemalloc, tcmalloc, mimalloc:
 * stopped halfway, an allocator leaves state that is not per green thread
 * half-updated: without this rule tests/preload/allocators.c passed 3, 4
 * and 4 runs of 6 with them, even with a TLS per thread and the runtime
 * allocating from glibc's malloc), of a signal handler of the program
 * (hub->in_handler), or of a library the runtime calls with the wrappers
 * off (osthread_runtime_begin: libunwind and what it calls, liblzma
 * included): there the thread is left alone and tried again at the next
 * tick.
 *
 * The same signal, sent by another thread of the runtime with
 * rt_tgsigqueueinfo (si_code SI_QUEUE, this process's pid, a marker value:
 * preempt_send_sample), asks the thread for a backtrace of what it runs
 * (introspect_sample, for the blocking monitor and greenctl): the handler
 * answers it first and preempts nothing then. The handler is installed for
 * that even when preemption is off (GREENSHIM_PREEMPT_MS=0). The signal
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

struct range {
	uintptr_t lo, hi;
};

static struct range safe[SAFE_RANGES_MAX];
static int nsafe;
/* libc's, the loader's and libunwind's code (preempt_pc_kind). */
static struct range libc_text[SAFE_RANGES_MAX];
static int nlibc;
static atomic_int state; /* 0 unknown, 1 on, -1 off for good */

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

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *allocator = arg;

	(void)size;
	if (libc_name(info->dlpi_name))
		add_text(libc_text, &nlibc, info);
	if (unsafe_name(info->dlpi_name) ||
	    (allocator != NULL && strcmp(info->dlpi_name, allocator) == 0))
		return 0;
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

static bool safe_pc(uintptr_t pc)
{
	for (int i = 0; i < nsafe; i++)
		if (pc >= safe[i].lo && pc < safe[i].hi)
			return true;
	return false;
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

/* sival_int of a sample request: "gs" and a version. */
#define SAMPLE_MARK 0x67730001

long preempt_send_sample(int tid)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	si.si_signo = preempt_signal();
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = SAMPLE_MARK;
	return arch_syscall6(SYS_rt_tgsigqueueinfo, si.si_pid, tid, si.si_signo, (long)&si, 0, 0);
}

/* Neither the tick nor a sample request: the native default action of a
 * real-time signal, the end of the process, killed by it. */
static void foreign(int sig)
{
	struct sigaction sa;
	uint64_t set = (uint64_t)1 << (sig - 1);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	__sigaction(sig, &sa, NULL);
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

static void tick_set(struct hub *h, int64_t ns)
{
	struct itimerspec it;

	it.it_interval.tv_sec = (time_t)(ns / 1000000000);
	it.it_interval.tv_nsec = (long)(ns % 1000000000);
	it.it_value = it.it_interval;
	h->tick_ns = ns;
	h->timer_armed = timer_settime(h->timer, 0, &it, NULL) == 0;
}

static void preempt_handler(int sig, siginfo_t *si, void *ucp)
{
	struct hub *h = hub_peek();
	ucontext_t *uc = ucp;
	struct green *cur;
	int saved_errno = errno;
	bool due, moved;

	if (si->si_code != SI_TIMER &&
	    (si->si_code != SI_QUEUE || si->si_pid != getpid() ||
	     si->si_value.sival_int != SAMPLE_MARK)) {
		foreign(sig);
		return;
	}
	if (h == NULL)
		return;
	if (atomic_load_explicit(&h->sample, memory_order_relaxed) != NULL)
		introspect_sample_signal(h, ucp);
	/* The tools' tgkill asks for a backtrace (above), never a preemption;
	 * and without a tick, nothing here is preemption's. */
	if (si->si_code != SI_TIMER || !h->have_timer)
		goto out;
	h->preempt_ticks++;
	cur = h->current;
	h->in_tick++; /* a sample taken meanwhile leaves these frames out */
	if (cur == h->hub_green) {
		/* Nothing runs: the hub will arm the timer again. */
		preempt_disarm(h);
		goto out_tick;
	}
	/* A thread that switched since the last tick made progress; but a
	 * timed wait that has ended (a sleep, the GIL's 5 ms wait) must be
	 * noticed now, whoever runs. */
	due = gs_now_ns() >= h->next_deadline;
	if (h->switches != h->preempt_seen && !due) {
		h->preempt_seen = h->switches;
		goto out_tick;
	}
	/* A thread on its way out of the CPU (parking, yielding, ending) has
	 * left RUNNING already: the runtime is switching it, not the program
	 * running it. A thread that holds a FILE lock (flockfile) keeps the
	 * CPU until it lets go: glibc's lock takes every thread of the hub
	 * for its owner, and would let the next one's putc or fseek in
	 * (preload/stdio.c). */
	if (cur->state != GREEN_RUNNING || h->in_handler > 0 || osthread_is_runtime() ||
	    (cur->flags & GREEN_FLOCK_MASK) || !safe_pc((uintptr_t)uc->uc_mcontext.gregs[REG_RIP])) {
		if (GS_UNLIKELY(tick_backs_off) && h->tick_ns < TICK_BACKOFF_MAX_NS)
			tick_set(h, h->tick_ns * 2 < TICK_BACKOFF_MAX_NS ? h->tick_ns * 2
									 : TICK_BACKOFF_MAX_NS);
		goto out_tick;
	}
	/* Preempt: to the hub, which polls the loop (due timers, fds) and
	 * puts cur at the back of the run queue. */
	if (due)
		h->next_deadline = GS_NO_DEADLINE;
	if (GS_UNLIKELY(h->tick_ns != gs_config.preempt_ns))
		tick_set(h, gs_config.preempt_ns);
	h->preemptions++;
	h->in_tick--; /* others run meanwhile, not this handler */
	unblock_tick();
	hub_preempt(h, cur);
	/* The return from the handler puts back the mask and signal stack
	 * the signal found; but the hub has put this thread's mask in the
	 * kernel since, and a thread moved to another hub (sched_share) is
	 * on another OS thread, with its own. */
	moved = cur->hub != h;
	if (GS_UNLIKELY(moved)) {
		h = cur->hub;
		sigaltstack(NULL, &uc->uc_stack);
	}
	if (h->masks || moved)
		memcpy(&uc->uc_sigmask, &h->kmask, sizeof h->kmask);
	h->in_tick++;
out_tick:
	h->in_tick--;
out:
	errno = saved_errno;
}

int preempt_signal(void)
{
	return SIGRTMAX - 1;
}

/* Installs the handler once: for the tick, or for the tools' samples
 * (introspect_sample) even when preemption is off. */
bool preempt_handler_ready(void)
{
	int expected = 0;

	if (atomic_load(&state) != 0)
		return atomic_load(&state) > 0;
	dl_iterate_phdr(collect, (void *)allocator_object());
	if (atomic_compare_exchange_strong(&state, &expected, 1)) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = preempt_handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		/* glibc's own name: sigaction is greenshim's under LD_PRELOAD. */
		if (__sigaction(preempt_signal(), &sa, NULL) != 0)
			atomic_store(&state, -1);
	}
	return atomic_load(&state) > 0;
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
	ev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
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
}

void preempt_disarm(struct hub *h)
{
	struct itimerspec it;

	if (!h->timer_armed)
		return;
	memset(&it, 0, sizeof it);
	timer_settime(h->timer, 0, &it, NULL);
	h->timer_armed = false;
}

void preempt_exec_begin(void)
{
	struct hub *h = hub_peek();
	uint64_t pending = 0, one = 1ull << (preempt_signal() - 1);
	struct timespec zero = { 0, 0 };

	introspect_hubs_lock();
	if (h != NULL)
		preempt_disarm(h);
	/* Sent, given up by its sampler, and blocked here meanwhile. */
	if (arch_syscall3(SYS_rt_sigpending, (long)&pending, sizeof pending, 0) == 0 &&
	    (pending & one))
		arch_syscall6(SYS_rt_sigtimedwait, (long)&one, 0, (long)&zero, sizeof one, 0, 0);
}

void preempt_exec_end(void)
{
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

void preempt_release(void)
{
	atomic_store(&state, -1);
}

bool preempt_active(void)
{
	return atomic_load_explicit(&state, memory_order_relaxed) > 0;
}
