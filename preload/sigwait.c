/*
 * Waiting for signals: sigwait, sigwaitinfo, sigtimedwait, pause,
 * sigsuspend and the sigpause forms; and the calls that make a signal
 * pending for one thread (raise) or read it back (sigpending).
 *
 * All of them block the whole OS thread in the kernel; here only the
 * calling green thread waits, and the others run.
 *
 * sigwait family: the kernel's own sigtimedwait with a zero timeout takes
 * a signal when one is pending, exactly as it would (the thread's own
 * first, then the process's; siginfo as the kernel and glibc fill it).
 * When none is, the green thread waits in the hub on a signalfd of the set
 * (readable when a signal of it is pending for the OS thread or the
 * process; the runtime's own fd while it waits, out of the program's
 * numbers: preload_runtime_fd) and takes again. While it waits the set
 * stays blocked in the kernel whenever it or the hub runs, and on the
 * other hubs (src/sigmask.c), so that a signal of the set is left pending
 * for it instead of being handled. Signals sent
 * to the green thread with pthread_kill or raise while it blocks them, or
 * waits for them, are pending for it alone (green->tsig) and taken
 * first, with the siginfo glibc reports for them (SI_USER, our pid and
 * uid). The preemption tick (SIGRTMAX-1) is never waited for, taken or
 * reported. A handler that runs for the waiting thread ends the wait with
 * EINTR (sigwaitinfo, sigtimedwait; sigwait goes on waiting, as glibc's
 * does), unless a signal of the set is pending too: the kernel reports
 * that one.
 *
 * pause and sigsuspend: an interruptible wait that only a program handler
 * run for this thread ends (hub_signal). sigsuspend gives the calling
 * green thread its temporary mask for the duration: a pending signal the
 * mask lets in is handled at once, on this thread, and the call fails
 * with EINTR; a handler that runs later on the hub's context runs with the
 * temporary mask (preload/signal.c), as it would natively.
 *
 * GREENSHIM_THREADS=native, the hub's own context, or no hub: the plain
 * calls, which block only their own OS thread.
 */
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "preload.h"

int __sigpause(int sig_or_mask, int is_sig);
int __xpg_sigpause(int sig);
int __sigsuspend(const sigset_t *mask);

static uint64_t bit(int sig)
{
	return (uint64_t)1 << (sig - 1);
}

/* glibc declares the sets nonnull; a program may still pass NULL, and
 * gets the kernel's EFAULT from the plain call. */
static bool is_null(const void *p)
{
	return p == NULL;
}

static struct hub *signal_hub(void)
{
	return preload_native() ? NULL : preload_hub();
}

/* The signals of set a wait may take: never the preemption tick, nor
 * SIGKILL and SIGSTOP (which the kernel leaves out too). */
static uint64_t wanted(const sigset_t *set)
{
	uint64_t m;

	memcpy(&m, set, sizeof m);
	m &= ~(bit(SIGKILL) | bit(SIGSTOP));
	if (preempt_active())
		m &= ~bit(preempt_signal());
	return m;
}

static void to_sigset(uint64_t m, sigset_t *out)
{
	sigemptyset(out);
	memcpy(out, &m, sizeof m);
}

/* One signal of m, if one is pending, as the kernel takes it: the
 * signal, or -EAGAIN. */
static int take(struct green *g, uint64_t m, siginfo_t *info)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t k;
	siginfo_t queued_info;
	bool queued = false;
	int sig = sigmask_take_pending(g, m, &queued_info, &queued);

	if (sig > 0) {
		/* pthread_sigqueue's siginfo as it sent it; what sigwaitinfo
		 * reports after pthread_kill or raise: glibc folds the
		 * kernel's SI_TKILL into SI_USER. */
		if (info != NULL && queued) {
			*info = queued_info;
		} else if (info != NULL) {
			memset(info, 0, sizeof *info);
			info->si_signo = sig;
			info->si_code = SI_USER;
			info->si_pid = getpid();
			info->si_uid = getuid();
		}
		return sig;
	}
	to_sigset(m, &k);
	sig = REAL(sigtimedwait)(&k, info, &zero);
	return sig > 0 ? sig : -errno;
}

static bool ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

/* Waits until a signal of m may be pending, the deadline, or a handler:
 * the wait's result. */
static int wait_for_signal(struct hub *h, int sfd, int64_t deadline)
{
	struct wait w;
	struct waiter e;
	int r;

	wait_init_interruptible(&w);
	wait_label(&w, WAIT_SIGNAL, NULL, sfd);
	r = fdw_add(h, sfd, FDW_READ, &e, &w, WAITER_FD_OPEN);
	if (r < 0) {
		wait_after(&w);
		return r;
	}
	r = wait_park(&w, deadline);
	fdw_remove(h, sfd, FDW_READ, &e);
	wait_after(&w);
	return r;
}

