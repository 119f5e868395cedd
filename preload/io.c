/*
 * read, write and their vector and positional forms.
 *
 * How a blocking call becomes a green wait depends on what the fd is
 * (fdtab.c), never on O_NONBLOCK being set on it:
 *  - sockets: recv/send with MSG_DONTWAIT, which is read/write on a socket
 *    (recv(2): "recv with flags 0 is equivalent to read");
 *  - pipes and FIFOs: preadv2/pwritev2 with RWF_NOWAIT; a kernel that does
 *    not support it for this fd turns the entry into a polled one;
 *  - other pollable fds (ttys, eventfd...): poll with a zero timeout, then
 *    the call, with no switch in between;
 *  - regular files, block devices, directories: the plain call, or with
 *    GREENSHIM_FILE_IO=pool a call on the worker pool (file.c).
 * On EAGAIN the green thread waits for readiness (SO_RCVTIMEO/SO_SNDTIMEO
 * as deadline) and tries again. A program that set O_NONBLOCK itself gets
 * the plain call and its EAGAIN.
 *
 * Writes to streams (stream sockets, pipes) keep the blocking contract:
 * everything is written before returning, unless an error or the send
 * timeout cuts it short, in which case the count written so far is
 * returned, as the kernel does.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

static bool is_socket(const struct fdent *e)
{
	return e->kind == FD_STREAM || e->kind == FD_DGRAM;
}

/* FD_POLLED: would the call block? Checks with a zero-timeout poll: 1
 * (ready, or an error the call itself will report), 0, or -1 with errno
 * EINTR when a handler of the program interrupted the poll. The
 * preemption tick interrupts even a zero-timeout poll: taken for "ready",
 * that made the read that followed block the hub in the kernel. */
static int polled_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = PRELOAD_NO_TICK_EINTR(REAL(poll)(&p, 1, 0));

	return r < 0 && errno == EINTR ? -1 : r != 0;
}

/* One attempt on a pipe (RWF_NOWAIT) or another pollable fd (a zero
 * poll, then the call), in either direction. A pipe whose kernel does not
 * take RWF_NOWAIT becomes a polled fd for good. */
static ssize_t try_other(int fd, struct fdent *e, struct iovec *iov, int n, int events)
{
	bool rd = events == EV_READ;
	ssize_t r;

	if (e->kind == FD_PIPE) {
		r = rd ? REAL(preadv2)(fd, iov, n, -1, RWF_NOWAIT)
		       : REAL(pwritev2)(fd, iov, n, -1, RWF_NOWAIT);
		if (r >= 0 || errno != EOPNOTSUPP)
			return r;
		e->kind = FD_POLLED;
	}
	/* An eventfd we made non-blocking: the call itself says EAGAIN. */
	if (e->sys_nonblock)
		return rd ? REAL(readv)(fd, iov, n) : REAL(writev)(fd, iov, n);
	switch (polled_ready(fd, rd ? POLLIN : POLLOUT)) {
	case -1:
		return -1; /* EINTR, as the blocking call would fail */
	case 0:
		errno = EAGAIN;
		return -1;
	}
	return rd ? REAL(readv)(fd, iov, n) : REAL(writev)(fd, iov, n);
}

/*
 * One attempt at a read that must not block. x (sockets only, may be
 * NULL) carries the program's msghdr and flags for recv* calls. The
 * cheapest system call that does the job is used: plain read/write on a
 * socket we made non-blocking, recvfrom/sendto for one buffer (no msghdr
 * to copy in), recvmsg/sendmsg only for vectors, control data or when the
 * program asked for msg_flags.
 */
static ssize_t try_readv(int fd, struct fdent *e, struct iovec *iov, int n, struct xfer *x)
{
	struct msghdr m = { 0 };
	ssize_t r;

	switch (e->kind) {
	case FD_STREAM:
	case FD_DGRAM:
		if (x == NULL && e->sys_nonblock)
			return n == 1 ? REAL(read)(fd, iov->iov_base, iov->iov_len) : REAL(readv)(fd, iov, n);
		if (n == 1 && (x == NULL || !x->whole_msg))
			return REAL(recvfrom)(fd, iov->iov_base, iov->iov_len,
					      (x != NULL ? x->flags : 0) | MSG_DONTWAIT,
					      x != NULL ? x->msg->msg_name : NULL,
					      x != NULL && x->msg->msg_name != NULL ? &x->msg->msg_namelen
										: NULL);
		if (x != NULL)
			m = *x->msg;
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		r = REAL(recvmsg)(fd, &m, (x != NULL ? x->flags : 0) | MSG_DONTWAIT);
		if (r >= 0 && x != NULL) {
			x->msg->msg_namelen = m.msg_namelen;
			x->msg->msg_controllen = m.msg_controllen;
			x->msg->msg_flags = m.msg_flags;
		}
		return r;
	default:
		return try_other(fd, e, iov, n, EV_READ);
	}
}

