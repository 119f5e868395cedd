/*
 * Waiting for children: wait, waitpid, wait3, wait4, waitid, and system().
 *
 * Each wait is the kernel's own call with WNOHANG, which never blocks and
 * gives the exact result (status, rusage, siginfo, ECHILD, EINVAL); when no
 * child has changed state and the program did not ask for WNOHANG, the
 * green thread waits in the hub and asks again. What it waits on:
 *
 * - one child (pid > 0, P_PID, P_PIDFD) and only exits wanted: a pidfd of
 *   the child (pidfd_open), readable when it exits, and a recheck at
 *   intervals that grow to 1.3 s (below);
 * - any child, a process group, or stops and continues too: pidfds of the
 *   children that exist now (/proc/self/task/TID/children), and at most
 *   CHILDREN_RECHECK_NS, after which it asks the kernel again: a child born
 *   meanwhile, or a stop, which a pidfd does not report, is seen then.
 *
 * A child this process traces (ptrace) stops at every event its tracer
 * is to see, reported to wait whatever the options, and a pidfd says
 * nothing of it: once the process has called ptrace, a wait for such a
 * child (its TracerPid one of ours) asks again every
 * TRACED_RECHECK_NS, and one for a child's exit alone, after 20 ms and
 * then at intervals that double up to 1.3 s, in case the child made
 * itself traced since. And the process's only program thread (strace, a
 * debugger) waiting for a child it traces makes the kernel's blocking call
 * itself: it holds up no one, and sees each stop at once (the wait is then
 * no green one: greenctl and the wait profile do not show it).
 *
 * So a wait never takes another waiter's child: only the kernel's wait call
 * reaps, as natively. A handled signal ends the wait with EINTR, or
 * restarts it under SA_RESTART, as the kernel does; a child that exited as
 * the signal came is still reported, as the kernel reports it first.
 *
 * glibc's system() waits with its internal waitpid, past these wrappers:
 * system() is redone here on posix_spawn with the same signal handling.
 * So are popen() and pclose(), whose child glibc also waits for inside
 * libc: popen is a pipe, a posix_spawn of /bin/sh -c with the pipe's end
 * on the child's stdin or stdout, and fdopen of the other end; pclose
 * closes the stream and waits with the waitpid wrapper.
 */
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "preload.h"

#define CHILDREN_MAX 64
#define CHILDREN_RECHECK_NS 20000000 /* 20 ms */
#define TRACED_RECHECK_NS 1000000    /* 1 ms */

extern char **environ;

/* Without pidfd_open (Linux < 5.3, valgrind 3.19, which prints a warning
 * for each call it does not know), waits ask again every
 * CHILDREN_RECHECK_NS: tried once, not at every wait. */
static atomic_bool no_pidfd_open;

/* A pidfd of pid for one wait (preload_runtime_fd), or -1 (errno as it
 * was). Until 2026-12-07 a waiting thread held the lowest free numbers
 * for the whole wait. */
static int wait_pidfd(pid_t pid)
{
	int saved = errno;
	long r;

	if (atomic_load_explicit(&no_pidfd_open, memory_order_relaxed))
		return -1;
	r = REAL(syscall)(SYS_pidfd_open, (long)pid, 0L);
	if (r < 0 && errno == ENOSYS)
		atomic_store_explicit(&no_pidfd_open, true, memory_order_relaxed);
	errno = saved;
	return r < 0 ? -1 : preload_runtime_fd((int)r);
}

