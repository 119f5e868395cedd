/*
 * Sockets: creation, accept, connect, and the recv and send families.
 *
 * socket() and accept() mark the sockets they make as ours and set
 * O_NONBLOCK on them (SOCK_NONBLOCK), because accept and connect have no
 * per-call non-blocking flag; the program keeps its own view of O_NONBLOCK
 * (fcntl and ioctl show it) and gets blocking behaviour unless it asked
 * otherwise. socketpair() sockets, often handed to child processes, are
 * left as made. Every data transfer uses MSG_DONTWAIT, so it never blocks
 * whatever the file description's flags are.
 */
#include <fcntl.h>
#include <sys/sendfile.h>

#include "preload.h"

/* A socket whose description blocks and is not ours to change. */
static bool is_sock_blocking(const struct fdent *e)
{
	return (e->kind == FD_STREAM || e->kind == FD_DGRAM) && !e->sys_nonblock && !e->user_nonblock;
}

static enum fd_kind sock_kind(int type)
{
	return (type & 0xf) == SOCK_STREAM ? FD_STREAM : FD_DGRAM;
}

GS_WRAP int socket(int domain, int type, int protocol)
{
	bool green = preload_hub() != NULL;
	int fd = REAL(socket)(domain, type | (green ? SOCK_NONBLOCK : 0), protocol);

	if (fd >= 0)
		fdtab_set(fd, sock_kind(type), type & SOCK_NONBLOCK, green);
	return fd;
}

GS_WRAP int socketpair(int domain, int type, int protocol, int sv[2])
{
	int r = REAL(socketpair)(domain, type, protocol, sv);

	if (r == 0) {
		fdtab_set(sv[0], sock_kind(type), type & SOCK_NONBLOCK, false);
		fdtab_set(sv[1], sock_kind(type), type & SOCK_NONBLOCK, false);
		fdtab_peer(sv[0], sv[1]);
		fdtab_peer(sv[1], sv[0]);
	}
	return r;
}

GS_WRAP int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct fdent *e = fdtab_get(fd);
	int64_t deadline = GS_NO_DEADLINE;
	bool have_deadline = false;
	struct hub *h;
	int r;

	if (!fd_waits(e) || (h = preload_hub()) == NULL) {
		r = REAL(accept4)(fd, addr, len, flags);
		if (r >= 0)
			fdtab_set(r, e != NULL ? (enum fd_kind)e->kind : FD_UNKNOWN,
				  flags & SOCK_NONBLOCK, false);
		return r;
	}
	for (;;) {
		/* A listening socket we did not make may block in accept: ask
		 * poll first (no switch between the two calls). */
		if (e->sys_nonblock ||
		    PRELOAD_NO_TICK_EINTR(REAL(poll)(&(struct pollfd){ .fd = fd, .events = POLLIN },
						     1, 0)) > 0) {
			r = REAL(accept4)(fd, addr, len, flags | SOCK_NONBLOCK);
			if (r >= 0) {
				struct fdent *n = fdtab_set(r, (enum fd_kind)e->kind,
							    flags & SOCK_NONBLOCK, true);

				/* Linux copies the listener's timeouts. */
				if (n != NULL) {
					n->timeo_ns[0] = e->timeo_ns[0];
					n->timeo_ns[1] = e->timeo_ns[1];
				}
				return PRELOAD_SETTLED(r);
			}
			if (errno != EAGAIN)
				return -1;
		}
		if (!have_deadline) {
			deadline = preload_sock_deadline(e, EV_READ);
			have_deadline = true;
		}
		r = preload_wait_fd(h, fd, EV_READ, deadline, WAITER_EXCLUSIVE);
		if (preload_wait_result(r, deadline != GS_NO_DEADLINE) < 0)
			return -1;
	}
}

GS_WRAP int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return PRELOAD_SETTLED(accept4(fd, addr, len, 0));
}

