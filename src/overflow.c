/*
 * Stack overflow reports.
 *
 * A green thread that overflows its stack touches the guard below it and
 * takes SIGSEGV with a full stack: the handler runs on an alternate signal
 * stack, made per OS thread when its hub is made (unless the program set
 * one already). Every fault, and a SIGSEGV sent rather than faulted
 * (si_code SI_USER, SI_TKILL, SI_QUEUE), goes to the program's own SIGSEGV
 * handler where it has one (installed before ours, or later through the
 * sigaction wrapper, which hands it to overflow_program_handler() instead
 * of replacing ours), as natively; a fault in a guard only to a handler
 * with SA_ONSTACK (natively the others have no room on the full stack,
 * and the kernel kills the process). Runtimes turn an overflow into an
 * exception there (Ruby's SystemStackError) or a message of their own
 * (Rust's "has overflowed its stack"). Without one, a fault in the running
 * green thread's guard makes the handler write one line naming the
 * thread, its id and its stack size, restore the default action and
 * return: the faulting instruction runs again and the kernel kills the
 * process with SIGSEGV, as it would for a native thread, core dump
 * included; any other gets the default action.
 *
 * The alternate stack a program sets (sigaltstack) is per green thread, as
 * natively per thread: kept in the thread's TLS (overflow_sigaltstack),
 * while the kernel's stays the one made here for the OS thread. Natively a
 * thread's stack goes with the thread; an OS thread shared by green
 * threads would keep the one its last thread set, after that thread ended
 * and its memory was freed (Ruby sets one from malloc for each thread it
 * starts and frees it with the thread), and the next SA_ONSTACK handler
 * would write there.
 *
 * The kernel runs every SA_ONSTACK handler on the OS thread's stack, then,
 * and the handler's first act is to move its frame off it
 * (overflow_signal_stack): to the top of the green thread's own alternate
 * stack, or below the interrupted stack pointer where the thread has none,
 * as the kernel places a frame for a native thread. A handler may wait
 * (a collector's stop handler waits in sigsuspend or sem_wait until the
 * world may go on) and its thread's hub runs the others meanwhile: on the
 * one stack of the OS thread, the next thread's signal would have written
 * its frame over the waiting one's. The copy is what rt_sigreturn reads.
 * Not moved: a handler interrupting one still on that stack (it nests
 * there, as natively on an alternate stack), and the report of an
 * overflow, which has nowhere else to run.
 *
 * The preemption tick is SA_ONSTACK too, and moves likewise before it
 * switches away: a thread may run on a stack of the program's that has no
 * room for a frame (Erlang's JIT runs Erlang code on each process's small
 * stack, and gives every thread an alternate stack for its own signals,
 * all SA_ONSTACK): there the frame goes to the thread's alternate stack.
 *
 * Everything here is async-signal-safe: no stdio, no allocation.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "hub_impl.h"

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
#include "sys.h"

#define ALTSTACK_SIZE (64 * 1024)
#ifndef SS_AUTODISARM
#define SS_AUTODISARM ((int)(1u << 31)) /* <linux/signal.h>'s; glibc 2.36 has none */
#endif

static struct sigaction prev_segv;
static atomic_int segv_installed;

/* The alternate signal stack the program set on the context whose TLS
 * this is (program_ss_set: none at first, as for a new thread). */
static __thread stack_t program_ss __attribute__((tls_model("initial-exec")));
static __thread bool program_ss_set __attribute__((tls_model("initial-exec")));

static bool within(uintptr_t p, const void *lo, size_t size)
{
	return p >= (uintptr_t)lo && p - (uintptr_t)lo < size;
}

/* Is the alternate stack of h's current context its own setting here? Of
 * the contexts with a TLS of their own (the root's is its OS thread's),
 * where the OS thread has the stack made here. */
bool overflow_keeps_altstack(const struct hub *h)
{
	const struct green *g = h->current;

	return h->altstack != NULL && g != h->hub_green &&
	       (g == h->root || (g->flags & GREEN_OWN_TLS));
}