/* The pids of the process's children (every OS thread's) in *out. */
static int list_children(pid_t *out, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while (n < max && (e = readdir(d)) != NULL) {
		char path[300];
		FILE *f;
		long pid;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		while (n < max && fscanf(f, "%ld", &pid) == 1)
			out[n++] = (pid_t)pid;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* The number after "key" on its line of a /proc file, or -1. */
static long proc_field(const char *path, const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, n) == 0) {
			v = strtol(line + n, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Set by the process's first ptrace call: only a process that has made
 * one can trace a child (a tracer's first wait, for a child that makes
 * itself traced, comes before it: the recheck at growing intervals sees
 * that stop). Until then no wait reads the children's status. */
static atomic_bool ptrace_used;

/* ptrace: libc's, noted. glibc's reads its three arguments after the
 * request whatever the request; so does this. */
GS_WRAP long ptrace(enum __ptrace_request request, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (!atomic_load_explicit(&ptrace_used, memory_order_relaxed))
		atomic_store(&ptrace_used, true);
	return REAL(ptrace)(request, pid, addr, data);
}

/* Does one of this process's OS threads trace child pid? */
static bool traced_here(long pid)
{
	char path[64];
	long tracer;

	if (pid <= 0 || !atomic_load_explicit(&ptrace_used, memory_order_relaxed))
		return false;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	tracer = proc_field(path, "TracerPid:");
	if (tracer <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/self/task/%ld", tracer);
	return access(path, F_OK) == 0;
}

/* traced_here for the child a pidfd refers to: its fdinfo is read only
 * once the process has called ptrace. */
static bool traced_pidfd(int fd)
{
	char path[64];

	if (!atomic_load_explicit(&ptrace_used, memory_order_relaxed))
		return false;
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	return traced_here(proc_field(path, "Pid:"));
}

/* Waits until a child that (type, id) names may have changed state; the
 * caller's round-th wait for it. 0 or -ETIMEDOUT: ask the kernel again;
 * WAKE_SIGNAL, -EINTR: a signal; WAIT_IN_KERNEL: the caller, the process's
 * only program thread, traces a child it may report, and is to wait in
 * the kernel's blocking call. */
#define WAIT_IN_KERNEL 100
static int children_wait(struct hub *h, idtype_t type, id_t id, bool exits_only, int round)
{
	struct waiter e[CHILDREN_MAX];
	int fds[CHILDREN_MAX], opened[CHILDREN_MAX];
	int64_t recheck = CHILDREN_RECHECK_NS;
	bool traced = false;
	struct wait w;
	int n = 0, k = 0, r;

	if (type == P_PIDFD) {
		fds[n] = (int)id;
		opened[n++] = 0;
		traced = traced_pidfd((int)id);
	} else if (type == P_PID) {
		if ((fds[n] = wait_pidfd((pid_t)id)) >= 0)
			opened[n++] = 1;
		traced = traced_here((long)id);
	} else {
		pid_t kids[CHILDREN_MAX];
		int nk = list_children(kids, CHILDREN_MAX);

		for (int i = 0; i < nk; i++) {
			if (type == P_PGID && getpgid(kids[i]) != (pid_t)id)
				continue;
			if ((fds[n] = wait_pidfd(kids[i])) >= 0)
				opened[n++] = 1;
			traced = traced || traced_here(kids[i]);
		}
	}
	/* One child, exits only: its pidfd says when. But a child may make
	 * itself traced (PTRACE_TRACEME) after the wait began: asked again
	 * after 20 ms, then at intervals that double up to 1.3 s. */
	if (traced && sched_alone(h)) {
		for (int i = 0; i < n; i++)
			if (opened[i])
				preload_runtime_fd_close(fds[i]);
		return WAIT_IN_KERNEL;
	}
	if (traced)
		recheck = TRACED_RECHECK_NS;
	else if (exits_only && (type == P_PID || type == P_PIDFD) && n == 1)
		recheck = CHILDREN_RECHECK_NS << (round < 6 ? round : 6);
	wait_init_interruptible(&w);
	wait_label(&w, WAIT_CHILD, NULL, type == P_PID ? (long)id : -1);
	for (int i = 0; i < n; i++)
		if (fdw_add(h, fds[i], FDW_READ, &e[k], &w, WAITER_FD_OPEN) == 0)
			fds[k] = fds[i], opened[k] = opened[i], k++;
		else if (opened[i])
			preload_runtime_fd_close(fds[i]);
	r = wait_park(&w, gs_deadline_after(recheck));
	for (int i = 0; i < k; i++) {
		fdw_remove(h, fds[i], FDW_READ, &e[i]);
		if (opened[i])
			preload_runtime_fd_close(fds[i]);
	}
	wait_after(&w);
	if (GS_UNLIKELY(r == -ECANCELED))
		preload_cancel_act(); /* the wait family are cancellation points */
	return r;
}

static void pid_to_id(pid_t pid, idtype_t *type, id_t *id)
{
	if (pid > 0) {
		*type = P_PID;
		*id = (id_t)pid;
	} else if (pid == -1) {
		*type = P_ALL;
		*id = 0;
	} else {
		*type = P_PGID;
		*id = (id_t)(pid == 0 ? getpgrp() : -pid);
	}
}

GS_WRAP pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	struct hub *h;
	idtype_t type;
	id_t id;

	if ((options & WNOHANG) || (h = preload_hub()) == NULL)
		return REAL(wait4)(pid, status, options, ru);
	pid_to_id(pid, &type, &id);
	for (int round = 0;; round++) {
		pid_t r = REAL(wait4)(pid, status, options | WNOHANG, ru);
		int w;

		if (r != 0)
			return r;
		w = children_wait(h, type, id, !(options & (WUNTRACED | WCONTINUED)), round);
		if (w == WAIT_IN_KERNEL)
			return REAL(wait4)(pid, status, options, ru);
		if (w == -EINTR) {
			/* The kernel reports a child that is ready before the
			 * signal that came with it. */
			r = REAL(wait4)(pid, status, options | WNOHANG, ru);
			return r != 0 ? r : preload_fail(-EINTR);
		}
	}
}

GS_WRAP pid_t waitpid(pid_t pid, int *status, int options)
{
	return wait4(pid, status, options, NULL);
}

GS_WRAP pid_t wait(int *status)
{
	return wait4(-1, status, 0, NULL);
}

GS_WRAP pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

GS_WRAP int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	struct hub *h;

	if ((options & WNOHANG) || info == NULL || (h = preload_hub()) == NULL)
		return REAL(waitid)(type, id, info, options);
	if (type == P_PGID && id == 0)
		id = (id_t)getpgrp();
	for (int round = 0;; round++) {
		int r, w;

		info->si_pid = 0;
		r = REAL(waitid)(type, id, info, options | WNOHANG);
		if (r != 0 || info->si_pid != 0)
			return r;
		w = children_wait(h, type, id, !(options & (WSTOPPED | WCONTINUED)), round);
		if (w == WAIT_IN_KERNEL)
			return REAL(waitid)(type, id, info, options);
		if (w == -EINTR) {
			info->si_pid = 0;
			r = REAL(waitid)(type, id, info, options | WNOHANG);
			return r != 0 || info->si_pid != 0 ? r : preload_fail(-EINTR);
		}
	}
}

/* ---- vfork ------------------------------------------------------------------ */

/* A vfork child shares the parent's memory until it calls exec: every
 * wrapper it called on the way (close, dup2 and close_range, which CPython's
 * subprocess calls there) would change the parent's fd table and hub under
 * the parent's feet. So vfork is a fork here, which POSIX allows (the child
 * of vfork may do no more than the child of fork), but glibc's _Fork: as
 * glibc's vfork, it runs none of the program's pthread_atfork handlers
 * (gRPC's child handler, with its fork support on, ended every CPython
 * subprocess child before its exec), only the runtime's own. glibc's
 * posix_spawn does not go through this; it calls no wrapper in its child. */
GS_WRAP pid_t vfork(void)
{
	int saved_errno;
	pid_t pid;

	preload_fork_prepare();
	pid = _Fork();
	saved_errno = errno;
	if (pid == 0) {
		gs_mem_keep = true;
		preload_fork_child();
	} else {
		preload_fork_parent();
	}
	errno = saved_errno;
	return pid;
}

/* ---- system() ------------------------------------------------------------ */

/* SIGINT and SIGQUIT are ignored by the process while any system() runs,
 * as glibc does with its count of concurrent calls. Green threads of one
 * hub never run this concurrently with each other in between two
 * instructions, but native threads (GREENSHIM_THREADS=native) may. */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_count;
static struct sigaction saved_int, saved_quit;

static void system_enter(void)
{
	struct sigaction ign;

	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	REAL(pthread_mutex_lock)(&system_lock);
	if (system_count++ == 0) {
		sigaction(SIGINT, &ign, &saved_int);
		sigaction(SIGQUIT, &ign, &saved_quit);
	}
	REAL(pthread_mutex_unlock)(&system_lock);
}

static void system_leave(void)
{
	REAL(pthread_mutex_lock)(&system_lock);
	if (--system_count == 0) {
		sigaction(SIGINT, &saved_int, NULL);
		sigaction(SIGQUIT, &saved_quit, NULL);
	}
	REAL(pthread_mutex_unlock)(&system_lock);
}

GS_WRAP int system(const char *cmd)
{
	posix_spawnattr_t attr;
	sigset_t chld, omask, dfl;
	char *argv[] = { "sh", "-c", "--", (char *)cmd, NULL };
	int status = -1, err, saved;
	pid_t pid;

	if (cmd == NULL || preload_hub() == NULL)
		return REAL(system)(cmd); /* NULL: is there a shell? */
	system_enter();
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &omask); /* the caller's only */
	sigemptyset(&dfl);
	if (saved_int.sa_handler != SIG_IGN)
		sigaddset(&dfl, SIGINT);
	if (saved_quit.sa_handler != SIG_IGN)
		sigaddset(&dfl, SIGQUIT);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	err = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (err == 0) {
		pid_t r;

		do
			r = waitpid(pid, &status, 0);
		while (r < 0 && errno == EINTR);
		if (r != pid)
			status = -1;
		saved = errno;
	} else {
		status = W_EXITCODE(127, 0); /* as glibc: the shell could not run */
		saved = err;
	}
	system_leave();
	pthread_sigmask(SIG_SETMASK, &omask, NULL);
	errno = saved;
	return status;
}

/* ---- popen() and pclose() ------------------------------------------------ */

/* The streams popen() made and still open: pclose() needs the child's pid,
 * and each new child must close the others' descriptors (POSIX). */
struct popen_entry {
	struct popen_entry *next;
	FILE *fp;
	int fd;
	pid_t pid;
};

static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct popen_entry *popen_list;

/* glibc's mode rules: 'r' or 'w', and 'e' for close-on-exec, in any
 * order and repeated; anything else, or both 'r' and 'w', is EINVAL. */
static int popen_mode(const char *mode, bool *cloexec)
{
	bool rd = false, wr = false;

	*cloexec = false;
	for (; *mode != '\0'; mode++) {
		if (*mode == 'r')
			rd = true;
		else if (*mode == 'w')
			wr = true;
		else if (*mode == 'e')
			*cloexec = true;
		else
			return -1;
	}
	return rd == wr ? -1 : rd ? 0 : 1;
}

static FILE *popen_green(const char *cmd, const char *mode)
{
	char *argv[] = { "sh", "-c", "--", (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	struct popen_entry *e;
	bool cloexec;
	int fds[2], dir, parent_end, child_end, child_fd, err;
	FILE *fp;

	dir = popen_mode(mode, &cloexec);
	if (dir < 0) {
		errno = EINVAL;
		return NULL;
	}
	e = gs_malloc(sizeof *e);
	if (e == NULL)
		return NULL;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		gs_free(e);
		return NULL;
	}
	/* "r": the child writes its stdout into the pipe; "w": it reads its
	 * stdin from it. */
	parent_end = dir == 0 ? 0 : 1;
	child_end = 1 - parent_end;
	child_fd = dir == 0 ? STDOUT_FILENO : STDIN_FILENO;
	/* A pipe end that already has the child's number would keep its
	 * close-on-exec flag through dup2 onto itself: move it first, as
	 * glibc does. */
	if (fds[child_end] == child_fd) {
		int moved = fcntl(fds[child_end], F_DUPFD_CLOEXEC, 0);

		if (moved < 0)
			goto fail_pipe;
		close(fds[child_end]);
		fds[child_end] = moved;
	}
	posix_spawn_file_actions_init(&fa);
	err = posix_spawn_file_actions_adddup2(&fa, fds[child_end], child_fd);
	REAL(pthread_mutex_lock)(&popen_lock);
	for (struct popen_entry *p = popen_list; p != NULL && err == 0; p = p->next)
		if (p->fd != child_fd)
			err = posix_spawn_file_actions_addclose(&fa, p->fd);
	if (err == 0)
		err = posix_spawn(&e->pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		REAL(pthread_mutex_unlock)(&popen_lock);
		/* glibc reports any failure to start the shell as ENOMEM. */
		close(fds[0]);
		close(fds[1]);
		gs_free(e);
		errno = ENOMEM;
		return NULL;
	}
	close(fds[child_end]);
	if (!cloexec)
		fcntl(fds[parent_end], F_SETFD, 0);
	fp = fdopen(fds[parent_end], dir == 0 ? "r" : "w");
	if (fp == NULL) {
		REAL(pthread_mutex_unlock)(&popen_lock);
		err = errno;
		close(fds[parent_end]);
		while (waitpid(e->pid, NULL, 0) < 0 && errno == EINTR)
			;
		gs_free(e);
		errno = err;
		return NULL;
	}
	e->fp = fp;
	e->fd = fds[parent_end];
	e->next = popen_list;
	popen_list = e;
	REAL(pthread_mutex_unlock)(&popen_lock);
	return fp;
fail_pipe:
	err = errno;
	close(fds[0]);
	close(fds[1]);
	gs_free(e);
	errno = err;
	return NULL;
}

GS_WRAP FILE *popen(const char *cmd, const char *mode)
{
	if (preload_hub() == NULL)
		return REAL(popen)(cmd, mode);
	return popen_green(cmd, mode);
}

FILE *_IO_popen(const char *cmd, const char *mode);

GS_WRAP FILE *_IO_popen(const char *cmd, const char *mode)
{
	return popen(cmd, mode);
}

/* As glibc's: the stream is flushed and closed, then the child waited
 * for, again after EINTR. The result is the child's status as waitpid
 * gives it; if that is 0, a failed flush's -1; -1 without waiting when
 * the close itself fails, or -1 (ECHILD) when the program reaped the
 * child already. A stream popen() did not make is glibc's affair (it
 * closes it and returns 0). */
GS_WRAP int pclose(FILE *fp)
{
	struct popen_entry **pp, *e = NULL;
	int status = -1, flushed = 0, flush_errno = 0;
	pid_t r;

	REAL(pthread_mutex_lock)(&popen_lock);
	for (pp = &popen_list; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->fp == fp) {
			e = *pp;
			*pp = e->next;
			break;
		}
	}
	REAL(pthread_mutex_unlock)(&popen_lock);
	if (e == NULL)
		return REAL(pclose)(fp);
	if (fflush(fp) != 0) {
		flushed = -1;
		flush_errno = errno;
	}
	fdtab_forget(e->fd); /* fclose closes it past the close wrapper */
	if (fclose(fp) != 0 && flushed == 0) {
		gs_free(e); /* the close failed: glibc does not wait then */
		return -1;
	}
	do
		r = waitpid(e->pid, &status, 0);
	while (r < 0 && errno == EINTR);
	gs_free(e);
	if (r < 0)
		return -1;
	if (status == 0 && flushed != 0) {
		errno = flush_errno;
		return -1;
	}
	return status;
}
