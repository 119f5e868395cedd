/*
 * An ordinary threaded program (never linked to greenshim) that makes its
 * system calls with its own syscall instructions, as liburing, libgomp and
 * statically linked libraries do, past every libc wrapper. Each case waits
 * in such a call for something another thread does after it: if the call
 * held the OS thread, the other thread would never run and the case would
 * hang (the test's timeout says so). The output must be the native run's.
 *
 *   raw_syscalls pipe | futex | pingpong | poll | results | sigmask |
 *                sigaction | sigaltstack | fork | uring | uring_defer |
 *                uring_syscall | kernelwait | libc_syscall |
 *                sigaltstack_first
 *
 * sigaltstack_first runs before the program's second thread exists, as
 * Go's runtime sets up its first thread's signal stack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long raw3(long n, long a, long b, long c)
{
	return raw6(n, a, b, c, 0, 0, 0);
}

static void die(const char *what, long r)
{
	printf("%s: %ld\n", what, r);
	exit(1);
}

/* Raw nanosleep: the other thread gets to run meanwhile either way. */
static void nap_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000 };

	raw3(SYS_nanosleep, (long)&ts, 0, 0);
}

/* ---- pipe: a raw read waits for a write made after it began ---------- */

static int pfd[2];
static atomic_int reading;

static void *pipe_writer(void *arg)
{
	(void)arg;
	while (!atomic_load(&reading))
		sched_yield();
	nap_ms(20); /* the reader is in its read by now */
	if (raw3(SYS_write, pfd[1], (long)"hello", 5) != 5)
		die("write", -1);
	return NULL;
}

