/*
 * An ordinary program (never linked to greenshim) whose threads wait for
 * file locks: flock, fcntl F_SETLKW and F_OFD_SETLKW, and lockf F_LOCK,
 * held by another thread of its own (through another open file) or by a
 * child process, while a ticker thread sleeps 1 ms at a time. Then the ways
 * such a wait ends early: alarm() with a SIGALRM handler without
 * SA_RESTART (EINTR), one with SA_RESTART (the wait goes on and gets the
 * lock), pthread_cancel (the cleanup handler runs), the kernel's EDEADLK,
 * and the errors a lock call gives at once. Prints what each found; the
 * output must be the native run's. On one hub, before greenshim made these
 * waits green, the first one never ended: the waiter held the only OS
 * thread, and the holder never ran to let go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char path[64];
static atomic_long ticks;
static atomic_bool ticking = true;
static volatile sig_atomic_t alarms;

static void *ticker(void *arg)
{
	struct timespec ms = { 0, 1000000 };

	while (atomic_load(&ticking)) {
		nanosleep(&ms, NULL);
		atomic_fetch_add(&ticks, 1);
	}
	return arg;
}

static int open_lockfile(void)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	if (fd < 0) {
		perror("open");
		exit(1);
	}
	return fd;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The ticker ticked at least min times while f ran: it was not held up. */
static void report_ticks(const char *what, long before, long min)
{
	long n = atomic_load(&ticks) - before;

	printf("%s: the ticker ran meanwhile: %s\n", what, n >= min ? "yes" : "no");
}

/* A call's result and, if it failed, its errno (read after the call). */
static void show(const char *what, int r)
{
	int err = errno;

	if (r == 0)
		printf("%s: 0\n", what);
	else if (err == EAGAIN || err == EACCES)
		printf("%s: %d EAGAIN or EACCES\n", what, r); /* POSIX allows either */
	else
		printf("%s: %d %s\n", what, r, strerror(err));
}

static struct flock range(short type, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fl;
}

/* ---- a lock another thread holds, through another open file ---- */

static int held_fd;

static void *let_go_later(void *arg)
{
	sleep_ms(100);
	if (arg == (void *)1) {
		printf("holder lets go of the flock\n");
		flock(held_fd, LOCK_UN);
	} else {
		struct flock fl = range(F_UNLCK, 0, 0);

		printf("holder lets go of the OFD lock\n");
		fcntl(held_fd, F_OFD_SETLK, &fl);
	}
	fflush(stdout);
	return NULL;
}

static void between_threads(void)
{
	pthread_t t;
	long before;
	int fd;
	struct flock fl = range(F_WRLCK, 0, 0);

	held_fd = open_lockfile();
	fd = open_lockfile();
	flock(held_fd, LOCK_EX);
	show("flock LOCK_NB while held", flock(fd, LOCK_EX | LOCK_NB));
	before = atomic_load(&ticks);
	pthread_create(&t, NULL, let_go_later, (void *)1);
	show("flock LOCK_EX", flock(fd, LOCK_EX));
	pthread_join(t, NULL);
	report_ticks("flock", before, 10);
	flock(fd, LOCK_UN);

	fcntl(held_fd, F_OFD_SETLK, &fl);
	before = atomic_load(&ticks);
	pthread_create(&t, NULL, let_go_later, (void *)2);
	show("F_OFD_SETLKW", fcntl(fd, F_OFD_SETLKW, &fl));
	pthread_join(t, NULL);
	report_ticks("F_OFD_SETLKW", before, 10);
	close(fd);
	close(held_fd);
}

/* ---- a lock a child process holds ---- */

/* A child that takes a POSIX lock on [start, start+len), says so on the
 * pipe, holds it for hold_ms (or until killed if hold_ms < 0), then
 * exits. */
static pid_t child_holding(off_t start, off_t len, long hold_ms)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		int fd = open_lockfile();
		struct flock fl = range(F_WRLCK, start, len);

		fcntl(fd, F_SETLK, &fl);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		if (hold_ms < 0)
			for (;;)
				pause();
		sleep_ms(hold_ms);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		exit(1);
	close(p[0]);
	return pid;
}

