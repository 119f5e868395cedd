/* Processes under threads: fork, the wait family, system(), popen(). Each case
 * prints "ok CASE" natively and under greenshim (tests/preload/run.sh).
 * An ordinary program: nothing here knows of greenshim. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case.h"
#include "ticker.h"

static pid_t child_sleeping(int ms, int code)
{
	pid_t pid = fork();

	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		usleep((useconds_t)ms * 1000);
		_exit(code);
	}
	return pid;
}

/* fork while 1,000 threads wait on a pipe: the child has only the thread
 * that forked (none of the others ever runs there, so none steals the
 * parent's bytes) and can make threads of its own; the parent loses
 * nothing. */
#define PARKED 1000
static int park_pipe[2];
static atomic_int got;

static void *read_one(void *arg)
{
	char c;

	(void)arg;
	if (read(park_pipe[0], &c, 1) == 1)
		atomic_fetch_add(&got, 1);
	return NULL;
}

static void *child_thread(void *arg)
{
	return arg;
}

static void case_fork_parked(void)
{
	static pthread_t t[PARKED];
	static char bytes[PARKED];
	pthread_attr_t a;
	void *ret = NULL;
	pid_t pid;
	int status;

	CHECK(pipe(park_pipe) == 0, "pipe");
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (int i = 0; i < PARKED; i++)
		CHECK(pthread_create(&t[i], &a, read_one, NULL) == 0, "thread %d", i);
	usleep(50000);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		pthread_t c;
		int p2[2];
		char x = 0;

		usleep(100000); /* the parent writes meanwhile */
		if (atomic_load(&got) != 0)
			_exit(3);
		if (pthread_create(&c, NULL, child_thread, (void *)7) != 0 ||
		    pthread_join(c, &ret) != 0 || ret != (void *)7)
			_exit(4);
		if (pipe(p2) != 0 || write(p2[1], "y", 1) != 1 || read(p2[0], &x, 1) != 1 || x != 'y')
			_exit(5);
		_exit(atomic_load(&got) == 0 ? 0 : 6);
	}
	memset(bytes, 'x', sizeof bytes);
	CHECK(write(park_pipe[1], bytes, sizeof bytes) == PARKED, "write");
	for (int i = 0; i < PARKED; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&got) == PARKED, "the parent's threads read %d bytes", atomic_load(&got));
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status %#x",
	      status);
}

/* fork from a thread that is not main: in the child it is the only
 * thread; when it returns, the child ends with status 0. */
static int report[2];

static void *forker(void *arg)
{
	pid_t pid = fork();

	(void)arg;
	if (pid == 0) {
		pthread_t c;
		void *r = NULL;

		pthread_create(&c, NULL, child_thread, (void *)1);
		pthread_join(c, &r);
		if (write(report[1], r == (void *)1 ? "k" : "n", 1) != 1)
			_exit(9);
		return NULL; /* the last thread of the child ends */
	}
	return (void *)(long)pid;
}

static void case_fork_from_thread(void)
{
	pthread_t t;
	void *r;
	pid_t pid;
	int status;
	char c = 0;

	CHECK(pipe(report) == 0, "pipe");
	CHECK(pthread_create(&t, NULL, forker, NULL) == 0 && pthread_join(t, &r) == 0, "forker");
	pid = (pid_t)(long)r;
	CHECK(pid > 0, "fork in a thread");
	CHECK(read(report[0], &c, 1) == 1 && c == 'k', "the child's thread said %c", c);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}

/* A mutex that another thread waits for when the process forks: in the
 * child that thread is gone, so unlocking leaves the mutex free for the
 * child's own use; in the parent the waiter gets it. */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool waiter_got;

static void *lock_held(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held);
	atomic_store(&waiter_got, true);
	pthread_mutex_unlock(&held);
	return NULL;
}

static void case_fork_mutex(void)
{
	pthread_t t;
	pid_t pid;
	int status;

	pthread_mutex_lock(&held);
	CHECK(pthread_create(&t, NULL, lock_held, NULL) == 0, "waiter");
	usleep(20000);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		pthread_mutex_unlock(&held);
		usleep(20000);
		if (atomic_load(&waiter_got))
			_exit(3); /* a thread of the parent ran in the child */
		if (pthread_mutex_trylock(&held) != 0)
			_exit(4);
		_exit(0);
	}
	pthread_mutex_unlock(&held);
	pthread_join(t, NULL);
	CHECK(atomic_load(&waiter_got), "the parent's waiter never got the mutex");
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with %#x", status);
}

