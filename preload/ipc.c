/*
 * The kernel's message queues and semaphores: POSIX message queues
 * (mq_send, mq_receive and their timed forms) and System V's (msgsnd,
 * msgrcv, semop, semtimedop).
 *
 * A green thread that must wait in one parks, and the other green threads
 * of its hub run. Before 2026-12-07 these were libc's calls, which held
 * the hub's OS thread: a thread that waited for a message or a semaphore
 * that another green thread of its hub was to send or post never got it,
 * and the program hung.
 *
 * POSIX message queues are descriptors the kernel polls. A call is first
 * made with a time limit already past (the epoch), with which the kernel
 * never waits: it answers ETIMEDOUT where it would have waited, EAGAIN
 * for a queue opened or set O_NONBLOCK (the program's answer, returned as
 * it is). Then the thread waits in its hub until the queue is readable (a
 * message is there) or writable (there is room), and tries again. The
 * program's own time limit is read first, as the kernel reads it before
 * anything else (EFAULT, EINVAL), and is the wait's deadline; at the
 * deadline one more try, so that a message already there is taken. A
 * handler with SA_RESTART makes the call go on, one without ends it with
 * EINTR, as the kernel does (signal(7)); the four are cancellation points
 * (glibc's), which act when they wait.
 *
 * System V's have no descriptor. A call is first made with IPC_NOWAIT
 * added (for semop, on a copy of the operations, read as the kernel reads
 * them), and, where that says it would wait, made as the program asked on
 * a worker of the pool while the thread waits parked (preload_pool_syscall,
 * as fd.c's file locks). The kernel never restarts these four after a
 * handler, SA_RESTART or not (signal(7)): a handler ends the wait with
 * EINTR. msgsnd and msgrcv are cancellation points, semop and semtimedop
 * are not (glibc's). A semaphore's undo records (SEM_UNDO) and the pids
 * the kernel keeps (sempid, msg_lrpid, msg_lspid) are the process's, the
 * worker's as the caller's. Where the caller may block alone (no hub,
 * GREENSHIM_THREADS=native), each is libc's call.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <string.h>
#include <unistd.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/syscall.h>

#include "preload.h"
#include "../src/sys.h"

/* ---- POSIX message queues ---------------------------------------------- */

/* n bytes at src into dst, read as a system call reads its caller's
 * memory: by the kernel (process_vm_readv), so a bad pointer gets -EFAULT,
 * not a fault here; where that call is refused (a seccomp filter), a
 * plain copy. */
static int copy_in(struct hub *h, void *dst, const void *src, size_t n)
{
	struct iovec mine = { dst, n }, at = { (void *)src, n };
	long r = arch_syscall6(SYS_process_vm_readv, hub_pid(h), (long)&mine, 1, (long)&at, 1, 0);

	if (r == -EFAULT || (r >= 0 && r != (long)n))
		return -EFAULT;
	if (r < 0)
		memcpy(dst, src, n);
	return 0;
}

/* *out = *ts as the kernel reads a time limit: -EFAULT where it cannot be
 * read, -EINVAL where it is not a time. */
static int read_limit(struct hub *h, const struct timespec *ts, struct timespec *out)
{
	if (copy_in(h, out, ts, sizeof *out) < 0)
		return -EFAULT;
	if (out->tv_sec < 0 || out->tv_nsec < 0 || out->tv_nsec >= 1000000000)
		return -EINVAL;
	return 0;
}

/* One try of mq_timedreceive (EV_READ) or mq_timedsend that never waits:
 * the kernel's result, -ETIMEDOUT where the call would have waited. */
static long mq_try(int events, mqd_t q, char *msg, size_t len, unsigned *prio_out,
		   unsigned prio)
{
	static const struct timespec past = { 0, 0 };

	if (events == EV_READ)
		return arch_syscall6(SYS_mq_timedreceive, q, (long)msg, (long)len, (long)prio_out,
				     (long)&past, 0);
	return arch_syscall6(SYS_mq_timedsend, q, (long)msg, (long)len, prio, (long)&past, 0);
}

/* mq_timedreceive (EV_READ: msg, len, prio_out) or mq_timedsend (msg, len,
 * prio) for a green thread of hub h, until abs (CLOCK_REALTIME, NULL:
 * none). */
static long mq_xfer(struct hub *h, int events, mqd_t q, char *msg, size_t len,
		    unsigned *prio_out, unsigned prio, const struct timespec *abs)
{
	struct timespec limit;
	int64_t deadline = GS_NO_DEADLINE;

	if (abs != NULL) {
		int r = read_limit(h, abs, &limit);

		if (r < 0)
			return preload_fail(r);
		deadline = preload_abs_deadline(CLOCK_REALTIME, &limit);
	}
	for (;;) {
		long r = mq_try(events, q, msg, len, prio_out, prio);
		int w;

		if (r >= 0)
			return r;
		if (r != -ETIMEDOUT)
			return preload_fail((int)r); /* EAGAIN: the program's O_NONBLOCK */
		if (deadline != GS_NO_DEADLINE && gs_now_ns() >= deadline)
			return preload_fail(-ETIMEDOUT);
		w = preload_wait_fd(h, q, events, deadline, 0);
		/* Ready, the deadline (one more try), or a handler with
		 * SA_RESTART: try again; EINTR, EBADF (closed meanwhile): the
		 * call's. The cancellation has acted in preload_wait_fd. */
		if (w != 0 && w != -ETIMEDOUT && w != WAKE_SIGNAL)
			return preload_fail(w);
	}
}

