/*
 * Descriptors: close, dup, fcntl, ioctl(FIONBIO), pipe, eventfd; and the
 * file locks (flock, fcntl's F_SETLKW and F_OFD_SETLKW, lockf).
 *
 * Apart from the locks, these wait for nothing; they keep fdtab.c true. A close wakes the green
 * threads waiting on the fd with EBADF before the number can be reused.
 * fcntl(F_GETFL) and ioctl(FIONBIO) show O_NONBLOCK as the program set it,
 * whatever greenshim set underneath.
 *
 * The descriptors the runtime opens for itself (libev's epoll fd, made
 * through the wrappers below while a hub makes its loop; a hub's wake-up
 * eventfd, the monitor's and the control socket) are moved to the top of
 * the numbers below 1024 and are close-on-exec (hub_take_new_fd), out of
 * the way of the numbers programs use. To the program they look closed:
 * close, dup, fcntl and fstat on one fail with EBADF, as on any number it
 * never opened; close_range and closefrom close around them; a dup2 or
 * dup3 onto one first moves the runtime's use of it to another number
 * (hub_move_own_fd), then replaces it as asked.
 *
 * A file lock that must wait (another process, or another open file of
 * this one, holds it) has no descriptor to wait on: a green thread first
 * tries the call's non-blocking form, then makes the blocking one on a
 * worker of the pool while it waits parked (pool_syscall_intr), and the
 * other green threads of its hub run; the one that holds the lock may be
 * among them. Natively each waiting thread is an OS thread too. A signal
 * handler without SA_RESTART ends the wait with EINTR (alarm() before
 * F_SETLKW is the usual timeout), one with SA_RESTART makes it again, and
 * pthread_cancel acts in fcntl and lockf, cancellation points in glibc.
 * The locks' owners are the kernel's: POSIX locks belong to the process
 * (the worker is of the same process; the kernel's EDEADLK still comes),
 * flock and OFD locks to the open file. Before 2026-12-07 the call was
 * libc's, which held the hub's OS thread: a thread that waited for a lock
 * another green thread of its hub held never got it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <linux/close_range.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "preload.h"
#include "../src/sys.h"

#include <dlfcn.h> /* after runtime.h: <elf.h> and ev.h both name EV_NONE */
#include <link.h>

/* An fd of the runtime's, asked about by the program (not by libev while
 * it makes or runs a loop, which hub_making_fd covers, nor by the
 * runtime's own threads)? */
static bool hidden(int fd)
{
	return GS_UNLIKELY(hub_is_own_fd(fd)) && !hub_making_fd() && !osthread_is_runtime();
}

GS_WRAP int close(int fd)
{
	int r;

	if (GS_UNLIKELY(hub_making_fd())) {
		int to = hub_close_redirect(fd);

		if (to != fd)
			return REAL(close)(to); /* libev's moved epoll fd */
	}
	if (GS_UNLIKELY(hub_is_own_fd(fd))) {
		if (hidden(fd))
			return preload_fail(-EBADF);
		hub_drop_own_fd(fd); /* libev's own, replaced */
		return REAL(close)(fd);
	}
	fdtab_forget(fd);
	fdw_closing(fd);
	r = REAL(close)(fd);
	fdw_closed(fd); /* waits on it in other OS threads end */
	/* A loop of opens and closes spends its time in the kernel and libc,
	 * where ticks find no safe point: preempted here. */
	preempt_at_return((uintptr_t)__builtin_return_address(0));
	return r;
}

int preload_runtime_fd(int fd)
{
	hub_own_lock();
	fd = hub_own_place(fd, OWN_OTHER, NULL);
	hub_own_unlock();
	return fd;
}

/* The program's again, then closed as the program's close would: its
 * watchers and waits go first. */
void preload_runtime_fd_close(int fd)
{
	hub_forget_own_fd(fd);
	close(fd);
}

/* fn(fd) for each fd from first to below end but own[0..n-1] (in order). */
static void each_but(unsigned first, unsigned end, const int *own, int n, void (*fn)(int))
{
	for (unsigned fd = first; fd < end; fd++) {
		if (n > 0 && (unsigned)*own == fd) {
			own++;
			n--;
			continue;
		}
		fn((int)fd);
	}
}