int overflow_sigaltstack(const stack_t *ss, stack_t *old)
{
	stack_t set = { .ss_flags = SS_DISABLE }, k;
	/* On it: a handler runs there (moved, overflow_signal_stack). */
	bool on = program_ss_set &&
		  within((uintptr_t)__builtin_frame_address(0), program_ss.ss_sp, program_ss.ss_size);
	long r;

	if (ss != NULL && on) {
		errno = EPERM;
		return -1;
	}
	if (ss != NULL)
		set = *ss; /* ss and old may be one */
	/* The kernel checks ss as natively (EINVAL, ENOMEM, EFAULT; EPERM
	 * while a handler runs on the OS thread's alternate stack), then has
	 * its own back. */
	r = sys_sigaltstack(ss, &k);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	on = on || (k.ss_flags & SS_ONSTACK);
	if (ss != NULL) {
		k.ss_flags &= ~SS_ONSTACK;
		sys_sigaltstack(&k, NULL);
	}
	if (old != NULL) {
		if (program_ss_set) {
			*old = program_ss;
			if (on)
				old->ss_flags |= SS_ONSTACK;
		} else {
			*old = (stack_t){ .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
		}
	}
	/* As the kernel keeps it: a mode of 0 or SS_ONSTACK sets, and only
	 * SS_AUTODISARM is kept of the flags. */
	if (ss != NULL) {
		program_ss_set = (set.ss_flags & ~SS_AUTODISARM) != SS_DISABLE;
		program_ss = set;
		program_ss.ss_flags &= SS_AUTODISARM;
	}
	return 0;
}

/* The top of the main thread's stack, as the program started (ld.so). */
extern void *__libc_stack_end;

/* Is sp on the main thread's own stack: below its top, within the stack
 * size limit (1 GiB at most, where it has none)? Its root context knows no
 * bounds of its own (g->stack). */
static bool on_main_stack(const struct hub *h, uintptr_t sp)
{
	static size_t limit; /* read once: a caught call may come often */
	uintptr_t top = (uintptr_t)__libc_stack_end;
	size_t size = __atomic_load_n(&limit, __ATOMIC_RELAXED);

	if (h->tid != h->pid || top == 0)
		return false;
	if (size == 0) {
		struct rlimit rl;

		size = (size_t)1 << 30;
		if (arch_syscall6(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)&rl, 0, 0) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < size)
			size = (size_t)rl.rlim_cur;
		__atomic_store_n(&limit, size, __ATOMIC_RELAXED);
	}
	return sp < top && top - sp < size;
}

/* Did the signal come on a stack of the program's own making (a
 * coroutine's, a goroutine's, an Erlang process's), not the green
 * thread's? For a caught system call, the main thread's stack is its
 * root's own: its handler may set or read the alternate stack, which it
 * must not be running on. */
static bool on_foreign_stack(const struct hub *h, const struct green *g, enum sigstack_want want,
			     uintptr_t sp)
{
	if (within(sp, g->stack.lo, (size_t)(g->stack.hi - g->stack.lo)))
		return false;
	return !(want == SIGSTACK_TRAP && (g->flags & GREEN_ROOT) && on_main_stack(h, sp));
}

bool overflow_signal_stack(struct hub *h, enum sigstack_want want, sigframe_fn fn, int sig,
			   siginfo_t *si, void *uc)
{
	const ucontext_t *u = uc;
	const stack_t *k = &u->uc_stack; /* the kernel's, as the frame found it */
	uintptr_t sp = (uintptr_t)u->uc_mcontext.gregs[REG_RSP], top = sp - 128, lo = 0;
	const struct green *g;
	bool own;

	if (h == NULL || (k->ss_flags & SS_DISABLE) || !within((uintptr_t)uc, k->ss_sp, k->ss_size))
		return true;
	/* Valgrind's frames are its own, with more than the kernel's in
	 * them, which its rt_sigreturn checks; and a handler interrupted on
	 * the alternate stack nests there, as natively. */
	if (RUNNING_ON_VALGRIND || within(sp, k->ss_sp, k->ss_size))
		return false;
	g = h->current;
	own = k->ss_sp == h->altstack && overflow_keeps_altstack(h);
	if (own && program_ss_set && !within(sp, program_ss.ss_sp, program_ss.ss_size) &&
	    (want == SIGSTACK_ONSTACK ||
	     ((want == SIGSTACK_TICK || want == SIGSTACK_TRAP) && on_foreign_stack(h, g, want, sp)))) {
		lo = (uintptr_t)program_ss.ss_sp;
		top = lo + program_ss.ss_size;
	} else if (want == SIGSTACK_ONSTACK && !own) {
		return false; /* the program's own alternate stack: natively there */
	}
	/* else below the interrupted stack pointer, past the ABI's red zone
	 * as the kernel places a frame */
	sigframe_move(top, lo, fn, sig, si, uc);
	return false;
}

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static size_t put(char *buf, size_t at, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + at, s, n);
	return at + n;
}