GS_WRAP ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio,
				const struct timespec *abs)
{
	struct hub *h = preload_hub();

	if (h == NULL)
		return REAL(mq_timedreceive)(q, msg, len, prio, abs);
	return PRELOAD_SETTLED(mq_xfer(h, EV_READ, q, msg, len, prio, 0, abs));
}

GS_WRAP ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio)
{
	struct hub *h = preload_hub();

	if (h == NULL)
		return REAL(mq_timedreceive)(q, msg, len, prio, NULL);
	return PRELOAD_SETTLED(mq_xfer(h, EV_READ, q, msg, len, prio, 0, NULL));
}

GS_WRAP int mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio,
			 const struct timespec *abs)
{
	struct hub *h = preload_hub();

	if (h == NULL)
		return REAL(mq_timedsend)(q, msg, len, prio, abs);
	return PRELOAD_SETTLED((int)mq_xfer(h, EV_WRITE, q, (char *)msg, len, NULL, prio, abs));
}

GS_WRAP int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio)
{
	struct hub *h = preload_hub();

	if (h == NULL)
		return REAL(mq_timedsend)(q, msg, len, prio, NULL);
	return PRELOAD_SETTLED((int)mq_xfer(h, EV_WRITE, q, (char *)msg, len, NULL, prio, NULL));
}

/* ---- System V message queues and semaphores ---------------------------- */

/* The program's call on a worker, for a green thread whose try with
 * IPC_NOWAIT found that it would wait. */
static long sysv_wait(long n, long a, long b, long c, long d, long e, bool cancelpoint)
{
	return preload_pool_syscall((const long[6]){ n, a, b, c, d, e }, cancelpoint, false);
}

GS_WRAP ssize_t msgrcv(int id, void *msg, size_t size, long type, int flags)
{
	long r;

	/* MSG_COPY never waits (without IPC_NOWAIT it is EINVAL). */
	if ((flags & (IPC_NOWAIT | MSG_COPY)) || preload_blocks_alone())
		return REAL(msgrcv)(id, msg, size, type, flags);
	r = arch_syscall6(SYS_msgrcv, id, (long)msg, (long)size, type, flags | IPC_NOWAIT, 0);
	if (r != -ENOMSG)
		return r < 0 ? preload_fail((int)r) : r;
	return PRELOAD_SETTLED(sysv_wait(SYS_msgrcv, id, (long)msg, (long)size, type, flags, true));
}

GS_WRAP int msgsnd(int id, const void *msg, size_t size, int flags)
{
	long r;

	if ((flags & IPC_NOWAIT) || preload_blocks_alone())
		return REAL(msgsnd)(id, msg, size, flags);
	r = arch_syscall6(SYS_msgsnd, id, (long)msg, (long)size, flags | IPC_NOWAIT, 0, 0);
	if (r != -EAGAIN)
		return r < 0 ? preload_fail((int)r) : (int)r;
	return PRELOAD_SETTLED((int)sysv_wait(SYS_msgsnd, id, (long)msg, (long)size, flags, 0, true));
}

/* The kernel takes up to this many operations in one call on its stack
 * (SEMOPM_FAST); a copy of as many is tried here, more go to a worker
 * at once. */
#define SEMOPS_TRY 64

/* Do ops[0..n-1] all say IPC_NOWAIT? Then the call never waits. */
static bool all_nowait(const struct sembuf *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(ops[i].sem_flg & IPC_NOWAIT))
			return false;
	return true;
}

static int sem_call(struct hub *h, int id, struct sembuf *ops, size_t n,
		    const struct timespec *rel)
{
	struct sembuf copy[SEMOPS_TRY];
	bool nowait;
	long r;

	if (n > SEMOPS_TRY)
		return (int)sysv_wait(SYS_semtimedop, id, (long)ops, (long)n, (long)rel, 0, false);
	/* Read as the kernel reads them. Operations it cannot read, it
	 * cannot wait for: its own call says which error (EINVAL, E2BIG or
	 * EFAULT, in its order). */
	if (copy_in(h, copy, ops, n * sizeof *ops) < 0)
		return preload_fail(
			(int)arch_syscall6(SYS_semtimedop, id, (long)ops, (long)n, (long)rel, 0, 0));
	nowait = all_nowait(copy, n);
	for (size_t i = 0; i < n; i++)
		copy[i].sem_flg |= IPC_NOWAIT;
	/* The program's time limit is the kernel's to read (EFAULT,
	 * EINVAL) where the operations can be done at once: passed along. */
	r = arch_syscall6(SYS_semtimedop, id, (long)copy, (long)n, (long)rel, 0, 0);
	if (r != -EAGAIN || nowait)
		return r < 0 ? preload_fail((int)r) : 0;
	return (int)sysv_wait(SYS_semtimedop, id, (long)ops, (long)n, (long)rel, 0, false);
}

GS_WRAP int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *rel)
{
	if (preload_blocks_alone())
		return REAL(semtimedop)(id, ops, n, rel);
	return PRELOAD_SETTLED(sem_call(hub_peek(), id, ops, n, rel));
}

GS_WRAP int semop(int id, struct sembuf *ops, size_t n)
{
	if (preload_blocks_alone())
		return REAL(semop)(id, ops, n);
	return PRELOAD_SETTLED(sem_call(hub_peek(), id, ops, n, NULL));
}