static void forget_closing(int fd)
{
	fdtab_forget(fd);
	fdw_closing(fd);
}

/* Closes around the runtime's own fds, and forgets each fd closed that
 * greenshim knows: up to the highest number the fd table gave an entry or
 * a hub watched, not the range's end. A program's close_range(3, ~0U),
 * CPython's in every subprocess child, walked 65,536 numbers until
 * 2026-12-07: 1.6-1.9 ms a call, against 2 us natively. A wait begun on
 * a higher number while the range is closed is not ended with EBADF (as
 * natively no wait is). */
GS_WRAP int close_range(unsigned first, unsigned last, int flags)
{
	int own[64], n, top;
	unsigned from = first, end;
	int r = 0;

	if ((flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return REAL(close_range)(first, last, flags);
	n = hub_own_fds_between(first, last, own, (int)(sizeof own / sizeof *own));
	top = fdtab_top_fd() > fdw_top_fd() ? fdtab_top_fd() : fdw_top_fd();
	end = top < 0 || (unsigned)top < last ? (unsigned)(top + 1) : last + 1;
	each_but(first, end, own, n, forget_closing);
	for (int o = 0; o < n && r == 0; o++) {
		if ((unsigned)own[o] > from && REAL(close_range)(from, (unsigned)own[o] - 1, flags) != 0)
			r = -1;
		from = (unsigned)own[o] + 1;
	}
	if (r == 0 && from <= last && REAL(close_range)(from, last, flags) != 0)
		r = -1;
	each_but(first, end, own, n, r == 0 ? fdw_closed : fdw_close_failed);
	return r;
}

/* glibc's closefrom (2.34) calls close_range inside libc, past the
 * wrapper above, and would close the runtime's fds (varnishd's child
 * closed its hub's epoll fd, and libev aborted). Closes around them as
 * close_range does; where the kernel has no close_range, closes each fd
 * up to the open-files limit (glibc scans /proc/self/fd). errno is kept,
 * as glibc's closefrom keeps it when close_range succeeds. */
GS_WRAP void closefrom(int lowfd)
{
	int saved = errno;
	unsigned first = lowfd > 0 ? (unsigned)lowfd : 0;

	if (close_range(first, ~0U, 0) != 0) {
		struct rlimit rl;
		rlim_t end = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 65536;

		if (end > 65536)
			end = 65536;
		for (rlim_t fd = first; fd < end; fd++)
			if (!hub_is_own_fd((int)fd))
				close((int)fd);
	}
	errno = saved;
}

GS_WRAP int dup(int fd)
{
	int r;

	if (GS_UNLIKELY(hidden(fd)))
		return preload_fail(-EBADF);
	r = REAL(dup)(fd);
	if (r >= 0)
		fdtab_copy(fd, r);
	return r;
}

/* Will dup2/dup3 replace new? Not if old is no open fd: then new stays as
 * it was, its waiters and entry with it (found by tests/fuzz). */
static bool replaces(int old, int new)
{
	return old != new && sys_fcntl(old, F_GETFD, 0) >= 0;
}

/* Under the placement lock (hub_own_lock), so that the runtime does not
 * make an fd at new between the check and the dup: a runtime's fd at new
 * is moved first, then replaced. */
static int dup_onto(int old, int new, int flags, bool three)
{
	bool replaced;
	int r;

	hub_own_lock();
	while (GS_UNLIKELY(hub_is_own_fd(new)) && replaces(old, new) && !(flags & ~O_CLOEXEC)) {
		hub_own_unlock();
		r = hub_move_own_fd(new);
		if (r < 0)
			return preload_fail(r);
		hub_own_lock();
	}
	replaced = replaces(old, new) && !(flags & ~O_CLOEXEC);
	if (replaced) {
		fdtab_forget(new);
		fdw_closing(new);
	}
	r = three ? REAL(dup3)(old, new, flags) : REAL(dup2)(old, new);
	hub_own_unlock();
	if (replaced && r >= 0)
		fdw_closed(new);
	else if (replaced)
		fdw_close_failed(new);
	if (r >= 0 && old != new)
		fdtab_copy(old, r);
	return r;
}

GS_WRAP int dup3(int old, int new, int flags)
{
	if (GS_UNLIKELY(hidden(old)))
		return preload_fail(-EBADF);
	return dup_onto(old, new, flags, true);
}

GS_WRAP int dup2(int old, int new)
{
	if (GS_UNLIKELY(hidden(old)))
		return preload_fail(-EBADF);
	return dup_onto(old, new, 0, false);
}

/* fcntl's F_SETLKW and F_OFD_SETLKW (F_SETLKW64 is F_SETLKW here). */
static int setlkw(int fd, int cmd, struct flock *fl)
{
	int r;

	if (preload_blocks_alone())
		return REAL(fcntl)(fd, cmd, fl);
	r = REAL(fcntl)(fd, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, fl);
	if (r == 0 || (errno != EAGAIN && errno != EACCES))
		return r;
	return PRELOAD_SETTLED(preload_pool_syscall(
		(const long[6]){ SYS_fcntl, fd, cmd, (long)fl, 0, 0 }, true, true));
}

GS_WRAP int flock(int fd, int op)
{
	int r;

	if (GS_UNLIKELY(hidden(fd)))
		return preload_fail(-EBADF);
	if ((op & LOCK_NB) || op == LOCK_UN || preload_blocks_alone())
		return REAL(flock)(fd, op);
	/* A failed try drops a lock held in the other mode, as the blocking
	 * call does before it waits (flock(2): a conversion is not atomic). */
	r = REAL(flock)(fd, op | LOCK_NB);
	if (r == 0 || errno != EWOULDBLOCK)
		return r;
	return PRELOAD_SETTLED(
		preload_pool_syscall((const long[6]){ SYS_flock, fd, op, 0, 0, 0 }, false, true));
}

/* glibc's lockf is fcntl on the range from the current offset, made
 * inside libc: F_LOCK, its one blocking command, is made here the same
 * way, through setlkw; the others are glibc's. */
GS_WRAP int lockf(int fd, int cmd, off_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = 0, .l_len = len };

	if (cmd != F_LOCK || preload_blocks_alone())
		return REAL(lockf)(fd, cmd, len);
	if (GS_UNLIKELY(hidden(fd)))
		return preload_fail(-EBADF);
	return setlkw(fd, F_SETLKW, &fl);
}

GS_WRAP int lockf64(int fd, int cmd, off64_t len) __attribute__((alias("lockf")));

GS_WRAP int fcntl(int fd, int cmd, ...)
{
	struct fdent *e;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, void *); /* as glibc reads it, whatever cmd takes */
	va_end(ap);
	if (GS_UNLIKELY(hidden(fd)))
		return preload_fail(-EBADF);
	switch (cmd) {
	case F_GETFL:
		r = REAL(fcntl)(fd, cmd);
		e = fdtab_get(fd);
		if (r >= 0 && e != NULL && e->sys_nonblock)
			r = (r & ~O_NONBLOCK) | (e->user_nonblock ? O_NONBLOCK : 0);
		return r;
	case F_SETFL:
		e = fdtab_get(fd);
		if (e != NULL && e->sys_nonblock)
			r = REAL(fcntl)(fd, cmd, (int)(intptr_t)arg | O_NONBLOCK);
		else
			r = REAL(fcntl)(fd, cmd, (int)(intptr_t)arg);
		if (r == 0 && e != NULL)
			fdtab_set_nonblock(fd, ((int)(intptr_t)arg & O_NONBLOCK) != 0);
		return r;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = REAL(fcntl)(fd, cmd, (int)(intptr_t)arg);
		if (r >= 0)
			fdtab_copy(fd, r);
		return r;
	case F_SETLKW:
	case F_OFD_SETLKW:
		return setlkw(fd, cmd, arg);
	default:
		return REAL(fcntl)(fd, cmd, arg);
	}
}