static ssize_t try_writev(int fd, struct fdent *e, struct iovec *iov, int n, struct xfer *x)
{
	struct msghdr m = { 0 };
	ssize_t r;

	switch (e->kind) {
	case FD_STREAM:
	case FD_DGRAM:
		if (x == NULL && e->sys_nonblock)
			return n == 1 ? REAL(write)(fd, iov->iov_base, iov->iov_len) : REAL(writev)(fd, iov, n);
		if (n == 1 && (x == NULL || (!x->whole_msg && x->msg->msg_control == NULL)))
			return REAL(sendto)(fd, iov->iov_base, iov->iov_len,
					    (x != NULL ? x->flags : 0) | MSG_DONTWAIT,
					    x != NULL ? x->msg->msg_name : NULL,
					    x != NULL ? x->msg->msg_namelen : 0);
		if (x != NULL)
			m = *x->msg;
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		r = REAL(sendmsg)(fd, &m, (x != NULL ? x->flags : 0) | MSG_DONTWAIT);
		if (r > 0 && x != NULL) {
			/* Ancillary data (SCM_RIGHTS...) goes with the first
			 * bytes only; the rest of a long send is plain data. */
			x->msg->msg_control = NULL;
			x->msg->msg_controllen = 0;
		}
		return r;
	default:
		return try_other(fd, e, iov, n, EV_WRITE);
	}
}

/* Waits for fd; on the deadline the call fails with EAGAIN, as a socket
 * timeout does, and on a signal as preload_wait_result() says. Returns 0
 * to retry or -1 with errno set. */
static int wait_or_fail(struct hub *h, int fd, struct fdent *e, int events, int64_t *deadline,
			bool *have_deadline)
{
	int r;

	if (!*have_deadline) {
		*deadline = is_socket(e) ? preload_sock_deadline(e, events) : GS_NO_DEADLINE;
		*have_deadline = true;
	}
	r = preload_wait_fd_peered(h, fd, e, events, *deadline,
				   events == EV_READ ? WAITER_EXCLUSIVE : 0);
	return preload_wait_result(r, *deadline != GS_NO_DEADLINE) < 0 ? -1 : 0;
}

/* Drops the first `done` bytes of iov[0..n) in place; returns the count
 * of entries left and their start in *start. */
