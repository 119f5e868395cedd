/*
 * Regular-file I/O on the worker pool: all of it with GREENSHIM_FILE_IO=pool,
 * the flushes of a shared hub's threads with `direct`.
 *
 * A read of a regular file never returns EAGAIN and poll always says
 * "ready": the kernel has no way to tell that it will wait for the disk.
 * On local disks that wait is short and the plain call is best (the
 * default, `direct`). On slow or network disks it stops every green thread
 * of the OS thread, so with `pool` the calls that can wait for the disk
 * run on a worker (src/pool.c) while the calling green thread waits:
 *  - open, openat and their 64, fortified (__open_2...) and creat forms,
 *    whatever the path (the file is only known once opened; a FIFO's open,
 *    which waits for the other end, then waits on the pool too). A path
 *    naming "thread-self" is opened by the caller: /proc/thread-self is
 *    the opening thread's, and must be the caller's;
 *  - read, write, pread, pwrite, readv, writev, preadv, pwritev, fsync,
 *    fdatasync on descriptors that fdtab.c classified as a regular file
 *    or a block device (fdent.disk), never on sockets, pipes or ttys.
 *
 * The result is the worker's call's; errno is the worker's when the call
 * failed, and untouched when it succeeded, as natively.
 *
 * With `direct` every wrapper here costs one test of a flag that never
 * changes (gs_config.file_io_pool), and read and write (io.c) test it only
 * on the path that already makes the plain call. The flushes are the
 * exception (flush(), below): they wait for the disk whatever the disk,
 * so they go to the pool whenever other program threads share the
 * caller's hub, and the writes to the same descriptor follow them there
 * while they run. So do the writes to a descriptor opened with O_SYNC or
 * O_DSYNC, each of which waits for the disk (an open given either flag
 * classifies the new descriptor at once, opened()). Until the first such
 * flush or descriptor, the writes' test is of one more flag
 * (preload_file_write_check).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

struct file_call {
	ssize_t (*fn)(struct file_call *);
	ssize_t ret;
	int err;
	int fd;
	int flags;
	int iovcnt;
	mode_t mode;
	off_t off;
	off_t len;
	size_t n;
	void *buf;
	const char *path;
	const struct iovec *iov;
};

static void file_job(void *arg)
{
	struct file_call *c = arg;

	c->ret = c->fn(c);
	c->err = errno;
}

static ssize_t file_run(struct file_call *c)
{
	preload_pool_call(file_job, c);
	if (c->ret < 0)
		errno = c->err;
	return c->ret;
}

/* ---- opening ------------------------------------------------------------ */

static ssize_t do_openat(struct file_call *c)
{
	return REAL(openat)(c->fd, c->path, c->flags, c->mode);
}

static int file_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct file_call c = { .fn = do_openat, .fd = dirfd, .path = path, .flags = flags,
			       .mode = mode };
	int fd;

	if (path != NULL && strstr(path, "thread-self") != NULL)
		return REAL(openat)(dirfd, path, flags, mode);
	fd = (int)file_run(&c);
	/* The number may have been closed behind our back (fclose) and
	 * stand for another file before: look at it afresh. */
	if (fd >= 0)
		fdtab_forget(fd);
	return fd;
}

/* A descriptor just opened with `direct`: one opened with O_SYNC or
 * O_DSYNC is classified now, so that its writes, which wait for the disk
 * each time, go to the pool beside other threads (preload_file_write_on_pool);
 * the number may have stood for another file, closed behind our back. */
static int opened(int fd, int flags)
{
	if (GS_UNLIKELY(fd >= 0 && (flags & O_DSYNC))) {
		fdtab_forget(fd);
		fdtab_get(fd);
	}
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return __OPEN_NEEDS_MODE(flags) ? va_arg(ap, mode_t) : 0;
}

GS_WRAP int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (GS_LIKELY(!gs_config.file_io_pool)) {
		int fd = opened(REAL(open)(path, flags, mode), flags);

		/* As close's: a loop of them is preempted here. */
		preempt_at_return((uintptr_t)__builtin_return_address(0));
		return fd;
	}
	return file_openat(AT_FDCWD, path, flags, mode);
}