static void overflow_report(const struct green *g)
{
	char line[256];
	size_t n = 0;

	n = put(line, n, "greenshim: stack overflow in green thread ");
	n += fmt_u64(line + n, g->id);
	if (g->name[0] != '\0') {
		size_t len = strnlen(g->name, sizeof g->name);

		n = put(line, n, " \"");
		memcpy(line + n, g->name, len);
		n = put(line, n + len, "\"");
	}
	n = put(line, n, ": it hit the guard page below its stack of ");
	n += fmt_u64(line + n, (uint64_t)(g->stack.hi - g->stack.lo));
	n = put(line, n, " bytes (set GREENSHIM_STACK_SIZE or the thread's stack size)\n");
	sys_write(STDERR_FILENO, line, n);
}

/* The program's own handler of a fault, on the stack it would run on. */
static void segv_program(int sig, siginfo_t *si, void *uctx)
{
	if (prev_segv.sa_flags & SA_SIGINFO)
		prev_segv.sa_sigaction(sig, si, uctx);
	else
		prev_segv.sa_handler(sig);
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
	struct hub *h = hub_peek();
	struct green *g = h != NULL ? h->current : NULL;
	char *addr = si->si_addr;

	/* Natively a handler without SA_ONSTACK, or on a thread with no
	 * alternate stack, finds no room for its frame on the full stack,
	 * and the kernel kills the process instead. */
	bool program_handles = sig_disposition_is_handler(&prev_segv) &&
			       (prev_segv.sa_flags & SA_ONSTACK) &&
			       (h == NULL || !overflow_keeps_altstack(h) || program_ss_set);

	if (!program_handles && si->si_code > 0 && g != NULL && g->stack.guard != 0 &&
	    addr < g->stack.lo && addr >= g->stack.lo - g->stack.guard) {
		overflow_report(g);
		sig_set_default(SIGSEGV);
		return;
	}
	if (sig_disposition_is_handler(&prev_segv)) {
		overflow_signal_stack(h, prev_segv.sa_flags & SA_ONSTACK ? SIGSTACK_ONSTACK : SIGSTACK_PLAIN,
				      segv_program, sig, si, uctx);
		segv_program(sig, si, uctx);
	} else if (si->si_code <= 0) {
		/* Sent (kill, raise, pthread_kill, sigqueue), not a fault:
		 * nothing faults again on return. Ignored as natively, or the
		 * default action: sent again with no handler, taken when the
		 * handler returns and unblocks it. */
		if (prev_segv.sa_handler == SIG_DFL)
			sig_default_again(SIGSEGV);
	} else {
		/* Default action: return and fault again without us. */
		sig_set_default(SIGSEGV);
	}
}

void overflow_init_thread(void)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&segv_installed, &expected, 1)) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		/* glibc's own name for sigaction: the exported one is
		 * greenshim's wrapper under LD_PRELOAD, which routes SIGSEGV
		 * back here (overflow_program_handler). */
		__sigaction(SIGSEGV, &sa, &prev_segv);
	}
}

void *overflow_altstack_start(void)
{
	stack_t ss;
	void *made = NULL;

	/* An alternate stack the program set before (Erlang's main thread,
	 * Go's first thread) becomes the calling context's own, as one set
	 * since is (program_ss), and the kernel's is ours: without it, the
	 * tick of a thread running on a stack of the program's (Erlang code
	 * on a process's stack) put its frame below that stack pointer, into
	 * the process's heap, and BEAM crashed (2026-12-07). Not while the
	 * program runs on it: a later second thread tries again. */
	if (sys_sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_ONSTACK)) {
		stack_t before = ss;
		void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (p != MAP_FAILED) {
			ss.ss_sp = p;
			ss.ss_size = ALTSTACK_SIZE;
			ss.ss_flags = 0;
			if (sys_sigaltstack(&ss, NULL) == 0) {
				made = p;
				if (!(before.ss_flags & SS_DISABLE)) {
					program_ss = before;
					program_ss.ss_flags &= SS_AUTODISARM;
					program_ss_set = true;
				}
			} else {
				munmap(p, ALTSTACK_SIZE);
			}
		}
	}
	return made;
}

void overflow_fini_thread(void *altstack)
{
	/* The program's own, where it set one (on the root: its thread's),
	 * is the kernel's again, as natively until the thread ends. */
	stack_t ss = program_ss_set ? program_ss : (stack_t){ .ss_flags = SS_DISABLE };

	if (altstack != NULL && sys_sigaltstack(&ss, NULL) == 0)
		munmap(altstack, ALTSTACK_SIZE);
}

int overflow_program_handler(const struct sigaction *act, struct sigaction *old)
{
	if (atomic_load(&segv_installed) == 0)
		return -1;
	if (old != NULL)
		*old = prev_segv;
	if (act != NULL)
		prev_segv = *act;
	return 0;
}