/* Every form of wait lets the other threads run, and reports as native. */
static void case_waits(void)
{
	pthread_t t = start_ticker();
	struct rusage ru;
	siginfo_t si;
	pid_t pid;
	int status, before;

	before = atomic_load(&ticks);
	pid = child_sleeping(100, 5);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 5,
	      "waitpid: status %#x", status);
	CHECK(atomic_load(&ticks) - before >= 10, "ticks during waitpid: %d",
	      atomic_load(&ticks) - before);

	pid = child_sleeping(30, 6);
	CHECK(wait(&status) == pid && WEXITSTATUS(status) == 6, "wait");
	pid = child_sleeping(30, 7);
	CHECK(wait3(&status, 0, &ru) == pid && WEXITSTATUS(status) == 7, "wait3");
	pid = child_sleeping(30, 8);
	CHECK(wait4(pid, &status, 0, &ru) == pid && WEXITSTATUS(status) == 8, "wait4");
	pid = child_sleeping(30, 9);
	CHECK(waitpid(-1, &status, 0) == pid && WEXITSTATUS(status) == 9, "waitpid(-1)");
	pid = child_sleeping(30, 10);
	CHECK(waitpid(0, &status, 0) == pid && WEXITSTATUS(status) == 10, "waitpid(0)");
	pid = child_sleeping(30, 11);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED) == 0 && si.si_pid == pid &&
	      si.si_code == CLD_EXITED && si.si_status == 11, "waitid(P_PID)");
	pid = child_sleeping(30, 12);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == 12,
	      "waitid(P_ALL)");

	/* WNOHANG is the plain call; no children is ECHILD at once. */
	pid = child_sleeping(50, 13);
	CHECK(waitpid(pid, &status, WNOHANG) == 0, "WNOHANG on a running child");
	CHECK(waitpid(pid, &status, 0) == pid, "reap");
	errno = 0;
	CHECK(waitpid(-1, &status, 0) == -1 && errno == ECHILD, "no children: %s", strerror(errno));
	errno = 0;
	CHECK(waitpid(1, &status, 0) == -1 && errno == ECHILD, "not a child: %s", strerror(errno));
	errno = 0;
	CHECK(waitid(P_ALL, 0, &si, 0) == -1 && errno == EINVAL, "waitid without options");

	/* Stops are reported with WUNTRACED. */
	pid = child_sleeping(2000, 0);
	usleep(20000);
	kill(pid, SIGSTOP);
	CHECK(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status) &&
	      WSTOPSIG(status) == SIGSTOP, "WUNTRACED: %#x", status);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "killed: %#x", status);
	stop_ticker(t);
}

/* Two threads wait for two children: each gets its own. */
static pid_t kid[2];
static int kid_status[2];

static void *wait_kid(void *arg)
{
	long i = (long)arg;

	if (waitpid(kid[i], &kid_status[i], 0) != kid[i])
		kid_status[i] = -1;
	return NULL;
}

static void case_two_waiters(void)
{
	pthread_t t[2];

	kid[0] = child_sleeping(80, 21);
	kid[1] = child_sleeping(20, 22);
	for (long i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, wait_kid, (void *)i) == 0, "waiter");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(WEXITSTATUS(kid_status[0]) == 21 && WEXITSTATUS(kid_status[1]) == 22,
	      "statuses %#x %#x", kid_status[0], kid_status[1]);
}

/* Threads waiting for a child, one for a given pid and one for any,
 * hold no fd number the program would get: another thread's dup gets the
 * lowest free number, and the next one up is closed, as natively (the
 * library before 2026-12-07 held a pidfd there for each wait). */
static void *wait_any_kid(void *arg)
{
	(void)arg;
	kid_status[1] = -1;
	if (waitpid(-1, &kid_status[1], 0) != kid[1])
		kid_status[1] = -1;
	return NULL;
}

static void case_waits_keep_no_fd(void)
{
	pthread_t t[2];
	int lowest;

	lowest = lowest_free_fd();
	kid[0] = child_sleeping(150, 31);
	kid[1] = child_sleeping(60, 32);
	CHECK(pthread_create(&t[0], NULL, wait_kid, (void *)0L) == 0, "waiter");
	CHECK(pthread_create(&t[1], NULL, wait_any_kid, NULL) == 0, "waiter");
	usleep(20000); /* both wait now */
	check_numbers_still_free(lowest, "threads waited for children");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(WEXITSTATUS(kid_status[0]) == 31 && WEXITSTATUS(kid_status[1]) == 32,
	      "statuses %#x %#x", kid_status[0], kid_status[1]);
}

/* A signal ends waitpid with EINTR, or not at all under SA_RESTART. */
static void on_usr1(int sig)
{
	(void)sig;
}

static void *send_usr1(void *arg)
{
	(void)arg;
	usleep(30000);
	kill(getpid(), SIGUSR1);
	return NULL;
}