GS_WRAP int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (GS_LIKELY(!gs_config.file_io_pool)) {
		int fd = opened(REAL(openat)(dirfd, path, flags, mode), flags);

		preempt_at_return((uintptr_t)__builtin_return_address(0));
		return fd;
	}
	return file_openat(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE's forms: no mode, and O_CREAT or O_TMPFILE without one
 * is glibc's own fatal error. */
GS_WRAP int __open_2(const char *path, int flags)
{
	if (GS_LIKELY(!gs_config.file_io_pool) || __OPEN_NEEDS_MODE(flags))
		return opened(REAL(__open_2)(path, flags), flags);
	return file_openat(AT_FDCWD, path, flags, 0);
}

GS_WRAP int __openat_2(int dirfd, const char *path, int flags)
{
	if (GS_LIKELY(!gs_config.file_io_pool) || __OPEN_NEEDS_MODE(flags))
		return opened(REAL(__openat_2)(dirfd, path, flags), flags);
	return file_openat(dirfd, path, flags, 0);
}

GS_WRAP int creat(const char *path, mode_t mode)
{
	if (GS_LIKELY(!gs_config.file_io_pool))
		return REAL(creat)(path, mode);
	return file_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* Large files are the default on x86-64: the 64 names are the same calls. */
GS_WRAP int open64(const char *path, int flags, ...) __attribute__((alias("open")));
GS_WRAP int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));
GS_WRAP int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));
GS_WRAP int __openat64_2(int dirfd, const char *path, int flags)
	__attribute__((alias("__openat_2")));
GS_WRAP int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

/* ---- reading, writing, syncing ----------------------------------------- */

static ssize_t do_read(struct file_call *c)
{
	return REAL(read)(c->fd, c->buf, c->n);
}

static ssize_t do_write(struct file_call *c)
{
	return REAL(write)(c->fd, c->buf, c->n);
}

static ssize_t do_pread(struct file_call *c)
{
	return REAL(pread)(c->fd, c->buf, c->n, c->off);
}

static ssize_t do_pwrite(struct file_call *c)
{
	return REAL(pwrite)(c->fd, c->buf, c->n, c->off);
}

static ssize_t do_readv(struct file_call *c)
{
	return REAL(readv)(c->fd, c->iov, c->iovcnt);
}

static ssize_t do_writev(struct file_call *c)
{
	return REAL(writev)(c->fd, c->iov, c->iovcnt);
}

static ssize_t do_preadv(struct file_call *c)
{
	return REAL(preadv)(c->fd, c->iov, c->iovcnt, c->off);
}

static ssize_t do_pwritev(struct file_call *c)
{
	return REAL(pwritev)(c->fd, c->iov, c->iovcnt, c->off);
}

static ssize_t do_fsync(struct file_call *c)
{
	return REAL(fsync)(c->fd);
}

static ssize_t do_fdatasync(struct file_call *c)
{
	return REAL(fdatasync)(c->fd);
}

static ssize_t do_sync_file_range(struct file_call *c)
{
	return REAL(sync_file_range)(c->fd, c->off, c->len, (unsigned int)c->flags);
}

static ssize_t do_syncfs(struct file_call *c)
{
	return REAL(syncfs)(c->fd);
}

static ssize_t do_sync(struct file_call *c)
{
	(void)c;
	REAL(sync)();
	return 0;
}

static ssize_t do_msync(struct file_call *c)
{
	return REAL(msync)(c->buf, c->n, c->flags);
}

/* Does this descriptor's I/O go to the pool? (Only with `pool`.) */
static bool on_pool(int fd)
{
	struct fdent *e;

	if (GS_LIKELY(!gs_config.file_io_pool))
		return false;
	e = fdtab_get(fd);
	return e != NULL && e->kind == FD_PLAIN && e->disk;
}

ssize_t preload_file_xfer(int fd, int events, const struct iovec *iov, int iovcnt,
			  bool positional, off_t off)
{
	struct file_call c = { .fd = fd, .off = off };
	bool rd = events == EV_READ;

	if (iovcnt == 1 && !positional) {
		c.fn = rd ? do_read : do_write;
		c.buf = iov->iov_base;
		c.n = iov->iov_len;
	} else if (iovcnt == 1) {
		c.fn = rd ? do_pread : do_pwrite;
		c.buf = iov->iov_base;
		c.n = iov->iov_len;
	} else {
		c.fn = !positional ? (rd ? do_readv : do_writev) : (rd ? do_preadv : do_pwritev);
		c.iov = iov;
		c.iovcnt = iovcnt;
	}
	return file_run(&c);
}

bool preload_file_on_pool(int fd)
{
	return on_pool(fd);
}

bool preload_file_write_check;

/* Does the calling thread's hub run other program threads beside it? */
static bool hub_shared(void)
{
	struct hub *h = preload_hub();

	return h != NULL && sched_shared(h);
}

/* Is e (may be NULL) a regular file or block device, and does the calling
 * thread's hub run others beside it? */