static void case_pipe(void)
{
	pthread_t t;
	char buf[16];
	long n;

	if (pipe(pfd) != 0)
		die("pipe", errno);
	pthread_create(&t, NULL, pipe_writer, NULL);
	atomic_store(&reading, 1);
	n = raw3(SYS_read, pfd[0], (long)buf, sizeof buf);
	printf("read %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
	pthread_join(t, NULL);
}

/* ---- futex: a raw wait woken by a raw wake --------------------------- */

static _Atomic uint32_t word;

static void *futex_waker(void *arg)
{
	(void)arg;
	nap_ms(20);
	atomic_store(&word, 1);
	printf("woken %ld\n", raw6(SYS_futex, (long)&word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0));
	return NULL;
}

static void case_futex(void)
{
	pthread_t t;
	long r;

	pthread_create(&t, NULL, futex_waker, NULL);
	while ((r = raw6(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0)) == 0 &&
	       atomic_load(&word) == 0)
		;
	pthread_join(t, NULL); /* "woken" is printed before "waited" */
	printf("waited %s word %u\n", r == 0 || r == -EAGAIN ? "ok" : "FAILED",
	       (unsigned)atomic_load(&word));
	/* A wait on a word that differs: -EAGAIN at once. */
	printf("stale %ld\n", raw6(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0));
}

/* ---- pingpong: 1000 round trips over a socketpair, raw read/write ------ */

static int sv[2];

static void *ponger(void *arg)
{
	char c;

	(void)arg;
	for (int i = 0; i < 1000; i++) {
		if (raw3(SYS_read, sv[1], (long)&c, 1) != 1)
			die("pong read", i);
		c++;
		if (raw3(SYS_write, sv[1], (long)&c, 1) != 1)
			die("pong write", i);
	}
	return NULL;
}

static void case_pingpong(void)
{
	pthread_t t;
	unsigned char c = 0;
	long sum = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair", errno);
	pthread_create(&t, NULL, ponger, NULL);
	for (int i = 0; i < 1000; i++) {
		c = (unsigned char)i;
		if (raw3(SYS_write, sv[0], (long)&c, 1) != 1 || raw3(SYS_read, sv[0], (long)&c, 1) != 1)
			die("ping", i);
		sum += c;
	}
	pthread_join(t, NULL);
	printf("pingpong 1000 sum %ld\n", sum);
}

/* ---- poll: a raw poll waits for another thread's write -------------------- */

static void case_poll(void)
{
	struct pollfd p;
	pthread_t t;
	long r;

	if (pipe(pfd) != 0)
		die("pipe", errno);
	/* Nothing to read yet: a zero timeout says 0. */
	p.fd = pfd[0];
	p.events = POLLIN;
	p.revents = 0;
	printf("poll now %ld\n", raw3(SYS_poll, (long)&p, 1, 0));
	atomic_store(&reading, 1);
	pthread_create(&t, NULL, pipe_writer, NULL);
	r = raw3(SYS_poll, (long)&p, 1, 10000);
	printf("poll %ld revents %#x\n", r, p.revents);
	pthread_join(t, NULL);
}

/* ---- results: values and errors as the kernel gives them ---------------- */

static void case_results(void)
{
	char c;
	int fds[2];

	printf("getpid same %d\n", raw3(SYS_getpid, 0, 0, 0) == getpid());
	printf("gettid same %d\n", raw3(SYS_gettid, 0, 0, 0) == gettid());
	printf("read bad fd %ld\n", raw3(SYS_read, 1000, (long)&c, 1));
	printf("write bad fd %ld\n", raw3(SYS_write, -1, (long)&c, 1));
	printf("unknown call %ld\n", raw3(100000, 0, 0, 0));
	if (pipe(fds) != 0)
		die("pipe", errno);
	printf("close %ld\n", raw3(SYS_close, fds[1], 0, 0));
	printf("close again %ld\n", raw3(SYS_close, fds[1], 0, 0));
	/* The write end is gone: end of file, not a wait. */
	printf("read eof %ld\n", raw3(SYS_read, fds[0], (long)&c, 1));
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	printf("dup2 %ld\n", raw3(SYS_dup2, fds[0], 100, 0));
	printf("flags %ld\n", raw3(SYS_fcntl, 100, F_GETFL, 0) & O_NONBLOCK ? 1L : 0L);
	/* The flushes, with the kernel's argument order. */
	printf("syncfs %ld, bad fd %ld\n", raw3(SYS_syncfs, fds[0], 0, 0),
	       raw3(SYS_syncfs, 1000, 0, 0));
	printf("sync %ld\n", raw3(SYS_sync, 0, 0, 0));
	printf("sync_file_range of a pipe %ld, an unknown flag %ld\n",
	       raw6(SYS_sync_file_range, fds[0], 0, 0, SYNC_FILE_RANGE_WRITE, 0, 0),
	       raw6(SYS_sync_file_range, fds[0], 0, 0, 0x100, 0, 0));
	printf("msync unaligned %ld\n", raw3(SYS_msync, (long)&c | 1, 1, MS_SYNC));
	close(fds[0]);
	close(100);
}

/* ---- sigmask: a raw rt_sigprocmask is the thread's own mask --------------- */

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static void case_sigmask(void)
{
	uint64_t set = 1ULL << (SIGUSR1 - 1), old = 0;
	sigset_t now;

	signal(SIGUSR1, on_usr1);
	printf("block %ld\n", raw6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, (long)&old, 8, 0, 0));
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	printf("blocked %d was %d\n", sigismember(&now, SIGUSR1), (int)(old & set ? 1 : 0));
	pthread_kill(pthread_self(), SIGUSR1);
	printf("got while blocked %d\n", (int)got);
	printf("unblock %ld\n", raw6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, 8, 0, 0));
	printf("got after unblock %d\n", (int)got);
	printf("bad size %ld\n", raw6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 4, 0, 0));
	/* SIGSYS blocked by the program: the mask it reads back says so. */
	set = 1ULL << (SIGSYS - 1);
	raw6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 8, 0, 0);
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	printf("sigsys blocked %d getppid ok %d\n", sigismember(&now, SIGSYS),
	       raw3(SYS_getppid, 0, 0, 0) == getppid());
	raw6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, 8, 0, 0);
}