GS_WRAP int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

GS_WRAP int ioctl(int fd, unsigned long req, ...)
{
	struct fdent *e;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req != FIONBIO || arg == NULL || (e = fdtab_get(fd)) == NULL)
		return REAL(ioctl)(fd, req, arg);
	r = REAL(ioctl)(fd, FIONBIO, arg); /* checks fd and arg as native */
	if (r == 0) {
		fdtab_set_nonblock(fd, *(int *)arg != 0);
		if (e->sys_nonblock && !e->user_nonblock) {
			/* Ours stays non-blocking; only the view changed. */
			int on = 1;

			REAL(ioctl)(fd, FIONBIO, &on);
		}
	}
	return r;
}

GS_WRAP int fstat(int fd, struct stat *st)
{
	if (GS_UNLIKELY(hidden(fd)))
		return preload_fail(-EBADF);
	return REAL(fstat)(fd, st);
}

GS_WRAP int fstat64(int fd, struct stat64 *st) __attribute__((alias("fstat")));

GS_WRAP int epoll_create1(int flags)
{
	int r;

	if (!hub_making_fd())
		return REAL(epoll_create1)(flags);
	hub_own_lock();
	r = hub_take_new_fd(REAL(epoll_create1)(flags), OWN_BACKEND);
	hub_own_unlock();
	return r;
}