GS_WRAP int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct fdent *e = fdtab_get(fd);
	int64_t deadline;
	struct hub *h;
	int r, err;
	socklen_t errlen = sizeof err;

	/* A socket we did not make non-blocking connects the plain way. */
	if (!fd_waits(e) || !e->sys_nonblock || (h = preload_hub()) == NULL)
		return REAL(connect)(fd, addr, len);
	r = REAL(connect)(fd, addr, len);
	if (r == 0 || (errno != EINPROGRESS && errno != EAGAIN))
		return r;
	deadline = preload_sock_deadline(e, EV_WRITE);
	while (errno == EAGAIN) {
		/* AF_UNIX with a full backlog: a blocking connect waits for
		 * room and tries again. */
		r = preload_wait_fd(h, fd, EV_WRITE, deadline, 0);
		if (preload_wait_result(r, deadline != GS_NO_DEADLINE) < 0)
			return -1;
		r = REAL(connect)(fd, addr, len);
		if (r == 0 || (errno != EINPROGRESS && errno != EAGAIN))
			return r;
	}
	/* A restarted connect goes on waiting for the same connection. */
	do
		r = preload_wait_fd(h, fd, EV_WRITE, deadline, 0);
	while (r == WAKE_SIGNAL && deadline == GS_NO_DEADLINE);
	if (r == -ETIMEDOUT)
		return preload_fail(-EINPROGRESS); /* socket(7), SO_SNDTIMEO */
	if (r != 0)
		return preload_fail(r == WAKE_SIGNAL ? -EINTR : r);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0)
		return -1;
	return err == 0 ? 0 : preload_fail(-err);
}

/* recv, recvfrom and recvmsg share one path; so do the send calls. */
static ssize_t sock_xfer(int fd, int events, struct msghdr *msg, int flags, bool whole_msg,
			 ssize_t (*plain)(int, struct msghdr *, int))
{
	struct fdent *e = fdtab_get(fd);
	struct xfer x = { msg, flags, whole_msg };
	struct hub *h;

	/* A pipe or an eventfd is no socket: the kernel says ENOTSOCK at
	 * once, without waiting (found by tests/fuzz). */
	if (!fd_waits(e) || (e->kind != FD_STREAM && e->kind != FD_DGRAM) ||
	    (flags & MSG_DONTWAIT) || (h = preload_hub()) == NULL)
		return plain(fd, msg, flags);
	return preload_xfer(h, fd, e, events, msg->msg_iov, (int)msg->msg_iovlen, &x);
}

static ssize_t plain_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return REAL(recvmsg)(fd, msg, flags);
}

static ssize_t plain_sendmsg(int fd, struct msghdr *msg, int flags)
{
	return REAL(sendmsg)(fd, msg, flags);
}

GS_WRAP ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	return PRELOAD_SETTLED(sock_xfer(fd, EV_READ, msg, flags, true, plain_recvmsg));
}

GS_WRAP ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			 socklen_t *addrlen)
{
	struct iovec iov = { buf, n };
	struct msghdr m = { .msg_name = addr, .msg_namelen = addr != NULL && addrlen != NULL ? *addrlen : 0,
			    .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r = sock_xfer(fd, EV_READ, &m, flags, false, plain_recvmsg);

	if (r >= 0 && addr != NULL && addrlen != NULL)
		*addrlen = m.msg_namelen;
	return PRELOAD_SETTLED(r);
}

GS_WRAP ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return PRELOAD_SETTLED(recvfrom(fd, buf, n, flags, NULL, NULL));
}

GS_WRAP ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr m = *msg; /* the control part is consumed on the way */

	return PRELOAD_SETTLED(sock_xfer(fd, EV_WRITE, &m, flags, true, plain_sendmsg));
}

GS_WRAP ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
		       socklen_t addrlen)
{
	struct iovec iov = { (void *)buf, n };
	struct msghdr m = { .msg_name = (void *)addr, .msg_namelen = addrlen, .msg_iov = &iov,
			    .msg_iovlen = 1 };

	return PRELOAD_SETTLED(sock_xfer(fd, EV_WRITE, &m, flags, false, plain_sendmsg));
}

GS_WRAP ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return PRELOAD_SETTLED(sendto(fd, buf, n, flags, NULL, 0));
}

/* The *mmsg calls: the first message waits like recvmsg/sendmsg would;
 * the rest are taken without waiting, as the kernel does for blocking
 * sockets once one message has gone through (MSG_WAITFORONE aside). */
static int mmsg_wait(int fd, int events, int flags)
{
	struct fdent *e = fdtab_get(fd);
	int64_t deadline;
	struct hub *h;
	int r;

	if (!fd_waits(e) || (e->kind != FD_STREAM && e->kind != FD_DGRAM) ||
	    (flags & MSG_DONTWAIT) || (h = preload_hub()) == NULL)
		return 1; /* plain call (ENOTSOCK at once for a pipe) */
	deadline = preload_sock_deadline(e, events);
	r = preload_wait_fd(h, fd, events, deadline, events == EV_READ ? WAITER_EXCLUSIVE : 0);
	return preload_wait_result(r, deadline != GS_NO_DEADLINE) < 0 ? -1 : 0;
}

