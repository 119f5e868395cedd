/*
 * The control socket: how greenctl(1) asks a running program what its
 * green threads are doing.
 *
 * What: an abstract unix stream socket named "greenshim-PID" (no file to
 * create, none left behind: the name goes with the last descriptor, at
 * exit), listened on from the library's start, served by one runtime OS
 * thread, "gs-control" (osthread.c), which sleeps in accept(2) until a
 * client connects: an idle program pays one descriptor and one sleeping
 * thread, nothing per switch or per call. Never TCP. Nothing at all in a
 * secure-execution process (AT_SECURE) or with GREENSHIM_CONTROL=off.
 *
 * Who: anyone may connect to an abstract name, so every connection's peer
 * credentials (SO_PEERCRED) are checked: the process's own user (real or
 * effective) or root, else one line "error: permission denied" and the
 * connection is closed.
 *
 * The descriptor: made in the library's constructor, before any hub and
 * on the one thread there is, with raw system calls (it is not the
 * program's: fdtab.c never sees it), then moved to the highest free number
 * below min(RLIMIT_NOFILE, 1024), so that the program's own descriptors get
 * the numbers they get natively, with an eventfd that wakes the thread.
 * Both are the runtime's own fds (hub_is_own_fd): the program cannot close
 * them, and its dup2 over one moves it first (control_move_fd).
 *
 * Fork: the child's copy of the listening socket is the parent's socket;
 * the child closes it and listens on its own name with its own thread
 * (control_fork_child, from the atfork child handler).
 *
 * Reading a hub: the hub's structures belong to its OS thread (no locks,
 * no atomics, runtime.h). The control thread never walks them itself; it
 * asks the hub's thread to run a function in the hub's context, where every
 * green thread is suspended (control_call_hub): a pointer published in
 * h->ctl_call and hub_wake, the same wake-up a worker thread's
 * completion uses. An idle hub answers at once; a busy one at its next
 * poll, at most HUB_POLL_INTERVAL_NS behind threads that switch, and a
 * green thread that computes without waiting is moved aside by the
 * preemption tick within two ticks (src/preempt.c), after which the hub
 * polls. A hub that does not answer in time (preemption off, or stuck in
 * a system call that greenshim does not interpose) is reported as such,
 * with what it runs, by a signal the runtime already owns
 * (introspect_sample).
 */
#include "hub_impl.h"
#include "tools.h" /* before <sys/auxv.h>: <elf.h> and ev.h both name EV_NONE */

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sys.h"

#define CONTROL_READ_TIMEOUT_S 5

/* The listening socket's number and an eventfd that wakes the control
 * thread, which a program's dup2 over them moves (control_move_fd); the
 * control thread reads them inside listen_users. */
static atomic_int listen_fd = -1;
static atomic_int wake_fd = -1;
static atomic_int listen_users;
static atomic_uint listen_gen; /* counts the control thread's loads */
/* The control thread, joinable while it runs (control_pause ends it). */
static pthread_t control_tid;
static bool control_running;
static atomic_bool control_stop;

/* ---- replies ------------------------------------------------------------- */

