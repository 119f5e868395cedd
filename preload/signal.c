/*
 * Signal handlers, and the EINTR they owe to blocking calls.
 *
 * A handler the program installs (sigaction, signal and its aliases) is
 * installed as given, with one difference: the kernel calls our
 * trampoline, which tells the hub a signal was handled (hub_signal) and
 * then calls the program's handler with the same arguments. The hub ends
 * the interrupted wait of the green thread the signal was for, as the
 * kernel would end the blocking call: -EINTR, or a restart where the
 * handler has SA_RESTART and the call restarts (signal(7)). Dispositions
 * read back (the old action, signal's return value) are the program's
 * own, never the trampoline. SIG_DFL and SIG_IGN are installed as they
 * are: no handler, no EINTR, as natively.
 *
 * SIGSEGV is the runtime's for stack overflows (src/overflow.c): a
 * program's SIGSEGV disposition is kept there, and ours calls it for
 * every fault that is not an overflow. SIGSYS, once raw system calls are
 * trapped, likewise (src/trap.c): the program's handler gets every SIGSYS
 * that is not a trapped call.
 */
#include <string.h>

#include "preload.h"
#include "../src/sys.h"

/* Not declared under _GNU_SOURCE (glibc declares them for other
 * feature sets); exported by glibc all the same. */
sighandler_t bsd_signal(int sig, sighandler_t handler);
sighandler_t sysv_signal(int sig, sighandler_t handler);
/* _FORTIFY_SOURCE's longjmp. */
_Noreturn void __longjmp_chk(struct __jmp_buf_tag *env, int val);

/* The program's dispositions, as it set them through us. */
static struct sigaction program[NSIG];
static volatile sig_atomic_t trampolined[NSIG];

static void run_handler(int sig, siginfo_t *si, void *uc);

static void trampoline(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	struct hub *h = hub_peek();

	/* A tick of the runtime's that came late, a process's signal that
	 * the main thread's hub is to take (src/sched.c), or one for a thread
	 * of this hub that is not running: handled on its context, later. */
	if ((sig == preempt_signal() && preempt_stale_tick(h, si)) ||
	    (h != NULL && hub_kill_target(h) == NULL && sched_forward_signal(h, sig, si)) ||
	    (h != NULL && hub_defer_signal(h, sig, si))) {
		errno = saved_errno;
		return;
	}
	/* Off the OS thread's alternate stack, to the thread's own (the
	 * tick's signal comes there whatever the program's flags say). */
	if (program[sig].sa_flags & SA_ONSTACK)
		overflow_signal_stack(h, SIGSTACK_ONSTACK, run_handler, sig, si, uc);
	else if (sig == preempt_signal())
		overflow_signal_stack(h, SIGSTACK_PLAIN, run_handler, sig, si, uc);
	run_handler(sig, si, uc);
}

static void run_handler(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = program[sig];
	int saved_errno = errno;
	struct hub *h = hub_peek();
	/* SA_RESTART as the program set it last: through sigaction, signal
	 * or siginterrupt, which are ours. */
	struct green *t = hub_signal(sig, a.sa_flags & SA_RESTART);
	/* The signal frame's mask, the kernel's 64-bit word. */
	uint64_t *kmask = (uint64_t *)(void *)&((ucontext_t *)uc)->uc_sigmask;
	struct handler_frame f;
	uint64_t extra;

	memcpy(&extra, &a.sa_mask, sizeof extra);
	if (!(a.sa_flags & SA_NODEFER))
		extra |= (uint64_t)1 << (sig - 1);
	/* Through the tick's handler, which blocks every signal: the mask
	 * the kernel gives a handler, as for the others. */
	if (sig == preempt_signal())
		preempt_unmask(uc, extra);
	/* On the hub's context, the handler runs with the mask of the
	 * thread the signal was for (sigsuspend's temporary one included),
	 * as it would on that thread. */
	if (t != NULL && hub_in_loop(h))
		sigmask_handler_mask(h, t, extra);
	/* SA_RESETHAND, kept from the kernel (sigaction): the default
	 * action from now on, the kernel's first, so that another instance
	 * that comes meanwhile gets it there. */
	if ((a.sa_flags & SA_RESETHAND) && sig != preempt_signal())
		sig_set_default(sig);
	if (a.sa_flags & SA_RESETHAND) {
		memset(&program[sig], 0, sizeof program[sig]);
		program[sig].sa_handler = SIG_DFL;
		trampolined[sig] = 0;
		sigmask_set_handled(sig, false, false);
		if (sig == preempt_signal())
			preempt_keep_signal(false); /* the kernel's is ours */
	}
	errno = saved_errno;
	/* No preemption inside the program's handler: it may have
	 * interrupted code that holds a lock (src/preempt.c). On a green
	 * thread's own context, its mask is the handler's meanwhile. */
	if (h != NULL)
		hub_handler_begin(h, &f, extra, hub_in_loop(h) ? NULL : kmask);
	/* A disposition changed since the kernel took the signal: SIG_IGN,
	 * nothing; SIG_DFL, the default action. */
	if (!sig_disposition_is_handler(&a)) {
		if (a.sa_handler == SIG_DFL)
			sig_default_again(sig);
	} else if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
	if (h != NULL)
		hub_handler_end(h, &f, kmask);
}