static void case_wait_eintr(void)
{
	struct sigaction sa;
	pthread_t t;
	pid_t pid;
	int status;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pid = child_sleeping(200, 1);
	pthread_create(&t, NULL, send_usr1, NULL);
	errno = 0;
	CHECK(waitpid(pid, &status, 0) == -1 && errno == EINTR, "waitpid: %s, not EINTR",
	      strerror(errno));
	pthread_join(t, NULL);
	CHECK(waitpid(pid, &status, 0) == pid, "reap");

	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pid = child_sleeping(200, 2);
	pthread_create(&t, NULL, send_usr1, NULL);
	CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 2,
	      "waitpid under SA_RESTART: %s", strerror(errno));
	pthread_join(t, NULL);
}

/* system() lets the other threads run while the command runs; its status
 * and its 127 for a shell that failed are glibc's. */
static void case_system(void)
{
	pthread_t t = start_ticker();
	int before = atomic_load(&ticks), r;

	r = system("sleep 0.1; exit 3");
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 3, "system: %#x", r);
	CHECK(atomic_load(&ticks) - before >= 10, "ticks during system(): %d",
	      atomic_load(&ticks) - before);
	r = system("exec /nonexistent/command 2>/dev/null");
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 127, "a missing command: %#x", r);
	CHECK(system(NULL) != 0, "system(NULL): no shell?");
	CHECK(signal(SIGINT, SIG_DFL) == SIG_DFL, "SIGINT's disposition was not restored");
	stop_ticker(t);
}

/* popen "r": the command's output, in order and whole; "w": the stream
 * is its input; pclose gives its status as waitpid would. */
static void case_popen_read(void)
{
	char line[64];
	long sum = 0, n = 0;
	FILE *p;
	int r;

	p = popen("seq 1 10000", "r");
	CHECK(p != NULL, "popen: %s", strerror(errno));
	while (fgets(line, sizeof line, p) != NULL) {
		n++;
		sum += atol(line);
		CHECK(atol(line) == n, "line %ld reads %s", n, line);
	}
	CHECK(n == 10000 && sum == 50005000L, "%ld lines, sum %ld", n, sum);
	CHECK(pclose(p) == 0, "pclose");
	p = popen("echo out; exit 3", "r");
	CHECK(p != NULL && fgets(line, sizeof line, p) != NULL && strcmp(line, "out\n") == 0,
	      "the command's output");
	r = pclose(p);
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 3, "pclose: %#x", r);
	p = popen("kill -9 $$", "r");
	r = pclose(p);
	CHECK(WIFSIGNALED(r) && WTERMSIG(r) == SIGKILL, "pclose of a killed shell: %#x", r);
	p = popen("/nonexistent/command 2>/dev/null", "r");
	r = pclose(p);
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 127, "pclose of a missing command: %#x", r);
}

static void case_popen_write(void)
{
	char path[] = "/tmp/gs-popen-XXXXXX", cmd[64], buf[64] = "";
	FILE *p, *f;
	int fd, r;

	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	close(fd);
	snprintf(cmd, sizeof cmd, "cat > %s", path);
	p = popen(cmd, "w");
	CHECK(p != NULL, "popen: %s", strerror(errno));
	CHECK(fprintf(p, "hello %d\n", 42) > 0, "fprintf");
	CHECK(pclose(p) == 0, "pclose");
	f = fopen(path, "r");
	CHECK(f != NULL && fgets(buf, sizeof buf, f) != NULL, "read back");
	fclose(f);
	unlink(path);
	CHECK(strcmp(buf, "hello 42\n") == 0, "the command read %s", buf);
	p = popen("read x; exit $x", "w");
	CHECK(p != NULL && fputs("5\n", p) >= 0, "popen w");
	r = pclose(p);
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 5, "pclose: %#x", r);
}

/* Modes as glibc takes them; 'e' makes the stream's fd close-on-exec. */
static void case_popen_modes(void)
{
	static const char *bad[] = { "rw", "x", "", "wr", "r+" };
	static const char *good[] = { "r", "w", "re", "er", "we", "rr" };
	FILE *p;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		p = popen("true", bad[i]);
		CHECK(p == NULL && errno == EINVAL, "mode \"%s\": %p, %s", bad[i], (void *)p,
		      strerror(errno));
	}
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int flags;

		p = popen("true", good[i]);
		CHECK(p != NULL, "mode \"%s\": %s", good[i], strerror(errno));
		flags = fcntl(fileno(p), F_GETFD);
		CHECK((flags & FD_CLOEXEC) == (strchr(good[i], 'e') ? FD_CLOEXEC : 0),
		      "mode \"%s\": fd flags %#x", good[i], flags);
		CHECK(pclose(p) == 0, "pclose, mode \"%s\"", good[i]);
	}
}

/* POSIX: a popen child closes the streams of earlier popen calls that
 * are still open in the parent, so that their children see EOF. */
