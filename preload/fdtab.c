/*
 * What each file descriptor is, as far as the wrappers care.
 *
 * What it owns: one entry per fd number, process-wide like the numbers
 * themselves, in an array sized by RLIMIT_NOFILE's hard limit and committed
 * by the kernel only where touched. An entry says how to wait on the fd
 * (enum fd_kind) and how the program set O_NONBLOCK.
 *
 * Classification is lazy, on first use by a wrapper, from fstat and
 * F_GETFL, so fds from any origin (inherited, opened by a library, accepted
 * by an unwrapped call) are handled, not only those our socket() made.
 * Wrappers that create fds (socket, accept, pipe, dup...) set the entry
 * directly; close and dup2 forget it. O_NONBLOCK is set on an open file
 * description only for sockets the process made through socket() and
 * accept() and eventfds it made (sys_nonblock), never on pipes or
 * inherited fds, which other processes share (see docs/LIMITATIONS.md).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "preload.h"
#include "../src/sys.h"

static struct fdent *table;
static size_t table_len;
static int max_fd;          /* the highest fd number ever given an entry */
static uint32_t next_desc;  /* ids of open file descriptions */

static void seen(int fd, struct fdent *e)
{
	int m = __atomic_load_n(&max_fd, __ATOMIC_RELAXED);

	while (fd > m && !__atomic_compare_exchange_n(&max_fd, &m, fd, true, __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED))
		;
	e->desc = __atomic_add_fetch(&next_desc, 1, __ATOMIC_RELAXED);
	e->shared = false;
}

static void fdtab_init(void)
{
	struct rlimit rl;
	size_t len = 65536;
	struct fdent *t;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max > len)
		len = rl.rlim_max < (1u << 24) ? (size_t)rl.rlim_max : (1u << 24);
	t = mmap(NULL, len * sizeof *t, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		return;
	/* Two threads may race here: one table wins, the other is unmapped. */
	if (!__atomic_compare_exchange_n(&table, &(struct fdent *){ NULL }, t, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		munmap(t, len * sizeof *t);
		return;
	}
	__atomic_store_n(&table_len, len, __ATOMIC_RELEASE);
}

static int64_t sock_timeo(int fd, int opt)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof tv;

	if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0)
		return 0;
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void classify(int fd, struct fdent *e)
{
	struct stat st;
	long fl;
	enum fd_kind kind = FD_PLAIN;

	seen(fd, e);
	if (hub_is_own_fd(fd)) {
		e->kind = FD_RUNTIME;
		return;
	}
	if (fstat(fd, &st) != 0)
		return; /* EBADF: stays unknown; the real call will say so */
	fl = sys_fcntl(fd, F_GETFL, 0);
	if (S_ISSOCK(st.st_mode)) {
		int type = 0;
		socklen_t len = sizeof type;

		getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
		kind = type == SOCK_STREAM ? FD_STREAM : FD_DGRAM;
		/* A socket from elsewhere may come with its timeouts set;
		 * later changes go through our setsockopt. */
		e->timeo_ns[0] = sock_timeo(fd, SO_RCVTIMEO);
		e->timeo_ns[1] = sock_timeo(fd, SO_SNDTIMEO);
	} else if (S_ISFIFO(st.st_mode)) {
		kind = FD_PIPE;
	} else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1) {
		/* /dev/null, zero, full, random, urandom: never wait. */
		kind = FD_PLAIN;
	} else if (S_ISCHR(st.st_mode) || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
					   !S_ISBLK(st.st_mode))) {
		/* ttys, devices, and anonymous inodes (eventfd, timerfd,
		 * signalfd, inotify, epoll): poll says whether they block. */
		kind = FD_POLLED;
	}
	e->user_nonblock = fl >= 0 && (fl & O_NONBLOCK);
	e->sys_nonblock = false;
	e->read_waits_first = false;
	e->disk = kind == FD_PLAIN && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
	/* Neither flag can change after open (F_SETFL ignores them). */
	e->dsync = e->disk && fl >= 0 && (fl & O_DSYNC);
	if (e->dsync)
		preload_file_check_writes();
	__atomic_store_n(&e->flushing, 0, __ATOMIC_RELAXED);
	e->peer = -1;
	e->peered = false;
	__atomic_store_n(&e->unread, 0, __ATOMIC_RELAXED);
	e->surprises = 0;
	if (kind != FD_STREAM && kind != FD_DGRAM)
		e->timeo_ns[0] = e->timeo_ns[1] = 0;
	e->kind = (unsigned char)kind;
}