static bool is_handler(const struct sigaction *act)
{
	return sig_disposition_is_handler(act);
}

/* The program's disposition of the tick's signal while our handler keeps
 * it: SIG_DFL or SIG_IGN (inherited so, or set through us), with the flags
 * and mask the program gave it. */
static void tick_disposition(struct sigaction *old, const struct sigaction *set)
{
	*old = *set;
	old->sa_flags &= ~SA_SIGINFO;
	old->sa_handler = preempt_program_ignores() ? SIG_IGN : SIG_DFL;
}

GS_WRAP int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction k, kold, prev;
	bool kept;
	int r;

	if (sig <= 0 || sig >= NSIG)
		return REAL(sigaction)(sig, act, old); /* EINVAL, as native */
	if (sig == SIGSEGV && overflow_program_handler(act, old) == 0)
		return 0;
	if (sig == SIGSYS && trap_program_handler(act, old) == 0)
		return 0;
	/* The tick's signal while our handler has it: the program's
	 * disposition is kept in the table, and reads back from there. */
	kept = sig == preempt_signal() && preempt_active();
	if (sig == preempt_signal() && act != NULL) {
		/* SIG_DFL or SIG_IGN, as a program that resets every signal
		 * sets it, or a handler (Go's runtime installs one for every
		 * signal): ours stays, and applies it to every signal that is
		 * not the runtime's (src/preempt.c). */
		struct sigaction was;

		if (trampolined[sig])
			was = program[sig];
		else if (kept)
			tick_disposition(&was, &program[sig]);
		else if (REAL(sigaction)(sig, NULL, &was) != 0)
			return -1;
		prev = program[sig];
		program[sig] = *act;
		if (is_handler(act) ? preempt_keep_handler(trampoline)
				    : preempt_keep_signal(act->sa_handler == SIG_IGN)) {
			trampolined[sig] = is_handler(act);
			sigmask_set_handled(sig, is_handler(act), (act->sa_flags & SA_RESTART) != 0);
			if (old != NULL)
				*old = was;
			return 0;
		}
		program[sig] = prev;
	}
	if (act == NULL) {
		r = REAL(sigaction)(sig, NULL, old);
		if (r == 0 && old != NULL && trampolined[sig])
			*old = program[sig];
		else if (r == 0 && old != NULL && kept)
			tick_disposition(old, &program[sig]);
		return r;
	}
	/* The table first: a signal that comes during the switch must find
	 * the new handler. */
	prev = program[sig];
	program[sig] = *act;
	k = *act;
	/* SIGSYS is never blocked while raw calls are trapped (src/trap.c):
	 * a handler that masks every signal does not mask it. */
	if (trap_wanted())
		sigdelset(&k.sa_mask, SIGSYS);
	/* SA_RESETHAND stays ours (run_handler): the kernel would reset at
	 * the trampoline's first signal, and one greenshim sends again to
	 * its thread's context would meet the default action (before
	 * 2026-12-07 every GHC program ended at its first SIGINT, killed by
	 * it, where its one-shot handler raises UserInterrupt in main). */
	if (is_handler(act)) {
		k.sa_sigaction = trampoline;
		k.sa_flags |= SA_SIGINFO;
		k.sa_flags &= ~SA_RESETHAND;
	}
	r = REAL(sigaction)(sig, &k, &kold);
	if (r != 0) {
		program[sig] = prev;
		return r;
	}
	if (old != NULL && kept)
		tick_disposition(old, &prev);
	else if (old != NULL)
		*old = trampolined[sig] ? prev : kold;
	trampolined[sig] = is_handler(act);
	sigmask_set_handled(sig, is_handler(act), (act->sa_flags & SA_RESTART) != 0);
	return 0;
}

