/*
 * Raw system calls made green: what src/trap.c hands over.
 *
 * A system call that code outside libc makes with its own syscall
 * instruction (liburing, libgomp, a statically linked library), on a
 * green thread, is caught by Syscall User Dispatch and comes here. It is
 * carried out as the libc function of the same name would be under
 * greenshim, by that very wrapper: a read on a socket parks the thread
 * until the socket is readable, a futex wait waits in the hub, a close
 * tells the fd table. The result goes back as the kernel gives it: the
 * value, or -errno. Calls not named here are left to trap.c, which makes
 * them as they were asked.
 *
 * The same calls made through libc's syscall() function, on a green
 * thread, come here too (preload_syscall_green, from futex.c's wrapper):
 * libc's would make them in the kernel, holding the OS thread, and a
 * preemption tick would end a wait there with EINTR.
 *
 * Where a system call and its libc function differ, the system call's
 * meaning is kept: clock_nanosleep's error comes back as -errno,
 * rt_sigaction takes the kernel's struct (its sa_restorer is libc's when
 * read back), rt_sigprocmask changes the green thread's own mask and the
 * mask that sigreturn restores. A raw select, pselect6 or ppoll does not
 * write the time left back into its timeout (docs/LIMITATIONS.md).
 */
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "preload.h"
#include "../src/sys.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

static const sigset_t *sigset_arg(long p, sigset_t *buf)
{
	if (p == 0)
		return NULL;
	sigemptyset(buf);
	memcpy(buf, (const void *)p, sizeof(uint64_t));
	return buf;
}

static long raw_sigaction(const long a[6])
{
	const struct ksigaction *kact = (const struct ksigaction *)a[1];
	struct ksigaction *kold = (struct ksigaction *)a[2];
	struct sigaction act, old;

	if (a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (kact != NULL) {
		memset(&act, 0, sizeof act);
		act.sa_handler = (sighandler_t)kact->handler;
		act.sa_flags = (int)(kact->flags & ~(unsigned long)SA_RESTORER);
		memcpy(&act.sa_mask, &kact->mask, sizeof kact->mask);
	}
	if (sigaction((int)a[0], kact != NULL ? &act : NULL, kold != NULL ? &old : NULL) != 0)
		return -errno;
	if (kold != NULL) {
		kold->handler = (void *)old.sa_handler;
		kold->flags = (unsigned long)(unsigned)old.sa_flags;
		kold->restorer = (void *)old.sa_restorer;
		memcpy(&kold->mask, &old.sa_mask, sizeof kold->mask);
	}
	return 0;
}

/* The green thread's mask (signal.c), then, for a trapped call, the
 * kernel's as it is now into the context that sigreturn restores. */
static long raw_sigprocmask(const long a[6], ucontext_t *uc)
{
	sigset_t set, old;
	uint64_t now = 0;
	int r;

	if (a[3] != sizeof(uint64_t))
		return -EINVAL;
	r = pthread_sigmask((int)a[0], sigset_arg(a[1], &set), a[2] != 0 ? &old : NULL);
	if (r != 0)
		return -r;
	if (a[2] != 0)
		memcpy((void *)a[2], &old, sizeof(uint64_t));
	if (uc != NULL) {
		arch_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&now, sizeof now, 0, 0);
		memcpy(&uc->uc_sigmask, &now, sizeof now);
	}
	return 0;
}

/* sigaltstack in the trap's handler: the calling thread's own setting
 * (signal.c). Where that is the kernel's, sigreturn would put back the one
 * the trap found (uc_stack), undoing the call: the new one goes there. */
static long raw_sigaltstack(const long a[6], void *uc)
{
	stack_t now;

	if (sigaltstack((const stack_t *)a[0], (stack_t *)a[1]) != 0)
		return -errno;
	if (a[0] != 0 && sys_sigaltstack(NULL, &now) == 0) {
		now.ss_flags &= ~SS_ONSTACK;
		((ucontext_t *)uc)->uc_stack = now;
	}
	return 0;
}

/* pselect6's sixth argument: { const sigset_t *, size_t }. */
static const sigset_t *pselect_mask(long p, sigset_t *buf)
{
	const long *data = (const long *)p;

	return data != NULL ? sigset_arg(data[0], buf) : NULL;
}

/* The call as its wrapper makes it; uc is the trap's context, NULL for a
 * call through libc's syscall(). */
/* A call that names one thread by the id in a[0] (sched_getattr,
 * sched_setattr) or, after what it names, in a[1] (getpriority,
 * setpriority with PRIO_PROCESS; ioprio_get, ioprio_set with
 * IOPRIO_WHO_PROCESS, 1): a green id made the caller's OS thread's
 * (preload_sched_tid). -1 and errno, or the kernel's value. */