static void from_a_child(void)
{
	int fd = open_lockfile();
	struct flock fl = range(F_WRLCK, 0, 10);
	pid_t pid = child_holding(0, 10, 100);
	long before = atomic_load(&ticks);

	show("F_SETLK while the child holds it", fcntl(fd, F_SETLK, &fl));
	show("F_SETLKW", fcntl(fd, F_SETLKW, &fl));
	report_ticks("F_SETLKW", before, 10);
	waitpid(pid, NULL, 0);
	fl.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &fl);

	/* lockf locks from the current offset. */
	pid = child_holding(20, 5, 100);
	lseek(fd, 20, SEEK_SET);
	before = atomic_load(&ticks);
	show("lockf F_TLOCK while held", lockf(fd, F_TLOCK, 5));
	show("lockf F_LOCK", lockf(fd, F_LOCK, 5));
	report_ticks("lockf", before, 10);
	waitpid(pid, NULL, 0);
	show("lockf F_ULOCK", lockf(fd, F_ULOCK, 5));
	close(fd);
}

/* ---- waits that end early ---- */

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void with_alarm(int flags)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	int fd = open_lockfile();
	struct flock fl = range(F_WRLCK, 30, 1);
	pid_t pid = child_holding(30, 1, flags & SA_RESTART ? 150 : -1);
	int r, err;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigaction(SIGALRM, &sa, NULL);
	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	r = fcntl(fd, F_SETLKW, &fl);
	err = errno;
	printf("F_SETLKW with a %s SIGALRM after 50 ms: %d %s, handler ran %d time(s)\n",
	       flags & SA_RESTART ? "restarting" : "plain", r, r == 0 ? "" : strerror(err),
	       (int)alarms);
	if (!(flags & SA_RESTART))
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fl.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &fl);
	close(fd);
}

static atomic_bool cleaned;

static void cleanup(void *arg)
{
	(void)arg;
	atomic_store(&cleaned, true);
}

static void *wait_to_be_cancelled(void *arg)
{
	int fd = open_lockfile();
	struct flock fl = range(F_WRLCK, 40, 1);

	pthread_cleanup_push(cleanup, NULL);
	fcntl(fd, F_SETLKW, &fl);
	pthread_cleanup_pop(0);
	printf("the cancelled thread got the lock\n");
	return arg;
}

static void cancelled(void)
{
	pid_t pid = child_holding(40, 1, -1);
	pthread_t t;
	void *ret;

	pthread_create(&t, NULL, wait_to_be_cancelled, NULL);
	sleep_ms(50);
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("cancelled in F_SETLKW: %s, cleanup ran: %s\n",
	       ret == PTHREAD_CANCELED ? "yes" : "no", atomic_load(&cleaned) ? "yes" : "no");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The child holds byte 50 and waits for byte 60, which this process
 * holds: this process's wait for byte 50 would close the cycle. */
static void deadlock(void)
{
	int fd = open_lockfile(), p[2];
	struct flock mine = range(F_WRLCK, 60, 1), theirs = range(F_WRLCK, 50, 1);
	pid_t pid;
	char c;

	fcntl(fd, F_SETLK, &mine);
	if (pipe(p) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		int cfd = open_lockfile();

		fcntl(cfd, F_SETLK, &theirs);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		fcntl(cfd, F_SETLKW, &mine); /* waits for the parent */
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		exit(1);
	close(p[0]);
	sleep_ms(100); /* the child waits by now */
	show("F_SETLKW closing a cycle", fcntl(fd, F_SETLKW, &theirs));
	mine.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &mine);
	waitpid(pid, NULL, 0);
	close(fd);
}

static void at_once(void)
{
	struct flock fl = range(F_WRLCK, 0, 1);
	int rfd = open(path, O_RDONLY);

	show("flock on a bad fd", flock(-1, LOCK_EX));
	show("flock with a bad operation", flock(rfd, 77));
	show("F_SETLKW on a bad fd", fcntl(9999, F_SETLKW, &fl));
	show("F_SETLKW write lock on a read-only fd", fcntl(rfd, F_SETLKW, &fl));
	show("lockf F_LOCK on a read-only fd", lockf(rfd, F_LOCK, 1));
	close(rfd);
}

int main(void)
{
	pthread_t t;

	snprintf(path, sizeof path, "/tmp/gs-file-locks-%d", (int)getpid());
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_create(&t, NULL, ticker, NULL);
	between_threads();
	from_a_child();
	with_alarm(0);
	with_alarm(SA_RESTART);
	cancelled();
	deadlock();
	at_once();
	atomic_store(&ticking, false);
	pthread_join(t, NULL);
	unlink(path);
	return 0;
}