GS_WRAP int epoll_create(int size)
{
	int r;

	if (!hub_making_fd())
		return REAL(epoll_create)(size);
	hub_own_lock();
	r = hub_take_new_fd(REAL(epoll_create)(size), OWN_BACKEND);
	hub_own_unlock();
	return r;
}

/* libev's epoll_ctl on a hub's set, for an fd another OS thread closed
 * after the wait began (GREENSHIM_THREADS=native): EBADF, which Debian's
 * libev asserts on, is told as ENOENT, so that libev retries, then kills
 * the fd's watchers (EV_ERROR), and their waiters get EBADF (fdwait.c).
 * The program's own calls are the plain call. */
GS_WRAP int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int r = REAL(epoll_ctl)(epfd, op, fd, ev);

	if (GS_UNLIKELY(r < 0) && errno == EBADF && hub_making_fd() && hub_is_own_fd(epfd) &&
	    sys_fcntl(fd, F_GETFD, 0) == -EBADF)
		errno = ENOENT;
	return r;
}

/* Is the code at pc libunwind's? It keeps a pipe open for good once the
 * runtime first unwinds a stack (to check addresses are readable). */
static bool libunwinds(const void *pc)
{
	struct dl_find_object obj;

	return _dl_find_object((void *)pc, &obj) == 0 && obj.dlfo_link_map != NULL &&
	       obj.dlfo_link_map->l_name != NULL &&
	       strstr(obj.dlfo_link_map->l_name, "libunwind") != NULL;
}

GS_WRAP int pipe2(int fds[2], int flags)
{
	/* The runtime's (libev's, libunwind's: out of the way, and never the
	 * program's to close) are made under the placement lock. */
	bool own = hub_making_fd() ||
		   (osthread_is_runtime() && libunwinds(__builtin_return_address(0)));
	int r;

	if (own)
		hub_own_lock();
	r = REAL(pipe2)(fds, flags);
	if (r == 0 && own && hub_making_fd()) {
		fds[0] = hub_take_new_fd(fds[0], OWN_OTHER);
		fds[1] = hub_take_new_fd(fds[1], OWN_OTHER);
	} else if (r == 0 && own) {
		fds[0] = hub_own_place(fds[0], OWN_OTHER, NULL);
		fds[1] = hub_own_place(fds[1], OWN_OTHER, NULL);
	} else if (r == 0) {
		fdtab_set(fds[0], FD_PIPE, flags & O_NONBLOCK, false);
		fdtab_set(fds[1], FD_PIPE, flags & O_NONBLOCK, false);
		fdtab_peer(fds[1], fds[0]);
	}
	if (own)
		hub_own_unlock();
	return r;
}

GS_WRAP int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

GS_WRAP int eventfd(unsigned initval, int flags)
{
	int r;

	if (hub_making_fd()) {
		hub_own_lock();
		r = hub_take_new_fd(REAL(eventfd)(initval, flags), OWN_OTHER);
		hub_own_unlock();
		return r;
	}
	/* Non-blocking in the kernel, as the sockets we make (fdtab.c):
	 * an attempt is then one read or write, not a poll and the call. */
	bool green = preload_hub() != NULL;

	r = REAL(eventfd)(initval, flags | (green ? EFD_NONBLOCK : 0));
	if (r >= 0 && fdtab_set(r, FD_POLLED, flags & EFD_NONBLOCK, green) != NULL)
		fdtab_peer(r, r);
	return r;
}