static long sched_call(long nr, const long a[6])
{
	long b[6] = { a[0], a[1], a[2], a[3], a[4], a[5] }, r;
	int at = nr == SYS_sched_setattr || nr == SYS_sched_getattr ? 0 : 1;

	if (at == 0 || (nr == SYS_getpriority || nr == SYS_setpriority ? b[0] == PRIO_PROCESS
									   : b[0] == 1))
		b[at] = preload_sched_tid(b[at]);
	r = b[at] < 0 ? b[at] : arch_syscall6(nr, b[0], b[1], b[2], b[3], b[4], b[5]);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static enum trap_action raw_dispatch(long nr, const long a[6], void *uc, long *ret)
{
	sigset_t mask;
	long r;

#define ARG(i, type) ((type)a[i])
	switch (nr) {
	case SYS_read:
		r = read(ARG(0, int), ARG(1, void *), ARG(2, size_t));
		break;
	case SYS_write:
		r = write(ARG(0, int), ARG(1, const void *), ARG(2, size_t));
		break;
	case SYS_readv:
		r = readv(ARG(0, int), ARG(1, const struct iovec *), ARG(2, int));
		break;
	case SYS_writev:
		r = writev(ARG(0, int), ARG(1, const struct iovec *), ARG(2, int));
		break;
	case SYS_pread64:
		r = pread(ARG(0, int), ARG(1, void *), ARG(2, size_t), ARG(3, off_t));
		break;
	case SYS_pwrite64:
		r = pwrite(ARG(0, int), ARG(1, const void *), ARG(2, size_t), ARG(3, off_t));
		break;
	case SYS_preadv:
		r = preadv(ARG(0, int), ARG(1, const struct iovec *), ARG(2, int), ARG(3, off_t));
		break;
	case SYS_pwritev:
		r = pwritev(ARG(0, int), ARG(1, const struct iovec *), ARG(2, int), ARG(3, off_t));
		break;
	case SYS_recvfrom:
		r = recvfrom(ARG(0, int), ARG(1, void *), ARG(2, size_t), ARG(3, int),
			     ARG(4, struct sockaddr *), ARG(5, socklen_t *));
		break;
	case SYS_sendto:
		r = sendto(ARG(0, int), ARG(1, const void *), ARG(2, size_t), ARG(3, int),
			   ARG(4, const struct sockaddr *), ARG(5, socklen_t));
		break;
	case SYS_recvmsg:
		r = recvmsg(ARG(0, int), ARG(1, struct msghdr *), ARG(2, int));
		break;
	case SYS_sendmsg:
		r = sendmsg(ARG(0, int), ARG(1, const struct msghdr *), ARG(2, int));
		break;
	case SYS_recvmmsg:
		r = recvmmsg(ARG(0, int), ARG(1, struct mmsghdr *), ARG(2, unsigned), ARG(3, int),
			     ARG(4, struct timespec *));
		break;
	case SYS_sendmmsg:
		r = sendmmsg(ARG(0, int), ARG(1, struct mmsghdr *), ARG(2, unsigned), ARG(3, int));
		break;
	case SYS_accept:
		r = accept(ARG(0, int), ARG(1, struct sockaddr *), ARG(2, socklen_t *));
		break;
	case SYS_accept4:
		r = accept4(ARG(0, int), ARG(1, struct sockaddr *), ARG(2, socklen_t *), ARG(3, int));
		break;
	case SYS_connect:
		r = connect(ARG(0, int), ARG(1, const struct sockaddr *), ARG(2, socklen_t));
		break;
	case SYS_sendfile:
		r = sendfile(ARG(0, int), ARG(1, int), ARG(2, off_t *), ARG(3, size_t));
		break;
	case SYS_splice:
		r = splice(ARG(0, int), ARG(1, loff_t *), ARG(2, int), ARG(3, loff_t *), ARG(4, size_t),
			   ARG(5, unsigned));
		break;
	case SYS_poll:
		r = poll(ARG(0, struct pollfd *), ARG(1, nfds_t), ARG(2, int));
		break;
	case SYS_ppoll:
		r = ppoll(ARG(0, struct pollfd *), ARG(1, nfds_t), ARG(2, const struct timespec *),
			  sigset_arg(a[3], &mask));
		break;
	case SYS_select:
		r = select(ARG(0, int), ARG(1, fd_set *), ARG(2, fd_set *), ARG(3, fd_set *),
			   ARG(4, struct timeval *));
		break;
	case SYS_pselect6:
		r = pselect(ARG(0, int), ARG(1, fd_set *), ARG(2, fd_set *), ARG(3, fd_set *),
			    ARG(4, const struct timespec *), pselect_mask(a[5], &mask));
		break;
	case SYS_epoll_wait:
		r = epoll_wait(ARG(0, int), ARG(1, struct epoll_event *), ARG(2, int), ARG(3, int));
		break;
	case SYS_epoll_pwait:
		r = epoll_pwait(ARG(0, int), ARG(1, struct epoll_event *), ARG(2, int), ARG(3, int),
				sigset_arg(a[4], &mask));
		break;
	case SYS_nanosleep:
		r = nanosleep(ARG(0, const struct timespec *), ARG(1, struct timespec *));
		break;
	case SYS_clock_nanosleep:
		*ret = -clock_nanosleep(ARG(0, clockid_t), ARG(1, int), ARG(2, const struct timespec *),
					ARG(3, struct timespec *));
		return TRAP_DONE;
	case SYS_pause:
		r = pause();
		break;
	case SYS_rt_sigsuspend:
		if (a[1] != sizeof(uint64_t)) {
			*ret = -EINVAL;
			return TRAP_DONE;
		}
		r = sigsuspend(sigset_arg(a[0], &mask));
		break;
	case SYS_rt_sigtimedwait:
		r = sigtimedwait(sigset_arg(a[0], &mask), ARG(1, siginfo_t *),
				 ARG(2, const struct timespec *));
		break;
	case SYS_wait4:
		r = wait4(ARG(0, pid_t), ARG(1, int *), ARG(2, int), ARG(3, struct rusage *));
		break;
	case SYS_waitid:
		if (a[4] != 0)
			return TRAP_EXEC; /* libc's waitid has no rusage */
		r = waitid(ARG(0, idtype_t), ARG(1, id_t), ARG(2, siginfo_t *), ARG(3, int));
		break;
	case SYS_sched_yield:
		r = sched_yield();
		break;
	case SYS_futex:
	case SYS_gettid:
	case SYS_tgkill:
	case SYS_tkill:
		r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		break;
	case SYS_kill: /* a green thread's id names its process (thread.c) */
		if (ARG(0, pid_t) < PRELOAD_GREEN_TID_BASE)
			return TRAP_EXEC;
		r = kill(ARG(0, pid_t), ARG(1, int));
		break;
	case SYS_io_uring_enter:
		*ret = preload_uring_enter(a);
		return TRAP_DONE;
	case SYS_io_uring_setup:
		*ret = preload_uring_setup(a);
		return TRAP_DONE;
	case SYS_rt_sigaction:
		*ret = raw_sigaction(a);
		return TRAP_DONE;
	case SYS_rt_sigprocmask:
		*ret = raw_sigprocmask(a, uc);
		return TRAP_DONE;
	case SYS_sigaltstack:
		*ret = raw_sigaltstack(a, uc);
		return TRAP_DONE;
	/* The fd table's: which fds exist, and which the program made
	 * non-blocking. */
	case SYS_close:
		r = close(ARG(0, int));
		break;
	case SYS_close_range:
		r = close_range(ARG(0, unsigned), ARG(1, unsigned), ARG(2, int));
		break;
	case SYS_dup:
		r = dup(ARG(0, int));
		break;
	case SYS_dup2:
		r = dup2(ARG(0, int), ARG(1, int));
		break;
	case SYS_dup3:
		r = dup3(ARG(0, int), ARG(1, int), ARG(2, int));
		break;
	case SYS_fcntl:
		r = fcntl(ARG(0, int), ARG(1, int), a[2]);
		break;
	case SYS_flock:
		r = flock(ARG(0, int), ARG(1, int));
		break;
	case SYS_mq_timedreceive:
		r = mq_timedreceive(ARG(0, mqd_t), ARG(1, char *), ARG(2, size_t),
				    ARG(3, unsigned *), ARG(4, const struct timespec *));
		break;
	case SYS_mq_timedsend:
		r = mq_timedsend(ARG(0, mqd_t), ARG(1, const char *), ARG(2, size_t),
				 ARG(3, unsigned), ARG(4, const struct timespec *));
		break;
	case SYS_msgrcv:
		r = msgrcv(ARG(0, int), ARG(1, void *), ARG(2, size_t), a[3], ARG(4, int));
		break;
	case SYS_msgsnd:
		r = msgsnd(ARG(0, int), ARG(1, const void *), ARG(2, size_t), ARG(3, int));
		break;
	case SYS_semop:
		r = semop(ARG(0, int), ARG(1, struct sembuf *), ARG(2, size_t));
		break;
	case SYS_semtimedop:
		r = semtimedop(ARG(0, int), ARG(1, struct sembuf *), ARG(2, size_t),
			       ARG(3, const struct timespec *));
		break;
	case SYS_ioctl:
		r = ioctl(ARG(0, int), ARG(1, unsigned long), a[2]);
		break;
	case SYS_socket:
		r = socket(ARG(0, int), ARG(1, int), ARG(2, int));
		break;
	case SYS_socketpair:
		r = socketpair(ARG(0, int), ARG(1, int), ARG(2, int), ARG(3, int *));
		break;
	case SYS_pipe:
		r = pipe(ARG(0, int *));
		break;
	case SYS_pipe2:
		r = pipe2(ARG(0, int *), ARG(1, int));
		break;
	case SYS_eventfd2:
		r = eventfd(ARG(0, unsigned), ARG(1, int));
		break;
	case SYS_open:
		r = open(ARG(0, const char *), ARG(1, int), ARG(2, mode_t));
		break;
	case SYS_openat:
		r = openat(ARG(0, int), ARG(1, const char *), ARG(2, int), ARG(3, mode_t));
		break;
	case SYS_fsync:
		r = fsync(ARG(0, int));
		break;
	case SYS_fdatasync:
		r = fdatasync(ARG(0, int));
		break;
	case SYS_sync_file_range:
		r = sync_file_range(ARG(0, int), ARG(1, off64_t), ARG(2, off64_t),
				    ARG(3, unsigned int));
		break;
	case SYS_syncfs:
		r = syncfs(ARG(0, int));
		break;
	case SYS_sync:
		sync();
		r = 0;
		break;
	case SYS_msync:
		r = msync(ARG(0, void *), ARG(1, size_t), ARG(2, int));
		break;
	case SYS_sched_setscheduler:
		r = sched_setscheduler(ARG(0, pid_t), ARG(1, int), ARG(2, const struct sched_param *));
		break;
	case SYS_sched_getscheduler:
		r = sched_getscheduler(ARG(0, pid_t));
		break;
	case SYS_sched_setparam:
		r = sched_setparam(ARG(0, pid_t), ARG(1, const struct sched_param *));
		break;
	case SYS_sched_getparam:
		r = sched_getparam(ARG(0, pid_t), ARG(1, struct sched_param *));
		break;
	case SYS_sched_rr_get_interval:
		r = sched_rr_get_interval(ARG(0, pid_t), ARG(1, struct timespec *));
		break;
	case SYS_sched_setattr: /* no libc function: the id, then the call */
	case SYS_sched_getattr:
	case SYS_getpriority:   /* the kernel's value, 20 - nice, not libc's */
	case SYS_setpriority:
	case SYS_ioprio_get:
	case SYS_ioprio_set:
		r = sched_call(nr, a);
		break;
	default:
		return TRAP_EXEC;
	}
#undef ARG
	*ret = r == -1 ? -errno : r;
	return TRAP_DONE;
}

static enum trap_action raw_syscall(long nr, const long a[6], void *uc, long *ret)
{
	if (preload_native())
		return TRAP_EXEC;
	/* OpenMP's runtimes (thread.c's native libraries): their threads are
	 * real and wake the calling thread with futex calls of their own in
	 * the kernel, where it must wait. Made by their code, as before. */
	if (preload_native_code((const void *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP]))
		return TRAP_PASS;
	return raw_dispatch(nr, a, uc, ret);
}

bool preload_syscall_green(long nr, const long a[6], const void *caller, long *ret)
{
	struct hub *h;

	switch (nr) {
	case SYS_futex: /* syscall()'s own cases (futex.c) */
	case SYS_gettid:
	case SYS_tgkill:
	case SYS_tkill:
	case SYS_sigaltstack:
	case SYS_io_uring_enter:
	case SYS_io_uring_setup:
		return false;
	default:
		break;
	}
	/* A thread with no hub has no other to run: the kernel's call is
	 * the same, and every other number (getrandom...) gets no hub made
	 * for it, nor the wrappers' call count (preload_hub's). */
	h = hub_peek();
	if (h == NULL || hub_in_loop(h) || preload_native() || preload_native_code(caller))
		return false;
	return raw_dispatch(nr, a, NULL, ret) == TRAP_DONE;
}

void preload_rawsys_init(void)
{
	trap_set_hook(raw_syscall);
}