/* The mask of the calling green thread (src/sigmask.c). Only the first
 * 64 bits of a sigset_t mean anything to Linux; like glibc, the old mask
 * is written there and the rest of *old is left as it was. */
static int green_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	uint64_t s, o;
	int r;

	if (preload_native())
		return -ENOSYS;
	if (set != NULL)
		memcpy(&s, set, sizeof s);
	r = sigmask_change(how, set != NULL ? &s : NULL, old != NULL ? &o : NULL);
	if (r == 0 && old != NULL)
		memcpy(old, &o, sizeof o);
	return r;
}

GS_WRAP int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = green_sigmask(how, set, old);

	return r == -ENOSYS ? REAL(pthread_sigmask)(how, set, old) : -r;
}

/* In a process with threads, sigprocmask is the calling thread's mask,
 * as pthread_sigmask (POSIX leaves it unspecified; glibc does this). */
GS_WRAP int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = green_sigmask(how, set, old);

	if (r == -ENOSYS)
		return REAL(sigprocmask)(how, set, old);
	return r == 0 ? 0 : preload_fail(r);
}

/*
 * The BSD and System V mask and disposition calls. glibc's change the
 * mask and the disposition through its internal sigprocmask and
 * sigaction, past these wrappers: the green thread's mask (and the
 * trampoline's table) would not know. Until 2026-12-07 they did not:
 * dash's sigsetmask(0) after a fork left its green mask at "all", its
 * next sigsuspend waited with every signal blocked, and `wait` in a
 * script hung (found by a helper). The same arithmetic as glibc's, on
 * the first 32 signals.
 */
static int bsd_mask(int how, int mask)
{
	sigset_t set, old;

	sigemptyset(&set);
	set.__val[0] = (unsigned int)mask;
	if (sigprocmask(how, &set, &old) != 0)
		return -1;
	return (int)(unsigned int)old.__val[0];
}

GS_WRAP int sigsetmask(int mask)
{
	return bsd_mask(SIG_SETMASK, mask);
}

GS_WRAP int sigblock(int mask)
{
	return bsd_mask(SIG_BLOCK, mask);
}

GS_WRAP int siggetmask(void)
{
	return bsd_mask(SIG_BLOCK, 0);
}

/* sig alone, or EINVAL as glibc's sigaddset says. */
static int one_signal(int how, int sig, sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigaddset(&set, sig) < 0)
		return -1;
	return sigprocmask(how, &set, old);
}

GS_WRAP int sighold(int sig)
{
	return one_signal(SIG_BLOCK, sig, NULL);
}

GS_WRAP int sigrelse(int sig)
{
	return one_signal(SIG_UNBLOCK, sig, NULL);
}

GS_WRAP int sigignore(int sig)
{
	struct sigaction a;

	memset(&a, 0, sizeof a);
	a.sa_handler = SIG_IGN;
	sigemptyset(&a.sa_mask);
	return sigaction(sig, &a, NULL);
}

GS_WRAP sighandler_t sigset(int sig, sighandler_t disp)
{
	struct sigaction a, old;
	sigset_t was;

	if (disp == SIG_HOLD) {
		if (one_signal(SIG_BLOCK, sig, &was) < 0 || sigaction(sig, NULL, &old) < 0)
			return SIG_ERR;
	} else {
		memset(&a, 0, sizeof a);
		a.sa_handler = disp;
		sigemptyset(&a.sa_mask);
		if (sigaction(sig, &a, &old) < 0 || one_signal(SIG_UNBLOCK, sig, &was) < 0)
			return SIG_ERR;
	}
	return sigismember(&was, sig) ? SIG_HOLD : old.sa_handler;
}