/* ---- sigaction: a raw rt_sigaction, and SIGSYS for the program ------------ */

struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static volatile sig_atomic_t got_sys;

static void on_sys(int sig)
{
	(void)sig;
	got_sys++;
}

static void case_sigaction(void)
{
	struct ksigaction k = { 0 }, old = { 0 };
	struct sigaction sa;

	/* Read back what libc installed, through the raw call. */
	long r;

	signal(SIGUSR2, on_usr1);
	r = raw6(SYS_rt_sigaction, SIGUSR2, 0, (long)&old, 8, 0, 0);
	printf("raw read %ld handler ours %d\n", r, old.handler == (void *)on_usr1);
	/* SIG_IGN installed raw, read back through libc. */
	k.handler = SIG_IGN;
	printf("raw set %ld\n", raw6(SYS_rt_sigaction, SIGUSR2, (long)&k, 0, 8, 0, 0));
	sigaction(SIGUSR2, NULL, &sa);
	printf("ignored %d\n", sa.sa_handler == SIG_IGN);
	raise(SIGUSR2);
	/* The program's own SIGSYS handler gets a SIGSYS sent to it. */
	signal(SIGSYS, on_sys);
	raise(SIGSYS);
	printf("sigsys handled %d\n", (int)got_sys);
	sigaction(SIGSYS, NULL, &sa);
	printf("sigsys handler ours %d\n", sa.sa_handler == on_sys);
	signal(SIGSYS, SIG_DFL);
}

/* ---- sigaltstack: raw, per thread, read back raw and through libc -------- */

static char main_alt[65536], thread_alt[65536];

static void print_altstack(const char *who, const char *how, const stack_t *ss)
{
	printf("%s %s: %s size %zu flags %d\n", who, how,
	       ss->ss_sp == main_alt ? "main's" : ss->ss_sp == thread_alt ? "the thread's" : "other",
	       ss->ss_size, ss->ss_flags);
}

static void *sets_its_own(void *arg)
{
	stack_t ss = { .ss_sp = thread_alt, .ss_size = sizeof thread_alt }, now;

	(void)arg;
	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("thread", "at start", &now);
	printf("thread set %ld\n", raw6(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0));
	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("thread", "raw", &now);
	return NULL;
}

static void case_sigaltstack(void)
{
	stack_t ss = { .ss_sp = main_alt, .ss_size = sizeof main_alt }, now;
	pthread_t t;

	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("main", "at start", &now);
	printf("main set %ld\n", raw6(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0));
	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("main", "raw", &now);
	sigaltstack(NULL, &now);
	print_altstack("main", "libc", &now);
	ss.ss_size = 100; /* under MINSIGSTKSZ */
	printf("main too small %ld\n", raw6(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0));
	pthread_create(&t, NULL, sets_its_own, NULL);
	pthread_join(t, NULL);
	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("main", "after the thread", &now);
}

/* ---- sigaltstack_first: Go's first thread, before any other ------------- */

static volatile sig_atomic_t first_on_main_alt = -1;

static void on_usr1_first(int sig)
{
	char here;

	(void)sig;
	first_on_main_alt = &here >= main_alt && &here < main_alt + sizeof main_alt;
}

static void *returns_at_once(void *arg)
{
	return arg;
}

/* Asks the kernel, by its own syscall instruction, for the thread's
 * alternate stack; keeps one it finds (Go's runtime does, built with cgo),
 * else sets its own. Then a second thread, and an SA_ONSTACK handler that
 * must run on that stack. */
static void case_sigaltstack_first(void)
{
	stack_t ss = { .ss_sp = main_alt, .ss_size = sizeof main_alt }, now;
	struct sigaction sa = { .sa_handler = on_usr1_first, .sa_flags = SA_ONSTACK };
	pthread_t t;

	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("first", "at start", &now);
	if (now.ss_flags & SS_DISABLE)
		printf("first set %ld\n", raw6(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0));
	else
		printf("first kept it\n");
	pthread_create(&t, NULL, returns_at_once, NULL);
	pthread_join(t, NULL);
	raw6(SYS_sigaltstack, 0, (long)&now, 0, 0, 0, 0);
	print_altstack("first", "after a thread", &now);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("first handler on main's %d\n", (int)first_on_main_alt);
}