static bool disk_of_shared_hub(const struct fdent *e)
{
	return e != NULL && e->kind == FD_PLAIN && e->disk && hub_shared();
}

/*
 * A flush waits for the disk to write: a fraction of a millisecond on a
 * fast local disk, tens of milliseconds on a slow one, where a read or
 * write of cached pages takes microseconds. So with `direct` too, a flush
 * of a regular file or block device goes to the pool when the calling
 * thread's hub runs other program threads, which would otherwise stand
 * still until the disk is done (a database's commit, seen in MariaDB:
 * every connection of the hub waited for each redo-log fdatasync). A
 * lone thread (or GREENSHIM_THREADS=native, a hub per thread) makes the
 * plain call, without the hand-off.
 *
 * While it runs there, a write to the same descriptor may wait for it (a
 * page under writeback, the journal's commit: MariaDB's next redo-log
 * pwrite held its hub for milliseconds), so the writes of shared hubs'
 * threads go to the pool too meanwhile (fdent.flushing counts the flushes
 * there). Other writes stay plain calls: a log that is flushed now and
 * then is written at full speed in between.
 */
static ssize_t flush(struct file_call *c)
{
	struct fdent *e;
	ssize_t r;

	if (on_pool(c->fd))
		return file_run(c);
	e = fdtab_get(c->fd);
	if (!disk_of_shared_hub(e))
		return c->fn(c);
	preload_file_check_writes();
	__atomic_fetch_add(&e->flushing, 1, __ATOMIC_RELAXED);
	r = file_run(c);
	/* A close and reuse of the number meanwhile zeroed the count: it
	 * stays at zero (a write is then a plain call, as before). */
	for (unsigned short n = __atomic_load_n(&e->flushing, __ATOMIC_RELAXED); n > 0;)
		if (__atomic_compare_exchange_n(&e->flushing, &n, (unsigned short)(n - 1), false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
	return r;
}

void preload_file_check_writes(void)
{
	if (!__atomic_load_n(&preload_file_write_check, __ATOMIC_RELAXED))
		__atomic_store_n(&preload_file_write_check, true, __ATOMIC_RELAXED);
}

bool preload_file_write_on_pool(int fd)
{
	struct fdent *e;

	if (on_pool(fd))
		return true;
	e = fdtab_get(fd);
	return e != NULL && (e->dsync || __atomic_load_n(&e->flushing, __ATOMIC_RELAXED) > 0) &&
	       disk_of_shared_hub(e);
}

GS_WRAP int fsync(int fd)
{
	struct file_call c = { .fn = do_fsync, .fd = fd };

	return (int)flush(&c);
}

GS_WRAP int fdatasync(int fd)
{
	struct file_call c = { .fn = do_fdatasync, .fd = fd };

	return (int)flush(&c);
}

/* A flush of part of a file: with either wait flag it waits for the disk
 * as fdatasync does (flags the kernel refuses are its EINVAL, from
 * wherever it runs); with SYNC_FILE_RANGE_WRITE alone it starts the
 * writeback, which may wait for the device's queue. */
GS_WRAP int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)
{
	struct file_call c = {
		.fn = do_sync_file_range, .fd = fd, .off = offset, .len = nbytes, .flags = (int)flags
	};

	return (int)flush(&c);
}

/*
 * The flushes that name no regular file of their own: syncfs (the whole
 * file system of any descriptor, a directory's or a socket's too), sync
 * (every file system) and msync with MS_SYNC (a mapping's pages: with
 * MS_ASYNC or MS_INVALIDATE alone it waits for nothing). With `direct`
 * they go to the pool when the caller's hub runs another program thread,
 * with `pool` always; the writes of a descriptor beside them stay plain
 * calls (no descriptor's writes are known to wait for them).
 */
static ssize_t shared_flush(struct file_call *c)
{
	return gs_config.file_io_pool || hub_shared() ? file_run(c) : c->fn(c);
}

GS_WRAP int syncfs(int fd)
{
	struct file_call c = { .fn = do_syncfs, .fd = fd };

	return (int)shared_flush(&c);
}

GS_WRAP void sync(void)
{
	struct file_call c = { .fn = do_sync, .fd = -1 };

	shared_flush(&c);
}

GS_WRAP int msync(void *addr, size_t length, int flags)
{
	struct file_call c = { .fn = do_msync, .fd = -1, .buf = addr, .n = length, .flags = flags };

	if (!(flags & MS_SYNC))
		return REAL(msync)(addr, length, flags);
	return (int)shared_flush(&c);
}