GS_WRAP int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	struct hub *h;
	struct green *g;
	int64_t deadline;
	sigset_t k;
	uint64_t m;
	int r, sfd;

	/* An invalid time is EINVAL before anything is taken: the kernel's
	 * own call says it. */
	if (is_null(set) || (ts != NULL && !ts_valid(ts)) || (h = signal_hub()) == NULL)
		return REAL(sigtimedwait)(set, info, ts);
	g = hub_current(h);
	m = wanted(set);
	deadline = preload_ts_deadline(ts);
	r = take(g, m, info);
	if (r != -EAGAIN || (ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0))
		return r > 0 ? r : preload_fail(r);
	to_sigset(m, &k);
	sfd = preload_runtime_fd(signalfd(-1, &k, SFD_NONBLOCK | SFD_CLOEXEC));
	if (sfd < 0)
		return REAL(sigtimedwait)(set, info, ts); /* no fd left: block */
	sigmask_sigwait(h, g, m);
	for (;;) {
		int w = wait_for_signal(h, sfd, deadline);

		r = take(g, m, info);
		if (r != -EAGAIN)
			break;
		if (w == -ETIMEDOUT) {
			r = -EAGAIN;
			break;
		}
		if (w == -EINTR || w == WAKE_SIGNAL) {
			r = -EINTR; /* the kernel never restarts these calls */
			break;
		}
		if (w < 0) {
			r = w;
			break;
		}
	}
	sigmask_sigwait(h, g, 0);
	preload_runtime_fd_close(sfd);
	return r > 0 ? r : preload_fail(r);
}

GS_WRAP int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return sigtimedwait(set, info, NULL);
}

/* glibc's sigwait waits again after EINTR and returns the error. */
GS_WRAP int sigwait(const sigset_t *set, int *sig)
{
	int r;

	if (is_null(set) || signal_hub() == NULL)
		return REAL(sigwait)(set, sig);
	do
		r = sigtimedwait(set, NULL, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

/* Parks until a handler runs for this thread: -EINTR, or -ECANCELED. */
static int wait_for_handler(void)
{
	struct wait w;
	int r;

	wait_init_interruptible(&w);
	/* The tools show it; the deadlock report leaves a program that
	 * waits for a signal from outside alone. */
	wait_label(&w, WAIT_SIGNAL, NULL, 0);
	r = wait_park(&w, GS_NO_DEADLINE);
	wait_after(&w);
	return r == -ECANCELED ? -ECANCELED : -EINTR;
}

GS_WRAP int pause(void)
{
	if (signal_hub() == NULL)
		return REAL(pause)();
	return preload_fail(wait_for_handler());
}

GS_WRAP int sigsuspend(const sigset_t *mask)
{
	struct hub *h;
	unsigned long seen;
	uint64_t temp, old;

	if (is_null(mask) || (h = signal_hub()) == NULL)
		return REAL(sigsuspend)(mask); /* NULL: EFAULT */
	memcpy(&temp, mask, sizeof temp);
	seen = hub_program_signals(h);
	sigmask_suspend(h, temp, &old);
	/* A pending signal the temporary mask lets in was handled just now,
	 * on this thread: the call ends at once, as natively. */
	int r = -EINTR;

	if (hub_program_signals(h) == seen)
		r = wait_for_handler();
	sigmask_change(SIG_SETMASK, &old, NULL);
	return preload_fail(r);
}

GS_WRAP int __sigsuspend(const sigset_t *mask)
{
	return sigsuspend(mask);
}

/* glibc's sigpause forms build a mask and call its internal sigsuspend,
 * past the wrapper: built here the same way. is_sig: the X/Open form,
 * the caller's mask without sig; else the BSD form, a mask of the first
 * 32 signals. */
GS_WRAP int __sigpause(int sig_or_mask, int is_sig)
{
	sigset_t set;

	if (is_sig != 0) {
		if (pthread_sigmask(SIG_BLOCK, NULL, &set) != 0 || sigdelset(&set, sig_or_mask) < 0)
			return -1;
	} else {
		sigemptyset(&set);
		set.__val[0] = (unsigned int)sig_or_mask;
	}
	return sigsuspend(&set);
}

/* <signal.h> names __xpg_sigpause "sigpause"; the symbol sigpause is
 * the BSD form, for programs built without _XOPEN_SOURCE (old ones). */
GS_WRAP int preload_bsd_sigpause(int mask) __asm__("sigpause");

GS_WRAP int preload_bsd_sigpause(int mask)
{
	return __sigpause(mask, 0);
}

GS_WRAP int __xpg_sigpause(int sig)
{
	return __sigpause(sig, 1);
}

/* glibc's raise signals the OS thread from inside libc: a green thread
 * is told apart here, so that a signal it blocks stays pending for it. */
GS_WRAP int raise(int sig)
{
	int r;

	if (signal_hub() == NULL)
		return REAL(raise)(sig);
	r = pthread_kill(pthread_self(), sig);
	return r == 0 ? 0 : preload_fail(-r);
}

/* The OS thread's and the process's pending signals, and the calling
 * green thread's own. */
GS_WRAP int sigpending(sigset_t *set)
{
	struct hub *h = hub_peek();
	int r = REAL(sigpending)(set);

	if (r == 0 && h != NULL && !hub_in_loop(h) && !preload_native()) {
		uint64_t m;

		memcpy(&m, set, sizeof m);
		m |= sigmask_own_pending(h);
		memcpy(set, &m, sizeof m);
	}
	return r;
}