/* ---- fork: a raw fork and a raw wait4 for the child ----------------------- */

static void case_fork(void)
{
	int status = 0;
	long pid;

	fflush(stdout);
	pid = raw3(SYS_fork, 0, 0, 0);
	if (pid == 0) {
		raw3(SYS_write, 1, (long)"child\n", 6);
		raw3(SYS_exit_group, 7, 0, 0);
	}
	if (pid < 0)
		die("fork", pid);
	printf("waited same %d\n", raw6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0) == pid);
	printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* ---- uring: liburing's own io_uring_enter, waiting ------------------------
 * uring: a plain ring; uring_defer: one set up with IORING_SETUP_SINGLE_ISSUER
 * and IORING_SETUP_DEFER_TASKRUN (fio's), whose completions the kernel posts
 * only inside the waiting thread's own io_uring_enter; uring_syscall: that
 * ring, the wait made through libc's syscall() (not a raw instruction). */

static void uring_wait_case(unsigned setup_flags, bool through_libc)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring_params params;
	struct __kernel_timespec ts = { 0, 50 * 1000000 };
	pthread_t t;
	char buf[16];
	int r;

	memset(&params, 0, sizeof params);
	params.flags = setup_flags;
	if ((r = io_uring_queue_init_params(8, &ring, &params)) < 0) {
		printf("uring unavailable %d\n", r);
		return;
	}
	if (pipe(pfd) != 0)
		die("pipe", errno);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, pfd[0], buf, sizeof buf, 0);
	/* Nothing comes in 50 ms: -ETIME from the kernel's timeout. */
	r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
	printf("timeout %d\n", r);
	/* The write comes after the wait began: liburing's io_uring_enter
	 * (exported by liburing 2.3, a raw system call) waits for it. */
	atomic_store(&reading, 1);
	pthread_create(&t, NULL, pipe_writer, NULL);
	if (through_libc)
		r = (int)syscall(SYS_io_uring_enter, ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	else
		r = io_uring_enter(ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS, NULL);
	printf("enter %d ready %u\n", r, io_uring_cq_ready(&ring));
	if (io_uring_peek_cqe(&ring, &cqe) == 0) {
		printf("res %d \"%.*s\"\n", cqe->res, cqe->res > 0 ? cqe->res : 0, buf);
		io_uring_cqe_seen(&ring, cqe);
	}
	pthread_join(t, NULL);
	io_uring_queue_exit(&ring);
}

static void case_uring(void)
{
	uring_wait_case(0, false);
}

static void case_uring_defer(void)
{
	uring_wait_case(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, false);
}

static void case_uring_syscall(void)
{
	uring_wait_case(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, true);
}

/* ---- libc_syscall: waits through libc's syscall() function --------------
 * Four threads each sleep 30 ms and poll their own pipe for 30 ms, which
 * nothing ends early (0 each, not EINTR), then read it, all through
 * syscall(); main writes to every pipe after 100 ms, while a fifth thread
 * computes. libc's syscall() would wait in the kernel, holding the hub's
 * OS thread: with the readers spread over every hub, main never runs to
 * write (the library before 2026-12-07 hung here). */

enum { LIBC_READERS = 4 };
static int libc_pipes[LIBC_READERS][2];
static atomic_bool libc_done;

static void *libc_reader(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct timespec ts = { 0, 30 * 1000000 };
	struct pollfd p = { .fd = libc_pipes[i][0], .events = POLLIN };
	long slept, polled, n;
	char buf[8];

	slept = syscall(SYS_nanosleep, &ts, NULL);
	polled = syscall(SYS_poll, &p, 1, 30);
	n = syscall(SYS_read, libc_pipes[i][0], buf, sizeof buf);
	printf("reader %d: sleep %ld poll %ld read %ld \"%.*s\"\n", i, slept, polled, n,
	       (int)(n > 0 ? n : 0), buf);
	return NULL;
}