void ctl_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap != 0 ? b->cap * 2 : 4096;
		char *p;

		while (cap - b->len <= (size_t)n)
			cap *= 2;
		p = gs_realloc(b->p, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* ---- calls into a hub's OS thread ----------------------------------------- */

struct ctl_call {
	void (*fn)(struct hub *h, void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

void control_hub_poll(struct hub *h)
{
	struct ctl_call *c = atomic_exchange(&h->ctl_call, NULL);

	if (c == NULL)
		return;
	c->fn(h, c->arg);
	os_ops.mutex_lock(&c->lock);
	c->done = true;
	os_ops.cond_broadcast(&c->cond);
	os_ops.mutex_unlock(&c->lock);
}

int control_call_hub(struct hub *h, void (*fn)(struct hub *h, void *arg), void *arg,
		     int timeout_ms)
{
	/* libc's objects, statically initialised (the init calls are
	 * greenshim's); cond_clockwait names its clock itself. */
	struct ctl_call c = { .fn = fn,
			      .arg = arg,
			      .lock = PTHREAD_MUTEX_INITIALIZER,
			      .cond = PTHREAD_COND_INITIALIZER,
			      .done = false };
	struct ctl_call *expected = NULL;
	struct timespec until;
	int r = 0;

	if (!atomic_compare_exchange_strong(&h->ctl_call, &expected, &c))
		return -EBUSY; /* the control thread's and the profiler's met */
	hub_wake(h);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	os_ops.mutex_lock(&c.lock);
	while (!c.done && r == 0)
		r = os_ops.cond_clockwait(&c.cond, &c.lock, CLOCK_MONOTONIC, &until);
	os_ops.mutex_unlock(&c.lock);
	if (r != 0) {
		/* Taken back before the hub took it: it will never run. */
		expected = &c;
		if (atomic_compare_exchange_strong(&h->ctl_call, &expected, NULL))
			return -ETIMEDOUT;
		/* The hub runs it now: it ends soon, and c is on our stack. */
		os_ops.mutex_lock(&c.lock);
		while (!c.done)
			os_ops.cond_clockwait(&c.cond, &c.lock, CLOCK_MONOTONIC, &until);
		os_ops.mutex_unlock(&c.lock);
	}
	return 0;
}

/* ---- the socket --------------------------------------------------------- */

static socklen_t control_address(pid_t pid, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	/* sun_path[0] == '\0': the abstract namespace. */
	n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "greenshim-%d", (int)pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The listening socket and the wake-up eventfd, with raw system calls
 * (see the head comment); -errno when either cannot be made. */
static int control_listen(void)
{
	struct sockaddr_un a;
	socklen_t len = control_address(getpid(), &a);
	long fd, wfd;

	hub_own_lock();
	fd = arch_syscall3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (arch_syscall3(SYS_bind, fd, (long)&a, len) < 0 ||
			arch_syscall3(SYS_listen, fd, 16, 0) < 0)) {
		arch_syscall3(SYS_close, fd, 0, 0);
		fd = -EADDRINUSE;
	}
	wfd = fd < 0 ? fd : arch_syscall3(SYS_eventfd2, 0, EFD_NONBLOCK | EFD_CLOEXEC, 0);
	if (fd >= 0 && wfd < 0) {
		arch_syscall3(SYS_close, fd, 0, 0);
		fd = wfd;
	}
	if (fd >= 0) {
		/* At the top of the numbers below 1024, as the hubs' own fds. */
		atomic_store(&listen_fd, hub_own_place((int)fd, OWN_CONTROL, NULL));
		atomic_store(&wake_fd, hub_own_place((int)wfd, OWN_CONTROL, NULL));
	}
	hub_own_unlock();
	return fd < 0 ? (int)fd : 0;
}

static void control_close(void)
{
	int fd = atomic_exchange(&listen_fd, -1), wfd = atomic_exchange(&wake_fd, -1);

	if (fd < 0)
		return;
	hub_forget_own_fd(fd);
	hub_forget_own_fd(wfd);
	arch_syscall3(SYS_close, fd, 0, 0);
	arch_syscall3(SYS_close, wfd, 0, 0);
}

static bool peer_allowed(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return false;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid() || cr.uid == getuid();
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* One request line, up to '\n': "ps", "stacks", "stats"... */
static bool read_request(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n < size - 1) {
		ssize_t r = read(fd, line + n, 1);

		if (r <= 0)
			return false;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return n < size - 1;
}

static void serve(int fd)
{
	struct timeval tv = { .tv_sec = CONTROL_READ_TIMEOUT_S };
	struct ctl_buf b = { 0 };
	char line[256];
	uid_t uid = (uid_t)-1;
	bool allowed = peer_allowed(fd, &uid);

	if (!allowed) {
		/* Said before the request is read, which a stranger may never
		 * send: the thread is not theirs to hold. */
		ctl_printf(&b, "error: permission denied: uid %d may not inspect process %d "
			       "(only its own user or root)\n", (int)uid, (int)getpid());
		tv.tv_sec = 0;
		tv.tv_usec = 200000;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (allowed) {
		if (read_request(fd, line, sizeof line))
			control_command(line, &b);
		else
			ctl_printf(&b, "error: no request line\n");
	}
	if (b.failed)
		write_all(fd, "error: out of memory\n", 21);
	else if (b.len > 0)
		write_all(fd, b.p, b.len);
	gs_free(b.p);
	/* Closing with the request unread would reset the connection before
	 * the client reads the answer: end ours, let it end its own. */
	shutdown(fd, SHUT_WR);
	while (read(fd, line, sizeof line) > 0)
		;
	hub_forget_own_fd(fd);
	close(fd);
}

static void *control_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .events = POLLIN }, { .events = POLLIN } };
		uint64_t count;
		int c, r;

		/* Not asleep in accept4: Linux takes the lowest free fd number
		 * for the connection when accept4 begins, and the program's
		 * next open would get the one after it. */
		atomic_fetch_add(&listen_users, 1);
		atomic_fetch_add(&listen_gen, 1);
		p[0].fd = atomic_load(&listen_fd);
		p[1].fd = atomic_load(&wake_fd);
		r = poll(p, 2, -1);
		if (r > 0 && p[1].revents != 0)
			arch_syscall3(SYS_read, p[1].fd, (long)&count, sizeof count);
		atomic_fetch_sub(&listen_users, 1);
		if ((r < 0 && errno != EINTR) || atomic_load(&control_stop))
			return NULL;
		if (r <= 0 || p[0].revents == 0)
			continue;
		/* The connection is the runtime's while it is served: placed
		 * high under the placement lock, as every fd of the runtime. */
		hub_own_lock();
		c = accept4(atomic_load(&listen_fd), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c >= 0)
			c = hub_own_place(c, OWN_OTHER, NULL);
		hub_own_unlock();
		if (c >= 0) {
			/* Blocking again, as serve reads it. */
			sys_fcntl(c, F_SETFL, 0);
			serve(c);
		} else if (errno == EAGAIN) {
			continue; /* another client's, gone meanwhile */
		} else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE &&
			   errno != ENFILE && errno != ENOBUFS && errno != ENOMEM) {
			return NULL; /* the socket is gone: no more control */
		}
	}
}