static int iov_advance(struct iovec *iov, int n, size_t done, struct iovec **start)
{
	int i = 0;

	while (i < n && done >= iov[i].iov_len)
		done -= iov[i++].iov_len;
	if (i < n) {
		iov[i].iov_base = (char *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	*start = iov + i;
	return n - i;
}

/* After an attempt r at reading e's channel, with unread read before it
 * (struct fdent's unread): what it took is no longer unread; EAGAIN says
 * nothing is, unless a write counted more since. More than was counted,
 * UNCOUNTED_READS times in a row, says some writer is not (another
 * process's, say): its reads try first from then on. errno is kept. */
static void uncount(struct fdent *e, ssize_t r, long unread)
{
	if (r > unread) {
		if (e->surprises < UNCOUNTED_READS)
			e->surprises++;
	} else if (r > 0 && e->surprises < UNCOUNTED_READS) {
		e->surprises = 0;
	}
	if (r > 0) {
		while (!__atomic_compare_exchange_n(&e->unread, &unread,
						    unread > r ? unread - r : 0, true,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	} else if (r < 0 && errno == EAGAIN && unread != 0) {
		__atomic_compare_exchange_n(&e->unread, &unread, 0, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
}

/*
 * The blocking contract over non-blocking attempts. A read returns what
 * the first successful attempt gave, except recv with MSG_WAITALL on a
 * stream, which gathers until the buffer is full, EOF or an error. A write
 * to a stream goes on until everything is written; a datagram is one
 * attempt. An error or timeout after some bytes returns that count.
 */
/* Is a datagram socket's receiving side shut down (POLLRDHUP)? */
static bool dgram_shut(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return PRELOAD_NO_TICK_EINTR(REAL(poll)(&p, 1, 0)) == 1 && (p.revents & POLLRDHUP);
}

ssize_t preload_xfer(struct hub *h, int fd, struct fdent *e, int events,
		     const struct iovec *iov, int n, struct xfer *x)
{
	int64_t deadline = GS_NO_DEADLINE;
	bool have_deadline = false;
	bool whole = e->kind == FD_PIPE || e->kind == FD_STREAM;
	struct iovec small[8], *copy = NULL, *cur = (struct iovec *)iov;
	size_t total = 0, done = 0;
	int left = n;
	bool woken = false;
	/* The read counts what it takes from e->unread (not a peek). */
	bool counted = events == EV_READ && e->peered && !e->shared &&
		       e->surprises < UNCOUNTED_READS &&
		       (x == NULL || !(x->flags & MSG_PEEK));
	int first_err = 0;
	ssize_t result;

	if (events == EV_READ)
		whole = e->kind == FD_STREAM && x != NULL && (x->flags & MSG_WAITALL);
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	/* A read that will most likely find nothing waits first, and saves
	 * the system call that would say EAGAIN; if data is there after all,
	 * the loop reports it at its next poll. Which reads: one of a
	 * channel made here (pipe, socketpair, eventfd) that green writes
	 * have left empty (e->unread; a hand-off between two threads
	 * finds nothing at every read), and one of another stream socket
	 * whose last read found nothing (request, reply, request...) and
	 * did not fill the buffer (more is queued then). A wait-first that
	 * ends on a signal or the timeout still tries once: data already
	 * there is returned, as natively. Any other end (EBADF: the fd was
	 * closed, and its number may name another file by now) is the
	 * call's. */
	if (events == EV_READ &&
	    (counted ? __atomic_load_n(&e->unread, __ATOMIC_ACQUIRE) <= 0
		     : e->read_waits_first && e->kind == FD_STREAM)) {
		if (wait_or_fail(h, fd, e, EV_READ, &deadline, &have_deadline) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return -1;
			first_err = errno;
		}
		woken = true;
	}
	for (;;) {
		long unread = counted ? __atomic_load_n(&e->unread, __ATOMIC_ACQUIRE) : 0;
		ssize_t r = events == EV_READ ? try_readv(fd, e, cur, left, x)
					      : try_writev(fd, e, cur, left, x);

		if (counted)
			uncount(e, r, unread);
		if (events == EV_READ && e->kind == FD_STREAM)
			e->read_waits_first = r < 0 ? errno == EAGAIN : (size_t)r < total;
		if (r > 0 || (r == 0 && events == EV_WRITE)) {
			done += (size_t)r;
			if (!whole || done >= total) {
				result = (ssize_t)done;
				break;
			}
			if (copy == NULL) {
				copy = n <= 8 ? small : gs_malloc((size_t)n * sizeof *copy);
				if (copy == NULL) {
					result = (ssize_t)done;
					break;
				}
				memcpy(copy, iov, (size_t)n * sizeof *copy);
				left = iov_advance(copy, n, done, &cur);
			} else {
				left = iov_advance(cur, left, (size_t)r, &cur);
			}
			continue;
		}
		if (r == 0) { /* end of file */
			result = (ssize_t)done;
			break;
		}
		/* A datagram socket shut down for reading answers EAGAIN to a
		 * non-blocking read, 0 to a blocking one, and stays readable:
		 * woken once and still EAGAIN, it is asked which (found by
		 * tests/fuzz: without this the loop never ended). */
		if (errno == EAGAIN && woken && events == EV_READ && e->kind == FD_DGRAM &&
		    dgram_shut(fd)) {
			result = 0;
			break;
		}
		if (first_err != 0 && errno == EAGAIN) {
			errno = first_err;
			result = done > 0 ? (ssize_t)done : -1;
			break;
		}
		woken = true;
		if (errno != EAGAIN || wait_or_fail(h, fd, e, events, &deadline, &have_deadline) < 0) {
			/* The error stands unless part was moved: that count
			 * comes first, as from the kernel. */
			result = done > 0 ? (ssize_t)done : -1;
			break;
		}
	}
	if (copy != NULL && copy != small)
		gs_free(copy);
	/* A thread of this hub waiting to read the other end of a pipe,
	 * socketpair or eventfd made here runs next, without waiting for
	 * the loop to poll. */
	if (events == EV_WRITE && result > 0 && e->peer >= 0)
		fdtab_wake_peer(h, e, (size_t)result);
	return result;
}

GS_WRAP ssize_t read(int fd, void *buf, size_t n)
{
	struct fdent *e = fdtab_get(fd);
	struct iovec iov = { buf, n };
	struct hub *h;

	if (!fd_waits(e) || n == 0 || (h = preload_hub()) == NULL) {
		if (PRELOAD_FILE_POOL(fd))
			return preload_file_xfer(fd, EV_READ, &iov, 1, false, 0);
		return REAL(read)(fd, buf, n);
	}
	return PRELOAD_SETTLED(preload_xfer(h, fd, e, EV_READ, &iov, 1, NULL));
}

GS_WRAP ssize_t write(int fd, const void *buf, size_t n)
{
	struct fdent *e = fdtab_get(fd);
	struct iovec iov = { (void *)buf, n };
	struct hub *h;

	if (!fd_waits(e) || n == 0 || (h = preload_hub()) == NULL) {
		if (PRELOAD_FILE_POOL_WRITE(fd))
			return preload_file_xfer(fd, EV_WRITE, &iov, 1, false, 0);
		return REAL(write)(fd, buf, n);
	}
	return PRELOAD_SETTLED(preload_xfer(h, fd, e, EV_WRITE, &iov, 1, NULL));
}

GS_WRAP ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct fdent *e = fdtab_get(fd);
	struct hub *h;

	if (!fd_waits(e) || n <= 0 || (h = preload_hub()) == NULL) {
		if (n > 0 && PRELOAD_FILE_POOL(fd))
			return preload_file_xfer(fd, EV_READ, iov, n, false, 0);
		return REAL(readv)(fd, iov, n);
	}
	return PRELOAD_SETTLED(preload_xfer(h, fd, e, EV_READ, iov, n, NULL));
}

GS_WRAP ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct fdent *e = fdtab_get(fd);
	struct hub *h;

	if (!fd_waits(e) || n <= 0 || (h = preload_hub()) == NULL) {
		if (n > 0 && PRELOAD_FILE_POOL_WRITE(fd))
			return preload_file_xfer(fd, EV_WRITE, iov, n, false, 0);
		return REAL(writev)(fd, iov, n);
	}
	return PRELOAD_SETTLED(preload_xfer(h, fd, e, EV_WRITE, iov, n, NULL));
}

/*
 * Positional I/O needs a seekable file (ESPIPE on sockets and pipes), and
 * reads and writes of regular files and block devices do not wait in a way
 * poll could tell: they are the plain calls, or with GREENSHIM_FILE_IO=pool
 * calls on the worker pool (file.c). The *64 names are the same functions on x86-64.
 */
GS_WRAP ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (PRELOAD_FILE_POOL(fd))
		return preload_file_xfer(fd, EV_READ, &(struct iovec){ buf, n }, 1, true, off);
	return REAL(pread)(fd, buf, n, off);
}

GS_WRAP ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (PRELOAD_FILE_POOL_WRITE(fd))
		return preload_file_xfer(fd, EV_WRITE, &(struct iovec){ (void *)buf, n }, 1, true,
					 off);
	return REAL(pwrite)(fd, buf, n, off);
}

GS_WRAP ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	if (n > 0 && PRELOAD_FILE_POOL(fd))
		return preload_file_xfer(fd, EV_READ, iov, n, true, off);
	return REAL(preadv)(fd, iov, n, off);
}

GS_WRAP ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	if (n > 0 && PRELOAD_FILE_POOL_WRITE(fd))
		return preload_file_xfer(fd, EV_WRITE, iov, n, true, off);
	return REAL(pwritev)(fd, iov, n, off);
}

GS_WRAP ssize_t pread64(int fd, void *buf, size_t n, off_t off) __attribute__((alias("pread")));
GS_WRAP ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
	__attribute__((alias("pwrite")));
GS_WRAP ssize_t preadv64(int fd, const struct iovec *iov, int n, off_t off)
	__attribute__((alias("preadv")));
GS_WRAP ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off)
	__attribute__((alias("pwritev")));

/* _FORTIFY_SOURCE builds (all of Debian's packages) call these. */

GS_WRAP ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

GS_WRAP ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread(fd, buf, n, off);
}

GS_WRAP ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
	__attribute__((alias("__pread_chk")));