/* The entry of fd as it is, or NULL out of range. */
static inline struct fdent *slot(int fd)
{
	if (GS_UNLIKELY(table == NULL))
		fdtab_init();
	if (fd < 0 || (size_t)fd >= __atomic_load_n(&table_len, __ATOMIC_ACQUIRE))
		return NULL;
	return &table[fd];
}

struct fdent *fdtab_get(int fd)
{
	struct fdent *e = slot(fd);

	if (GS_UNLIKELY(e != NULL && e->kind == FD_UNKNOWN))
		classify(fd, e);
	return e;
}

struct fdent *fdtab_set(int fd, enum fd_kind kind, bool user_nonblock, bool sys_nonblock)
{
	struct fdent *e = slot(fd);

	if (e == NULL)
		return NULL;
	seen(fd, e);
	e->kind = (unsigned char)kind;
	e->user_nonblock = user_nonblock;
	e->sys_nonblock = sys_nonblock;
	e->read_waits_first = false;
	e->disk = false;
	e->dsync = false;
	__atomic_store_n(&e->flushing, 0, __ATOMIC_RELAXED);
	e->peer = -1;
	e->peered = false;
	__atomic_store_n(&e->unread, 0, __ATOMIC_RELAXED);
	e->surprises = 0;
	e->timeo_ns[0] = e->timeo_ns[1] = 0;
	return e;
}

void fdtab_peer(int writer, int reader)
{
	struct fdent *w = slot(writer), *r = slot(reader);

	if (w != NULL && r != NULL) {
		w->peer = reader;
		w->peer_desc = r->desc;
		r->peered = true;
	}
}

void fdtab_park(struct fdent *e, struct wait *w)
{
	gsync_lock(&e->park_lock);
	e->parked = w;
	gsync_unlock(&e->park_lock);
}

void fdtab_unpark(struct fdent *e, struct wait *w)
{
	gsync_lock(&e->park_lock);
	if (e->parked == w)
		e->parked = NULL;
	gsync_unlock(&e->park_lock);
}

void fdtab_wake_peer(struct hub *h, const struct fdent *e, size_t moved)
{
	struct fdent *p = slot(e->peer);
	struct wait *w;

	/* Still the file it was made with: not closed, nor its number
	 * taken by another since. */
	if (p == NULL || p->kind == FD_UNKNOWN || p->desc != e->peer_desc)
		return;
	/* Counted before any reader is woken: one that found the channel
	 * empty and has not waited yet tries first at its next read. */
	__atomic_fetch_add(&p->unread, (long)moved, __ATOMIC_RELEASE);
	fdw_ready(h, e->peer, FDW_READ);
	/* A reader of another hub: its wait ends here, and its hub, woken
	 * by the post, runs it (one that parks after this look is woken by
	 * its hub's epoll, as before). The lock keeps w alive: its owner
	 * takes it before leaving the wait. */
	if (__atomic_load_n(&p->parked, __ATOMIC_RELAXED) == NULL)
		return;
	gsync_lock(&p->park_lock);
	w = p->parked;
	if (w != NULL && w->g->hub != h) {
		p->parked = NULL;
		wait_complete(w, WAKE_OK);
	}
	gsync_unlock(&p->park_lock);
}

void fdtab_copy(int from, int to)
{
	struct fdent *e = fdtab_get(from), *n;

	if (e != NULL && (n = fdtab_set(to, (enum fd_kind)e->kind, e->user_nonblock,
					e->sys_nonblock)) != NULL) {
		n->timeo_ns[0] = e->timeo_ns[0];
		n->timeo_ns[1] = e->timeo_ns[1];
		n->disk = e->disk;
		n->dsync = e->dsync;
		n->desc = e->desc;
		n->peer = e->peer;
		n->peer_desc = e->peer_desc;
		n->peered = e->peered;
		n->shared = e->shared = true;
	}
}

void fdtab_set_nonblock(int fd, bool on)
{
	struct fdent *e = slot(fd);
	int m = __atomic_load_n(&max_fd, __ATOMIC_RELAXED);

	if (e == NULL || e->kind == FD_UNKNOWN)
		return;
	e->user_nonblock = on;
	if (!e->shared)
		return; /* the usual case: no scan */
	for (int i = 0; i <= m; i++)
		if (table[i].kind != FD_UNKNOWN && table[i].desc == e->desc)
			table[i].user_nonblock = on;
}

int fdtab_top_fd(void)
{
	return __atomic_load_n(&max_fd, __ATOMIC_RELAXED);
}

void fdtab_forget(int fd)
{
	struct hub *h = hub_peek();
	struct fdent *e = slot(fd);

	if (h != NULL)
		fdw_close(h, fd);
	if (e != NULL)
		e->kind = FD_UNKNOWN;
}