static void *libc_spinner(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	while (!atomic_load(&libc_done))
		x++;
	return NULL;
}

static void case_libc_syscall(void)
{
	pthread_t t[LIBC_READERS], spin;
	struct timespec ts = { 0, 100 * 1000000 };
	long r;

	setvbuf(stdout, NULL, _IOFBF, 4096); /* printed at the end, in order */
	for (int i = 0; i < LIBC_READERS; i++)
		if (pipe(libc_pipes[i]) != 0)
			die("pipe", errno);
	pthread_create(&spin, NULL, libc_spinner, NULL);
	for (int i = 0; i < LIBC_READERS; i++)
		pthread_create(&t[i], NULL, libc_reader, (void *)(intptr_t)i);
	nanosleep(&ts, NULL);
	for (int i = 0; i < LIBC_READERS; i++) {
		char c = (char)('a' + i);

		if (write(libc_pipes[i][1], &c, 1) != 1)
			die("write", errno);
		pthread_join(t[i], NULL);
	}
	atomic_store(&libc_done, true);
	pthread_join(spin, NULL);
	errno = 0;
	r = syscall(100000);
	printf("an unknown number through syscall(): %ld errno %d\n", r, errno);
}

static int idle_fds[2];

/* A second thread for the whole run, waiting for ever: under greenshim,
 * raw calls are caught once a program has more than one thread. */
static void *idle(void *arg)
{
	char c;

	(void)!read(*(int *)arg, &c, 1);
	return NULL;
}

/* ---- kernelwait: a raw read that lasts 600 ms ----------------------------- */

static void *late_writer(void *arg)
{
	(void)arg;
	usleep(600 * 1000);
	if (write(pfd[1], "late", 4) != 4)
		die("write", errno);
	return NULL;
}

/* Not inlined: the blocking monitor's report names it. */
__attribute__((noinline)) static long kernelwait_read(char *buf, size_t n)
{
	return raw3(SYS_read, pfd[0], (long)buf, (long)n);
}

static void case_kernelwait(void)
{
	pthread_t t;
	char buf[16];
	long n;

	if (pipe(pfd) != 0)
		die("pipe", errno);
	pthread_create(&t, NULL, late_writer, NULL);
	n = kernelwait_read(buf, sizeof buf);
	printf("read %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
	pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	pthread_t t;

	static const struct {
		const char *name;
		void (*run)(void);
	} cases[] = { { "pipe", case_pipe },       { "futex", case_futex },
		      { "pingpong", case_pingpong }, { "poll", case_poll },
		      { "results", case_results }, { "sigmask", case_sigmask },
		      { "sigaction", case_sigaction }, { "sigaltstack", case_sigaltstack },
		      { "fork", case_fork },
		      { "uring", case_uring },       { "uring_defer", case_uring_defer },
		      { "uring_syscall", case_uring_syscall }, { "kernelwait", case_kernelwait },
		      { "libc_syscall", case_libc_syscall } };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "sigaltstack_first") == 0) {
		case_sigaltstack_first();
		return 0;
	}
	/* The idle thread's pipe is made here, before any case's: made by
	 * that thread, it took its descriptors while a case made and closed
	 * its own, and natively "close again" found one of them once in a
	 * while (the case's numbers are compared with native's). */
	if (pipe(idle_fds) != 0)
		die("pipe", errno);
	pthread_create(&t, NULL, idle, &idle_fds[0]);
	for (size_t i = 0; argc > 1 && i < sizeof cases / sizeof cases[0]; i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].run();
			return 0;
		}
	}
	fprintf(stderr, "usage: raw_syscalls CASE\n");
	return 2;
}