static void case_popen_closes_other_streams(void)
{
	char want[64], line[128];
	struct stat st;
	FILE *w, *r;
	bool leaked = false;
	int lines = 0;

	w = popen("cat >/dev/null", "w");
	CHECK(w != NULL && fstat(fileno(w), &st) == 0, "popen w");
	snprintf(want, sizeof want, "pipe:[%lu]\n", (unsigned long)st.st_ino);
	r = popen("for f in /proc/$$/fd/*; do readlink $f; done; true", "r");
	CHECK(r != NULL, "popen r");
	while (fgets(line, sizeof line, r) != NULL) {
		lines++;
		if (strcmp(line, want) == 0)
			leaked = true;
	}
	CHECK(lines >= 3, "the child listed %d fds", lines);
	CHECK(!leaked, "the second child holds the first stream's pipe");
	CHECK(pclose(r) == 0 && pclose(w) == 0, "pclose");
}

/* pclose lets the other threads run while the command runs. */
static void case_pclose_waits(void)
{
	pthread_t t = start_ticker();
	FILE *p;
	int before;

	p = popen("sleep 0.3", "r");
	CHECK(p != NULL, "popen: %s", strerror(errno));
	before = atomic_load(&ticks);
	CHECK(pclose(p) == 0, "pclose");
	CHECK(atomic_load(&ticks) - before >= 20, "ticks during pclose: %d",
	      atomic_load(&ticks) - before);
	p = popen("sleep 0.3; exit 4", "w");
	CHECK(p != NULL, "popen: %s", strerror(errno));
	before = atomic_load(&ticks);
	CHECK(WEXITSTATUS(pclose(p)) == 4, "pclose w");
	CHECK(atomic_load(&ticks) - before >= 20, "ticks during pclose: %d",
	      atomic_load(&ticks) - before);
	stop_ticker(t);
}

/* A child the program reaped itself: pclose fails with ECHILD. */
static void case_pclose_after_reap(void)
{
	FILE *p = popen("exit 0", "r");
	int status;

	CHECK(p != NULL, "popen");
	CHECK(wait(&status) > 0, "wait");
	errno = 0;
	CHECK(pclose(p) == -1 && errno == ECHILD, "pclose: %s", strerror(errno));
}

/* A tracer (strace, a debugger): the child stops at each traced event,
 * and every stop is reported to waitpid without WUNTRACED. The child
 * calls getppid TRACED_CALLS times between a SIGSTOP and its exit; the
 * tracer sees each call's entry and exit, then the exit status. Alone,
 * and with a ticker running beside the waits. */
#define TRACED_CALLS 10

static void trace_a_child(void)
{
	int st, stops = 0, getppids = 0;
	pid_t pid = fork();

	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
			_exit(100);
		kill(getpid(), SIGSTOP);
		for (int i = 0; i < TRACED_CALLS; i++)
			syscall(SYS_getppid);
		_exit(7);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP,
	      "first stop: %#x", st);
	CHECK(ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD) == 0,
	      "PTRACE_SETOPTIONS: %s", strerror(errno));
	for (;;) {
		struct user_regs_struct regs;

		CHECK(ptrace(PTRACE_SYSCALL, pid, NULL, NULL) == 0, "PTRACE_SYSCALL: %s",
		      strerror(errno));
		CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
		if (WIFEXITED(st))
			break;
		CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80), "stop %#x", st);
		stops++;
		CHECK(ptrace(PTRACE_GETREGS, pid, NULL, &regs) == 0, "PTRACE_GETREGS");
		getppids += regs.orig_rax == SYS_getppid;
	}
	CHECK(WEXITSTATUS(st) == 7, "exit status %d", WEXITSTATUS(st));
	CHECK(getppids == 2 * TRACED_CALLS, "%d stops in getppid (of %d), %d expected", getppids,
	      stops, 2 * TRACED_CALLS);
}

static void case_ptrace(void)
{
	pthread_t t;

	trace_a_child();
	t = start_ticker();
	trace_a_child();
	stop_ticker(t);
	CHECK(atomic_load(&ticks) > 0, "the ticker never ran");
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "fork_parked", case_fork_parked },
		{ "fork_from_thread", case_fork_from_thread },
		{ "fork_mutex", case_fork_mutex },
		{ "waits", case_waits },
		{ "two_waiters", case_two_waiters },
		{ "waits_keep_no_fd", case_waits_keep_no_fd },
		{ "wait_eintr", case_wait_eintr },
		{ "system", case_system },
		{ "popen_read", case_popen_read },
		{ "popen_write", case_popen_write },
		{ "popen_modes", case_popen_modes },
		{ "popen_closes_other_streams", case_popen_closes_other_streams },
		{ "pclose_waits", case_pclose_waits },
		{ "pclose_after_reap", case_pclose_after_reap },
		{ "ptrace", case_ptrace },
	};

	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