/* The signals siginterrupt(sig, 1) named last, as glibc's _sigintr:
 * signal() installs their handlers without SA_RESTART. */
static sigset_t interrupting;

/* As glibc's, through our sigaction (glibc's would call its internal one,
 * past this wrapper, and the trampoline would not know the handler's
 * SA_RESTART changed). */
GS_WRAP int siginterrupt(int sig, int flag)
{
	struct sigaction a;

	if (sigaction(sig, NULL, &a) != 0)
		return -1;
	if (flag) {
		sigaddset(&interrupting, sig);
		a.sa_flags &= ~SA_RESTART;
	} else {
		sigdelset(&interrupting, sig);
		a.sa_flags |= SA_RESTART;
	}
	return sigaction(sig, &a, NULL);
}

/* signal(): BSD semantics, as glibc's (SA_RESTART unless siginterrupt
 * said otherwise, the signal blocked in its handler). glibc's own
 * signal() would call its internal sigaction, past this wrapper. */
GS_WRAP sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	act.sa_flags = sig > 0 && sig < NSIG && sigismember(&interrupting, sig) == 1 ? 0 : SA_RESTART;
	sigemptyset(&act.sa_mask);
	if (sig > 0 && sig < NSIG)
		sigaddset(&act.sa_mask, sig);
	if (sigaction(sig, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

GS_WRAP sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return signal(sig, handler);
}

/* System V semantics: reset to SIG_DFL on delivery, not blocked in the
 * handler, no restart. */
GS_WRAP sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	act.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&act.sa_mask);
	if (sigaction(sig, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* A jump out of a program's signal handler (the alarm-and-siglongjmp
 * timeout idiom) ends the handlers it leaves: the hub counts them no more
 * (hub_handlers_left: preemption and moves come back). A jump that puts
 * back the mask sigsetjmp saved makes it the thread's own: glibc sets it
 * in the kernel with its own call, past pthread_sigmask, and the next
 * switch back to this thread would put the handler's back. A jump that
 * saved no mask leaves the handler's, in the kernel as natively, and so
 * in the thread's record. */
static void before_jump(struct __jmp_buf_tag *env)
{
	struct hub *h = hub_peek();

	if (h == NULL)
		return;
	if (GS_UNLIKELY(hub_in_handler(h)))
		hub_handlers_left(h, arch_jmpbuf_sp(env->__jmpbuf));
	if (env->__mask_was_saved) {
		uint64_t m;

		/* The runtime's record even with GREENSHIM_THREADS=native,
		 * where a handler entered changed it (hub_handler_begin). */
		memcpy(&m, &env->__saved_mask, sizeof m);
		(void)sigmask_change(SIG_SETMASK, &m, NULL);
	}
}

/* Each thread's own alternate signal stack, as natively (src/overflow.c):
 * a green thread's setting is kept in its TLS, and the kernel's stays its
 * OS thread's, on which every SA_ONSTACK handler runs. Elsewhere (a shared
 * TLS, GREENSHIM_THREADS=native, a thread of the runtime's): the kernel's
 * own call. */
GS_WRAP int sigaltstack(const stack_t *ss, stack_t *old)
{
	struct hub *h = hub_peek();
	long r;

	if (h != NULL && !preload_native() && overflow_keeps_altstack(h))
		return overflow_sigaltstack(ss, old);
	r = sys_sigaltstack(ss, old);
	return r < 0 ? preload_fail((int)r) : 0;
}

GS_WRAP _Noreturn void siglongjmp(sigjmp_buf env, int val)
{
	before_jump(env);
	REAL(siglongjmp)(env, val);
	__builtin_unreachable();
}

GS_WRAP _Noreturn void longjmp(jmp_buf env, int val)
{
	before_jump(env);
	REAL(longjmp)(env, val);
	__builtin_unreachable();
}

GS_WRAP _Noreturn void _longjmp(jmp_buf env, int val)
{
	before_jump(env);
	REAL(_longjmp)(env, val);
	__builtin_unreachable();
}

GS_WRAP _Noreturn void __longjmp_chk(struct __jmp_buf_tag *env, int val)
{
	before_jump(env);
	REAL(__longjmp_chk)(env, val);
	__builtin_unreachable();
}