GS_WRAP int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *timeout)
{
	for (;;) {
		int r = REAL(recvmmsg)(fd, v, n, flags | MSG_DONTWAIT, timeout);

		if (r >= 0 || errno != EAGAIN)
			return r;
		r = mmsg_wait(fd, EV_READ, flags);
		if (r < 0)
			return -1;
		if (r > 0)
			return REAL(recvmmsg)(fd, v, n, flags, timeout);
	}
}

GS_WRAP int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	for (;;) {
		int r = REAL(sendmmsg)(fd, v, n, flags | MSG_DONTWAIT);

		if (r >= 0 || errno != EAGAIN)
			return r;
		r = mmsg_wait(fd, EV_WRITE, flags);
		if (r < 0)
			return -1;
		if (r > 0)
			return REAL(sendmmsg)(fd, v, n, flags);
	}
}

/*
 * sendfile and splice have no per-call non-blocking flag for a socket
 * side: they wait only where the socket is ours (O_NONBLOCK set by us),
 * otherwise they are the plain calls.
 */
GS_WRAP ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	struct fdent *e = fdtab_get(out);
	struct hub *h;

	if (!fd_waits(e) || !e->sys_nonblock || (h = preload_hub()) == NULL)
		return REAL(sendfile)(out, in, off, n);
	for (;;) {
		ssize_t r = REAL(sendfile)(out, in, off, n);
		int w;

		if (r >= 0 || errno != EAGAIN)
			return r;
		w = preload_wait_fd(h, out, EV_WRITE, preload_sock_deadline(e, EV_WRITE), 0);
		if (preload_wait_result(w, e->timeo_ns[1] != 0) < 0)
			return -1;
	}
}

GS_WRAP ssize_t sendfile64(int out, int in, off_t *off, size_t n) __attribute__((alias("sendfile")));

GS_WRAP ssize_t splice(int in, off_t *off_in, int out, off_t *off_out, size_t n, unsigned flags)
{
	struct fdent *ei = fdtab_get(in), *eo = fdtab_get(out);
	struct hub *h;

	/* Both sides must be unable to block the thread for a wait to work:
	 * pipes with SPLICE_F_NONBLOCK, sockets we made non-blocking. */
	if ((flags & SPLICE_F_NONBLOCK) || (!fd_waits(ei) && !fd_waits(eo)) ||
	    (ei != NULL && is_sock_blocking(ei)) || (eo != NULL && is_sock_blocking(eo)) ||
	    (h = preload_hub()) == NULL)
		return REAL(splice)(in, off_in, out, off_out, n, flags);
	for (;;) {
		ssize_t r = REAL(splice)(in, off_in, out, off_out, n, flags | SPLICE_F_NONBLOCK);
		struct pollfd p[2] = { { .fd = in, .events = POLLIN }, { .fd = out, .events = POLLOUT } };
		int w;

		if (r >= 0 || errno != EAGAIN)
			return r;
		/* Which side is not ready? Wait for that one. */
		REAL(poll)(p, 2, 0);
		w = !(p[0].revents) && fd_waits(ei)
			    ? preload_wait_fd(h, in, EV_READ, GS_NO_DEADLINE, 0)
			    : preload_wait_fd(h, out, EV_WRITE, GS_NO_DEADLINE, 0);
		if (preload_wait_result(w, false) < 0)
			return -1;
	}
}

/* Socket timeouts are kept in the fd's entry, so that a wait knows its
 * deadline without asking the kernel each time. */
GS_WRAP int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	int r = REAL(setsockopt)(fd, level, opt, val, len);
	struct fdent *e;

	if (r == 0 && level == SOL_SOCKET && len >= sizeof(struct timeval) &&
	    (opt == SO_RCVTIMEO_OLD || opt == SO_RCVTIMEO_NEW || opt == SO_SNDTIMEO_OLD ||
	     opt == SO_SNDTIMEO_NEW) &&
	    (e = fdtab_get(fd)) != NULL) {
		/* On x86-64 both forms are two 64-bit fields: s, us. */
		const struct timeval *tv = val;
		int dir = opt == SO_SNDTIMEO_OLD || opt == SO_SNDTIMEO_NEW;

		e->timeo_ns[dir] = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
	}
	return r;
}

GS_WRAP int shutdown(int fd, int how)
{
	return REAL(shutdown)(fd, how);
}

GS_WRAP ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

GS_WRAP ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			       struct sockaddr *addr, socklen_t *addrlen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, addrlen);
}