/* The move: the same socket or eventfd under a new number, published;
 * then the control thread, which may sit in poll on the old number, is
 * woken through the eventfd until it is seen outside its poll or has
 * loaded the numbers again (listen_gen, counted before it loads): from
 * then on it uses the new ones. Its accept4 runs under the placement lock,
 * held here while the numbers change. */
int control_move_fd(int fd)
{
	static const uint64_t one = 1;
	atomic_int *which = fd == atomic_load(&listen_fd) ? &listen_fd
			    : fd == atomic_load(&wake_fd) ? &wake_fd
							  : NULL;
	unsigned gen;
	int to;

	if (which == NULL)
		return 0;
	hub_own_lock();
	to = hub_own_dup(fd);
	if (to >= 0)
		atomic_store(which, to);
	hub_own_unlock();
	if (to < 0)
		return to;
	/* Out of its poll, or back in it with numbers loaded since. */
	gen = atomic_load(&listen_gen);
	while (atomic_load(&listen_users) != 0 && atomic_load(&listen_gen) == gen) {
		arch_syscall3(SYS_write, atomic_load(&wake_fd), (long)&one, sizeof one);
		for (int i = 0; i < 100 && atomic_load(&listen_users) != 0 &&
				atomic_load(&listen_gen) == gen;
		     i++)
			arch_syscall3(SYS_sched_yield, 0, 0, 0);
	}
	return to;
}

static void control_start_thread(void)
{
	if (atomic_load(&listen_fd) < 0)
		return;
	atomic_store(&control_stop, false);
	if (osthread_start(&control_tid, "gs-control", control_main, NULL, false) != 0)
		control_close();
	else
		control_running = true;
}

/*
 * The process is to be single-threaded in the kernel's eyes for one call
 * (unshare or setns into a user namespace, preload/ns.c): the control
 * thread ends, once it has served the connection it may be serving, and
 * control_resume starts another; the socket stays open meanwhile, and a
 * greenctl that connects then is answered by the new thread. Called by
 * the process's only program thread, so no other call pauses or resumes
 * meanwhile. true if a thread ended.
 */
bool control_pause(void)
{
	static const uint64_t one = 1;

	if (!control_running)
		return false;
	atomic_store(&control_stop, true);
	arch_syscall3(SYS_write, atomic_load(&wake_fd), (long)&one, sizeof one);
	os_ops.join(control_tid, NULL);
	control_running = false;
	return true;
}

void control_resume(void)
{
	control_start_thread();
}

void control_start(void)
{
	config_load();
	if (!gs_config.control || getauxval(AT_SECURE) != 0)
		return;
	if (control_listen() == 0)
		control_start_thread();
}

void control_fork_child(void)
{
	if (atomic_load(&listen_fd) < 0)
		return;
	/* The parent's socket: not ours to serve; the parent's thread is
	 * not the child's to join. */
	control_close();
	control_running = false;
	atomic_store(&listen_users, 0);
	if (control_listen() == 0)
		control_start_thread();
}
