/*
 * An ordinary threaded program (pthreads, blocking calls) that checks what
 * its I/O calls return. tests/preload/run.sh runs each case natively and
 * under LD_PRELOAD=libgreenshim.so: both runs must print the same "ok"
 * lines, which is the point: greenshim changes who waits, not what the
 * calls return. A ticker thread counts 2 ms sleeps meanwhile, so a case
 * also shows that the other threads ran while one waited.
 *
 * Usage: io_semantics CASE   (cases: see main)
 * Prints "ok CASE" or "FAIL CASE: why" and exits 0 or 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "case.h"

static volatile int ticks;
static volatile int stop_ticker;

static void *ticker(void *arg)
{
	(void)arg;
	while (!stop_ticker) {
		usleep(2000);
		ticks++;
	}
	return NULL;
}

/* A wait of about 50 ms ends on time and lets the ticker run. */
static void check_timed(const char *what, double t0, int before)
{
	double ms = now_ms() - t0;

	CHECK(ms >= 49.5 && ms < 80, "%s took %.2f ms, want 50", what, ms);
	CHECK(ticks - before >= 5, "%s: the ticker ran %d times meanwhile", what, ticks - before);
}

static void case_timeouts(void)
{
	int p[2], ep, before;
	struct pollfd pf;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct timespec ts = { 0, 50 * 1000000 };
	struct timeval tv = { 0, 50000 };
	fd_set rd;
	double t0;

	CHECK(pipe(p) == 0, "pipe");
	pf = (struct pollfd){ .fd = p[0], .events = POLLIN };

	before = ticks, t0 = now_ms();
	CHECK(poll(&pf, 1, 50) == 0 && pf.revents == 0, "poll on an empty pipe");
	check_timed("poll", t0, before);

	before = ticks, t0 = now_ms();
	CHECK(ppoll(&pf, 1, &ts, NULL) == 0, "ppoll");
	check_timed("ppoll", t0, before);

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	before = ticks, t0 = now_ms();
	CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 0, "select");
	check_timed("select", t0, before);
	CHECK(!FD_ISSET(p[0], &rd), "select left the fd in the set");
	CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "select's timeval: %ld.%06ld left",
	      (long)tv.tv_sec, (long)tv.tv_usec);

	FD_SET(p[0], &rd);
	before = ticks, t0 = now_ms();
	CHECK(pselect(p[0] + 1, &rd, NULL, NULL, &ts, NULL) == 0, "pselect");
	check_timed("pselect", t0, before);

	ep = epoll_create1(0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl");
	before = ticks, t0 = now_ms();
	CHECK(epoll_wait(ep, &out, 1, 50) == 0, "epoll_wait");
	check_timed("epoll_wait", t0, before);
	before = ticks, t0 = now_ms();
	CHECK(epoll_pwait2(ep, &out, 1, &ts, NULL) == 0, "epoll_pwait2");
	check_timed("epoll_pwait2", t0, before);

	/* Ready before the timeout: the exact answer, at once. */
	CHECK(write(p[1], "x", 1) == 1, "write");
	t0 = now_ms();
	CHECK(poll(&pf, 1, 1000) == 1 && pf.revents == POLLIN, "poll on a ready pipe: %#x", pf.revents);
	CHECK(epoll_wait(ep, &out, 1, 1000) == 1 && out.events == EPOLLIN, "epoll_wait ready");
	FD_SET(p[0], &rd);
	tv = (struct timeval){ 1, 0 };
	CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(p[0], &rd), "select ready");
	CHECK(now_ms() - t0 < 50, "ready fds took %.1f ms", now_ms() - t0);

	/* Errors as native: a closed fd. */
	close(p[1]);
	close(p[0]);
	pf.revents = 0;
	CHECK(poll(&pf, 1, 10) == 1 && pf.revents == POLLNVAL, "poll on a closed fd: %#x", pf.revents);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){ 0, 10000 };
	CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == -1 && errno == EBADF, "select on a closed fd");
}

/* Under greenshim only, without preemption (run.sh): natively the ticker
 * runs in parallel anyway. A zero timeout must never let another green
 * thread in. */
static void case_zero_timeout(void)
{
	struct pollfd pf;
	struct timeval tv = { 0, 0 };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	fd_set rd;
	int p[2], ep, before;

	CHECK(pipe(p) == 0, "pipe");
	pf = (struct pollfd){ .fd = p[0], .events = POLLIN };
	ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	usleep(5000); /* the ticker is asleep now, due in 2 ms */
	before = ticks;
	for (double t0 = now_ms(); now_ms() - t0 < 10;) {
		FD_ZERO(&rd);
		FD_SET(p[0], &rd);
		CHECK(poll(&pf, 1, 0) == 0, "poll(0)");
		CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 0, "select(0)");
		CHECK(epoll_wait(ep, &out, 1, 0) == 0, "epoll_wait(0)");
	}
	CHECK(ticks == before, "zero timeouts let the ticker run %d times", ticks - before);
}

static void case_rcvtimeo(void)
{
	int sv[2], before;
	struct timeval tv = { 0, 50000 };
	char c;
	double t0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
	before = ticks, t0 = now_ms();
	CHECK(recv(sv[0], &c, 1, 0) == -1 && errno == EAGAIN, "recv: errno %d", errno);
	check_timed("recv with SO_RCVTIMEO", t0, before);
	before = ticks, t0 = now_ms();
	CHECK(read(sv[0], &c, 1) == -1 && errno == EWOULDBLOCK, "read: errno %d", errno);
	check_timed("read with SO_RCVTIMEO", t0, before);
	/* Data within the timeout is returned. */
	CHECK(write(sv[1], "y", 1) == 1, "write");
	CHECK(read(sv[0], &c, 1) == 1 && c == 'y', "read after write");
}

static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was just free: bound, then closed without listen. */
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	return ntohs(sa.sin_port);
}

static void case_connect_refused(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct pollfd pf;
	int fd, err = 0;
	socklen_t len = sizeof err;

	sa.sin_port = htons((uint16_t)closed_port());
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno == ECONNREFUSED,
	      "blocking connect: errno %d", errno);
	close(fd);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno == EINPROGRESS,
	      "non-blocking connect: errno %d", errno);
	pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
	CHECK(poll(&pf, 1, 1000) == 1 && (pf.revents & POLLOUT) && (pf.revents & POLLERR),
	      "poll after connect: %#x", pf.revents);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNREFUSED,
	      "SO_ERROR %d", err);
	close(fd);
}

static int blocked_fd;
static int blocked_result, blocked_errno;

static void *read_blocked(void *arg)
{
	char c;

	(void)arg;
	blocked_result = (int)read(blocked_fd, &c, 1);
	blocked_errno = errno;
	return NULL;
}

static void case_close_wakes(void)
{
	pthread_t t;
	int sv[2], p[2];
	char c;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	blocked_fd = sv[0];
	pthread_create(&t, NULL, read_blocked, NULL);
	usleep(20000);
	close(sv[0]);
	pthread_join(t, NULL);
	CHECK(blocked_result == -1 && blocked_errno == EBADF, "read after close: %d, errno %d",
	      blocked_result, blocked_errno);
	/* The number comes back for a pipe: no stale readiness from sv. */
	CHECK(pipe(p) == 0 && p[0] == sv[0], "pipe got %d, not %d", p[0], sv[0]);
	CHECK(write(sv[1], "s", 1) == -1, "write to the closed pair");
	CHECK(write(p[1], "p", 1) == 1, "write to the pipe");
	CHECK(read(p[0], &c, 1) == 1 && c == 'p', "read from the pipe");
}

static int polled_result;
static short polled_revents;

static void *poll_blocked(void *arg)
{
	struct pollfd pf = { .fd = blocked_fd, .events = POLLIN };

	(void)arg;
	polled_result = poll(&pf, 1, -1);
	blocked_errno = errno;
	polled_revents = pf.revents;
	return NULL;
}

/* poll never fails with EBADF (poll(2)): an fd closed while a thread polls
 * it is POLLNVAL once the poll looks again (natively when the old file
 * wakes it, here at once). */
static void case_poll_closed_nval(void)
{
	pthread_t t;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	blocked_fd = sv[0];
	pthread_create(&t, NULL, poll_blocked, NULL);
	usleep(20000);
	close(sv[0]);
	usleep(20000);
	(void)!write(sv[1], "x", 1);
	pthread_join(t, NULL);
	CHECK(polled_result == 1 && polled_revents == POLLNVAL, "poll after close: %d, errno %d, revents %#x",
	      polled_result, blocked_errno, polled_revents);
	close(sv[1]);
}

static void case_nonblock_view(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1, off = 0, sv[2];
	char c;

	CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "a new socket looks non-blocking");
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0, "F_SETFL");
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK not shown after F_SETFL");
	CHECK(ioctl(fd, FIONBIO, &off) == 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK), "FIONBIO 0");
	CHECK(ioctl(fd, FIONBIO, &on) == 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "FIONBIO 1");
	close(fd);
	/* A program that asked for O_NONBLOCK gets EAGAIN, at once. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0, "F_SETFL");
	CHECK(read(sv[0], &c, 1) == -1 && errno == EAGAIN, "read: errno %d", errno);
	CHECK(recv(sv[0], &c, 1, 0) == -1 && errno == EAGAIN, "recv: errno %d", errno);
	CHECK(recv(sv[1], &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN, "MSG_DONTWAIT: errno %d", errno);
}

/* The kernel's own flags of fd 0, whatever a wrapper shows. */
static int real_flags(int fd)
{
	char path[64], line[128];
	FILE *f;
	int flags = -1;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "flags: %o", &flags) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return flags;
}

static int lines_read;

static void *read_stdin(void *arg)
{
	char buf[256];
	ssize_t n;

	(void)arg;
	while ((n = read(0, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines_read += buf[i] == '\n';
	return NULL;
}

static void case_stdin_pipe(void)
{
	pthread_t t;
	int before = ticks;
	double t0 = now_ms();

	pthread_create(&t, NULL, read_stdin, NULL);
	pthread_join(t, NULL);
	CHECK(lines_read == 5, "read %d lines of 5", lines_read);
	/* run.sh writes a line every 20 ms: the ticker ran meanwhile. */
	CHECK(now_ms() - t0 < 60 || ticks - before >= 10, "ticker ran %d times in %.0f ms",
	      ticks - before, now_ms() - t0);
	CHECK(!(real_flags(0) & O_NONBLOCK), "stdin was made non-blocking");
}

static int listen_fd, served;

static void *accept_one(void *arg)
{
	int fd = accept(listen_fd, NULL, NULL);
	char c;

	(void)arg;
	if (fd >= 0 && read(fd, &c, 1) == 1 && write(fd, &c, 1) == 1)
		served++;
	close(fd);
	return NULL;
}

static void case_accepters(void)
{
	enum { N = 50 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	pthread_t t[N];
	int c[N];

	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(listen_fd, 128) == 0 &&
		      getsockname(listen_fd, (struct sockaddr *)&sa, &len) == 0,
	      "listen");
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, accept_one, NULL);
	usleep(10000); /* all of them blocked in accept() */
	for (int i = 0; i < N; i++) {
		char ch = (char)('a' + i % 26), back = 0;

		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(connect(c[i], (struct sockaddr *)&sa, sizeof sa) == 0, "connect %d", i);
		CHECK(write(c[i], &ch, 1) == 1 && read(c[i], &back, 1) == 1 && back == ch,
		      "echo %d", i);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	CHECK(served == N, "%d of %d served", served, N);
}

static int drain_fd;
static size_t drained;

static void *slow_reader(void *arg)
{
	char buf[65536];
	ssize_t n;

	(void)arg;
	usleep(20000);
	while ((n = read(drain_fd, buf, sizeof buf)) > 0) {
		drained += (size_t)n;
		usleep(100);
	}
	return NULL;
}

static void case_big_write(void)
{
	enum { SIZE = 4 << 20 };
	char *buf = malloc(SIZE);
	int sv[2], p[2];
	pthread_t t;

	memset(buf, 'w', SIZE);
	/* A blocking write to a stream writes all of it, however slowly the
	 * other end reads: socket, then pipe. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	drain_fd = sv[1];
	drained = 0;
	pthread_create(&t, NULL, slow_reader, NULL);
	CHECK(write(sv[0], buf, SIZE) == SIZE, "socket write was partial");
	close(sv[0]);
	pthread_join(t, NULL);
	CHECK(drained == SIZE, "socket: read %zu of %d", drained, SIZE);

	CHECK(pipe(p) == 0, "pipe");
	drain_fd = p[0];
	drained = 0;
	pthread_create(&t, NULL, slow_reader, NULL);
	CHECK(write(p[1], buf, SIZE) == SIZE, "pipe write was partial");
	close(p[1]);
	pthread_join(t, NULL);
	CHECK(drained == SIZE, "pipe: read %zu of %d", drained, SIZE);
	free(buf);
}

static void *sleep_50ms(void *arg)
{
	struct timespec ts = { 0, 50 * 1000000 };

	switch ((int)(intptr_t)arg % 4) {
	case 0:
		nanosleep(&ts, NULL);
		break;
	case 1:
		usleep(50000);
		break;
	case 2:
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		break;
	default:
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
	}
	return NULL;
}

static void case_sleeps(void)
{
	enum { N = 100 };
	pthread_t t[N];
	double t0 = now_ms(), ms;

	/* A hundred threads sleeping 50 ms at once overlap: in sequence they
	 * would take 5 s. The bound leaves room for a loaded, shared machine
	 * (the time itself is the benchmarks' business, not a test's). */
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, sleep_50ms, (void *)(intptr_t)i);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	ms = now_ms() - t0;
	CHECK(ms >= 49.5 && ms < 2500, "took %.1f ms", ms);
	t0 = now_ms();
	CHECK(sleep(0) == 0 && usleep(0) == 0, "zero sleeps");
	CHECK(now_ms() - t0 < 40, "zero sleeps took %.1f ms", now_ms() - t0);
	CHECK(nanosleep(&(struct timespec){ 0, 1000000000 }, NULL) == -1 && errno == EINVAL,
	      "nanosleep with tv_nsec = 1e9");
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){ -1, 0 }, NULL) == EINVAL,
	      "clock_nanosleep with a negative time");
}

static volatile int handled;
static pthread_t main_thread;
static int eintr_sv[2];

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void set_handler(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* Signals main after 20 ms; with arg, writes a byte to main after 40 ms. */
static void *kick_main(void *arg)
{
	usleep(20000);
	pthread_kill(main_thread, SIGUSR1);
	if (arg != NULL) {
		usleep(20000);
		if (write(eintr_sv[1], "z", 1) != 1)
			return (void *)1;
	}
	return NULL;
}

static int helper_result, helper_errno;

static void *sleep_half_a_second(void *arg)
{
	struct timespec ts = { 0, 500 * 1000000 };

	(void)arg;
	helper_result = nanosleep(&ts, NULL);
	helper_errno = errno;
	return NULL;
}

static void *kill_process(void *arg)
{
	(void)arg;
	usleep(20000);
	kill(getpid(), SIGUSR1);
	return NULL;
}

static void case_eintr(void)
{
	struct pollfd pf;
	struct timespec ts = { 1, 0 }, rem = { 0, 0 };
	struct sigaction old;
	pthread_t t;
	char c = 0;
	int r, lfd;

	main_thread = pthread_self();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, eintr_sv) == 0, "socketpair");

	/* No SA_RESTART: the blocked read fails with EINTR. */
	set_handler(0);
	pthread_create(&t, NULL, kick_main, NULL);
	r = (int)read(eintr_sv[0], &c, 1);
	CHECK(r == -1 && errno == EINTR && handled == 1, "read: %d, errno %d, handled %d", r, errno,
	      handled);
	pthread_join(t, NULL);

	/* SA_RESTART: the read goes on and gets the byte written later. */
	set_handler(SA_RESTART);
	CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == on_usr1 &&
		      (old.sa_flags & SA_RESTART) && !(old.sa_flags & SA_SIGINFO),
	      "sigaction shows another disposition than the program's");
	pthread_create(&t, NULL, kick_main, (void *)1);
	r = (int)read(eintr_sv[0], &c, 1);
	CHECK(r == 1 && c == 'z' && handled == 2, "restarted read: %d, handled %d", r, handled);
	pthread_join(t, NULL);

	/* poll and nanosleep fail with EINTR even with SA_RESTART. */
	pthread_create(&t, NULL, kick_main, NULL);
	pf = (struct pollfd){ .fd = eintr_sv[0], .events = POLLIN };
	r = poll(&pf, 1, 2000);
	CHECK(r == -1 && errno == EINTR && handled == 3, "poll: %d, errno %d", r, errno);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, kick_main, NULL);
	r = nanosleep(&ts, &rem);
	CHECK(r == -1 && errno == EINTR && handled == 4, "nanosleep: %d, errno %d", r, errno);
	CHECK(rem.tv_sec == 0 && rem.tv_nsec > 500 * 1000000, "nanosleep left %ld.%09ld s",
	      (long)rem.tv_sec, rem.tv_nsec);
	pthread_join(t, NULL);

	/* A signal for another thread interrupts that thread, not us. */
	pthread_create(&t, NULL, sleep_half_a_second, NULL);
	usleep(20000);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	CHECK(helper_result == -1 && helper_errno == EINTR && handled == 5,
	      "the other thread's sleep: %d, errno %d", helper_result, helper_errno);

	/* A signal for the process goes to the main thread: accept fails. */
	set_handler(0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(listen(lfd, 1) == 0, "listen");
	pthread_create(&t, NULL, kill_process, NULL);
	r = accept(lfd, NULL, NULL);
	CHECK(r == -1 && errno == EINTR && handled == 6, "accept: %d, errno %d", r, errno);
	pthread_join(t, NULL);

	/* SIG_IGN: nothing is interrupted. */
	signal(SIGUSR1, SIG_IGN);
	pthread_create(&t, NULL, kick_main, (void *)1);
	r = (int)read(eintr_sv[0], &c, 1);
	CHECK(r == 1 && handled == 6, "read with SIGUSR1 ignored: %d", r);
	pthread_join(t, NULL);
	CHECK(signal(SIGUSR1, SIG_DFL) == SIG_IGN, "signal() returned another old handler");
}

/* A thread that computes for 300 ms without waiting does not keep the
 * ticker from its 2 ms sleeps (natively the kernel preempts it; under
 * greenshim, src/preempt.c). */
static volatile unsigned long spin_sink;

static void case_cpu_bound(void)
{
	int before = ticks;
	double t0 = now_ms();

	while (now_ms() - t0 < 300)
		for (int i = 0; i < 10000; i++)
			spin_sink += (unsigned long)i;
	CHECK(ticks - before >= 10, "the ticker ran %d times in 300 ms of computing",
	      ticks - before);
}

/* Two threads hand a token back and forth 20,000 times through each kind
 * of descriptor a program signals its own threads with: two pipes, a
 * socketpair, two eventfds (the shape of a dispatcher and its workers).
 * Every token arrives, in order; no read waits for ever (an eventfd read
 * once blocked its OS thread when the preemption tick interrupted the
 * zero-timeout poll before it). */
#define HANDOFFS 20000
static int h_out[2], h_in[2]; /* the first thread writes h_out[1], reads h_in[0] */
static size_t h_unit;

static void *handoff_echo(void *arg)
{
	(void)arg;
	for (uint64_t i = 1; i <= HANDOFFS; i++) {
		uint64_t v = 0;

		CHECK(read(h_out[0], &v, h_unit) == (ssize_t)h_unit, "echo read: %s", strerror(errno));
		CHECK(h_unit == 1 ? v == (i & 0xff) : v == i, "token %lu: got %lu", (unsigned long)i,
		      (unsigned long)v);
		CHECK(write(h_in[1], &v, h_unit) == (ssize_t)h_unit, "echo write: %s", strerror(errno));
	}
	return NULL;
}

static void handoffs_through(const char *what)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, handoff_echo, NULL) == 0, "create");
	for (uint64_t i = 1; i <= HANDOFFS; i++) {
		uint64_t v = h_unit == 1 ? (i & 0xff) : i, back = 0;

		CHECK(write(h_out[1], &v, h_unit) == (ssize_t)h_unit, "%s write: %s", what,
		      strerror(errno));
		CHECK(read(h_in[0], &back, h_unit) == (ssize_t)h_unit && back == v,
		      "%s: token %lu came back as %lu", what, (unsigned long)v, (unsigned long)back);
	}
	CHECK(pthread_join(t, NULL) == 0, "join");
}

static void case_handoffs(void)
{
	int sv[2];

	h_unit = 1;
	CHECK(pipe(h_out) == 0 && pipe(h_in) == 0, "pipes");
	handoffs_through("pipes");
	close(h_out[0]);
	close(h_out[1]);
	close(h_in[0]);
	close(h_in[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	h_out[0] = h_in[1] = sv[1];
	h_out[1] = h_in[0] = sv[0];
	handoffs_through("socketpair");
	close(sv[0]);
	close(sv[1]);
	h_unit = sizeof(uint64_t);
	h_out[0] = h_out[1] = eventfd(0, 0);
	h_in[0] = h_in[1] = eventfd(0, 0);
	CHECK(h_out[0] >= 0 && h_in[0] >= 0, "eventfd");
	handoffs_through("eventfds");
	close(h_out[0]);
	close(h_in[0]);
}

/* Bytes that reach a channel made here other than through a thread's
 * plain write are read as natively: a forked child's, a duplicate's of
 * the write end, a non-blocking write end's, a raw system call's; a
 * semaphore eventfd written once gives a unit to each of three reads; a
 * peek leaves the data for the read after it. (greenshim counts what its
 * writes put in such a channel, and a read of one it thinks empty waits
 * before it tries: each of these must still be read at once.) */
static int uc_pipe[2];

static void *uc_reader(void *arg)
{
	char c = 0;

	(void)arg;
	CHECK(read(uc_pipe[0], &c, 1) == 1 && c == 'w', "the parked read: %c", c);
	return NULL;
}

static void uc_read(char want, const char *how)
{
	char c = 0;

	CHECK(read(uc_pipe[0], &c, 1) == 1 && c == want, "%s: read %c, %s", how, c,
	      strerror(errno));
}

/* A new pipe, left empty by a thread's read of another's write. */
static void uc_new_pipe(void)
{
	pthread_t t;

	CHECK(pipe(uc_pipe) == 0, "pipe");
	CHECK(pthread_create(&t, NULL, uc_reader, NULL) == 0, "create");
	usleep(10000);
	CHECK(write(uc_pipe[1], "w", 1) == 1, "write");
	CHECK(pthread_join(t, NULL) == 0, "join");
}

static void uc_close_pipe(void)
{
	close(uc_pipe[0]);
	close(uc_pipe[1]);
}

/* A child writes want after delay_us (a 64 KiB stream of it for bulk). */
static pid_t uc_child_writes(char want, int delay_us, bool bulk)
{
	pid_t pid = fork();

	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		char buf[4096];

		usleep((useconds_t)delay_us);
		memset(buf, want, sizeof buf);
		for (int i = 0; i < (bulk ? 16 : 1); i++)
			if (write(uc_pipe[1], buf, bulk ? sizeof buf : 1) != (bulk ? 4096 : 1))
				_exit(1);
		_exit(0);
	}
	return pid;
}

static void uc_reap(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child's write");
}

static void case_uncounted_writes(void)
{
	char c = 'p', buf[1000];
	pid_t pid;
	int d, sv[2], efd_sem;
	uint64_t v = 3;
	size_t got = 0;

	uc_new_pipe();
	uc_reap(uc_child_writes('a', 0, false));
	uc_read('a', "a child's write, there before the read");
	uc_close_pipe();

	uc_new_pipe();
	pid = uc_child_writes('e', 30000, false);
	uc_read('e', "a child's write, while the read waits");
	uc_reap(pid);
	uc_close_pipe();

	uc_new_pipe();
	pid = uc_child_writes('f', 0, true);
	while (got < 16 * 4096) {
		ssize_t r = read(uc_pipe[0], buf, sizeof buf);

		CHECK(r > 0, "a child's stream at %zu: %zd, %s", got, r, strerror(errno));
		for (ssize_t i = 0; i < r; i++)
			CHECK(buf[i] == 'f', "byte %zu of a child's stream: %c", got + (size_t)i, buf[i]);
		got += (size_t)r;
	}
	uc_reap(pid);
	uc_close_pipe();

	uc_new_pipe();
	d = dup(uc_pipe[1]);
	CHECK(d >= 0 && write(d, "b", 1) == 1, "a duplicate's write");
	uc_read('b', "a duplicate's write");
	close(d);
	uc_close_pipe();

	uc_new_pipe();
	CHECK(fcntl(uc_pipe[1], F_SETFL, O_NONBLOCK) == 0 && write(uc_pipe[1], "c", 1) == 1,
	      "a non-blocking write");
	uc_read('c', "a non-blocking write");
	uc_close_pipe();

	uc_new_pipe();
	CHECK(syscall(SYS_write, uc_pipe[1], "d", 1) == 1, "a raw write");
	uc_read('d', "a raw write");
	uc_close_pipe();

	efd_sem = eventfd(0, EFD_SEMAPHORE);
	CHECK(efd_sem >= 0 && write(efd_sem, &v, sizeof v) == sizeof v, "eventfd");
	for (int i = 0; i < 3; i++)
		CHECK(read(efd_sem, &v, sizeof v) == sizeof v && v == 1, "unit %d: %lu", i,
		      (unsigned long)v);
	close(efd_sem);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	CHECK(write(sv[0], "x", 1) == 1, "send");
	CHECK(recv(sv[1], &c, 1, MSG_PEEK) == 1 && c == 'x', "peek");
	c = 0;
	CHECK(recv(sv[1], &c, 1, 0) == 1 && c == 'x', "the read after the peek: %c", c);
	close(sv[0]);
	close(sv[1]);
}

/* eventfd as natively: a blocking one reads as blocking (F_GETFL) and its
 * read waits for a write while the other threads run; EFD_NONBLOCK and
 * O_NONBLOCK set later give EAGAIN; EFD_SEMAPHORE reads one at a time. */
static int efd;

static void *write_later(void *arg)
{
	uint64_t v = 5;

	(void)arg;
	usleep(50000);
	CHECK(write(efd, &v, sizeof v) == sizeof v, "eventfd write: %s", strerror(errno));
	return NULL;
}

static void case_eventfd(void)
{
	uint64_t v = 0;
	pthread_t t;
	int nb, before = ticks;

	efd = eventfd(0, 0);
	CHECK(efd >= 0 && !(fcntl(efd, F_GETFL) & O_NONBLOCK), "a blocking eventfd");
	CHECK(pthread_create(&t, NULL, write_later, NULL) == 0, "create");
	CHECK(read(efd, &v, sizeof v) == sizeof v && v == 5, "read %lu", (unsigned long)v);
	CHECK(ticks - before >= 5, "the ticker ran %d times during the read", ticks - before);
	pthread_join(t, NULL);
	CHECK(fcntl(efd, F_SETFL, O_NONBLOCK) == 0 && (fcntl(efd, F_GETFL) & O_NONBLOCK), "set");
	errno = 0;
	CHECK(read(efd, &v, sizeof v) == -1 && errno == EAGAIN, "read, O_NONBLOCK: %s",
	      strerror(errno));
	CHECK(fcntl(efd, F_SETFL, 0) == 0 && !(fcntl(efd, F_GETFL) & O_NONBLOCK), "cleared");
	close(efd);
	nb = eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
	CHECK(nb >= 0 && (fcntl(nb, F_GETFL) & O_NONBLOCK), "EFD_NONBLOCK");
	errno = 0;
	CHECK(read(nb, &v, sizeof v) == -1 && errno == EAGAIN, "read, EFD_NONBLOCK: %s",
	      strerror(errno));
	v = 2;
	CHECK(write(nb, &v, sizeof v) == sizeof v, "write 2");
	CHECK(read(nb, &v, sizeof v) == sizeof v && v == 1 && read(nb, &v, sizeof v) == sizeof v &&
		      v == 1,
	      "EFD_SEMAPHORE reads one at a time");
	errno = 0;
	CHECK(read(nb, &v, 4) == -1 && errno == EINVAL, "a short buffer: %s", strerror(errno));
	close(nb);
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int unasked_fd;
static int unasked_how; /* 0: close the peer, 1: send urgent data */

static void *unasked_peer(void *arg)
{
	(void)arg;
	usleep(60000);
	if (unasked_how == 0)
		close(unasked_fd);
	else
		(void)!send(unasked_fd, "!", 1, MSG_OOB);
	return NULL;
}

/* A loopback TCP pair: *a connected to *b. */
static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int l = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0 &&
		      getsockname(l, (struct sockaddr *)&sa, &len) == 0,
	      "a listener");
	*a = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(*a, (struct sockaddr *)&sa, sizeof sa) == 0, "connect");
	*b = accept(l, NULL, NULL);
	CHECK(*b >= 0, "accept");
	close(l);
}

/* poll and select wait for exactly the events asked. An fd asked for no
 * event (stunnel lists its sockets so while a buffer is full) ends a poll
 * only by an error or a hang-up, not by the data waiting on it; urgent
 * data ends a poll for POLLPRI and a select of exceptfds, normal data
 * neither. Waiting costs no CPU meanwhile (under greenshim before
 * 2026-12-05, the unasked data ended each wait at once: a 300 ms poll
 * took 300 ms of CPU). */
static void case_poll_unasked(void)
{
	int sv[2], p[2], a, b, r;
	struct pollfd f[2];
	double t0, c0;
	pthread_t t;
	fd_set ex;
	struct timeval tv = { 0, 100000 };

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0, "fds");
	CHECK(write(sv[1], "x", 1) == 1, "data nobody asks for");
	f[0] = (struct pollfd){ .fd = sv[0], .events = 0 };
	f[1] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	t0 = now_ms();
	c0 = cpu_ms();
	r = poll(f, 2, 150);
	CHECK(r == 0 && f[0].revents == 0 && f[1].revents == 0, "poll: %d, revents %#x %#x", r,
	      f[0].revents, f[1].revents);
	CHECK(now_ms() - t0 >= 149 && cpu_ms() - c0 < 50, "150 ms of poll: %.1f ms, %.1f ms of CPU",
	      now_ms() - t0, cpu_ms() - c0);

	/* The peer goes: a hang-up ends it. */
	unasked_fd = sv[1];
	unasked_how = 0;
	pthread_create(&t, NULL, unasked_peer, NULL);
	t0 = now_ms();
	r = poll(f, 2, 5000);
	CHECK(r == 1 && f[0].revents == POLLHUP && now_ms() - t0 < 2000,
	      "poll for a hang-up: %d, revents %#x, %.1f ms", r, f[0].revents, now_ms() - t0);
	pthread_join(t, NULL);
	close(sv[0]);

	/* Urgent data, beside normal data that waits unread. */
	tcp_pair(&a, &b);
	CHECK(write(b, "n", 1) == 1, "normal data");
	usleep(20000);
	f[0] = (struct pollfd){ .fd = a, .events = POLLPRI };
	c0 = cpu_ms();
	CHECK(poll(f, 1, 100) == 0 && cpu_ms() - c0 < 50, "poll for POLLPRI over normal data");
	FD_ZERO(&ex);
	FD_SET(a, &ex);
	c0 = cpu_ms();
	r = select(a + 1, NULL, NULL, &ex, &tv);
	CHECK(r == 0 && cpu_ms() - c0 < 50, "select of exceptfds over normal data: %d", r);
	unasked_fd = b;
	unasked_how = 1;
	pthread_create(&t, NULL, unasked_peer, NULL);
	r = poll(f, 1, 5000);
	CHECK(r == 1 && (f[0].revents & POLLPRI), "poll for urgent data: %d, revents %#x", r,
	      f[0].revents);
	pthread_join(t, NULL);
	FD_ZERO(&ex);
	FD_SET(a, &ex);
	tv = (struct timeval){ 1, 0 };
	CHECK(select(a + 1, NULL, NULL, &ex, &tv) == 1 && FD_ISSET(a, &ex), "select of exceptfds");
	close(a);
	close(b);
	close(p[0]);
	close(p[1]);
}

/* An epoll loop that waits long for each event, as a server with one
 * request at a time does: the events already queued when it next calls
 * epoll_wait come back at once, with no timeout, with a timeout, and with
 * a signal sent while the call begins (queued events come first, before
 * EINTR, as from the kernel); a wait with nothing queued still lasts its
 * timeout. The same for a stream socket's read after a read that waited:
 * queued bytes come before the signal's EINTR. */
static int ep_fd, ep_pipe[2];
static volatile int ep_go, ep_signals;
static pthread_t ep_main;

static void ep_on_signal(int sig)
{
	(void)sig;
	ep_signals++;
}

static void *ep_write_later(void *arg)
{
	usleep(30000);
	CHECK(write(*(int *)arg, "x", 1) == 1, "write: %s", strerror(errno));
	return NULL;
}

static void *ep_signal_soon(void *arg)
{
	(void)arg;
	while (!ep_go)
		sched_yield();
	pthread_kill(ep_main, SIGUSR1);
	return NULL;
}

/* One long wait for a byte written 30 ms later, and the byte read. */
static void ep_idle_wait(void)
{
	struct epoll_event out[4];
	pthread_t t;
	char c;

	CHECK(pthread_create(&t, NULL, ep_write_later, &ep_pipe[1]) == 0, "create");
	CHECK(epoll_wait(ep_fd, out, 4, 5000) == 1 && out[0].events == EPOLLIN, "epoll_wait idle");
	CHECK(read(ep_pipe[0], &c, 1) == 1, "read");
	pthread_join(t, NULL);
}

static void case_queued_after_idle(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	struct sigaction sa = { .sa_handler = ep_on_signal };
	struct timespec ts = { 2, 0 };
	int before, r, sv[2];
	char c, buf[16];
	pthread_t t;
	double t0;

	ep_main = pthread_self();
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	CHECK(pipe(ep_pipe) == 0, "pipe");
	ep_fd = epoll_create1(0);
	CHECK(epoll_ctl(ep_fd, EPOLL_CTL_ADD, ep_pipe[0], &ev) == 0, "epoll_ctl");
	for (int i = 0; i < 3; i++) {
		ep_idle_wait();
		CHECK(write(ep_pipe[1], "y", 1) == 1, "write");
		t0 = now_ms();
		r = i == 0 ? epoll_wait(ep_fd, out, 4, -1)
		    : i == 1 ? epoll_wait(ep_fd, out, 4, 2000)
			     : epoll_pwait2(ep_fd, out, 4, &ts, NULL);
		CHECK(r == 1 && out[0].events == EPOLLIN, "call %d: %d, want the queued event", i, r);
		CHECK(now_ms() - t0 < 1000, "call %d took %.1f ms", i, now_ms() - t0);
		CHECK(read(ep_pipe[0], &c, 1) == 1 && c == 'y', "read the queued byte");
	}
	ep_idle_wait();
	CHECK(write(ep_pipe[1], "z", 1) == 1, "write");
	ep_go = 0;
	CHECK(pthread_create(&t, NULL, ep_signal_soon, NULL) == 0, "create");
	ep_go = 1;
	r = epoll_wait(ep_fd, out, 4, 2000);
	CHECK(r == 1, "a signal and a queued event: %d (%s), want the event", r,
	      r < 0 ? strerror(errno) : "");
	pthread_join(t, NULL);
	CHECK(ep_signals == 1, "the handler ran %d times", ep_signals);
	CHECK(read(ep_pipe[0], &c, 1) == 1 && c == 'z', "read the queued byte");
	ep_idle_wait();
	before = ticks;
	t0 = now_ms();
	CHECK(epoll_wait(ep_fd, out, 4, 50) == 0, "epoll_wait with nothing queued");
	check_timed("epoll_wait after an idle wait", t0, before);
	close(ep_fd);
	close(ep_pipe[0]);
	close(ep_pipe[1]);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	CHECK(pthread_create(&t, NULL, ep_write_later, &sv[1]) == 0, "create");
	CHECK(read(sv[0], buf, sizeof buf) == 1 && buf[0] == 'x', "a read that waits");
	pthread_join(t, NULL);
	CHECK(write(sv[1], "w", 1) == 1, "write");
	ep_go = 0;
	CHECK(pthread_create(&t, NULL, ep_signal_soon, NULL) == 0, "create");
	ep_go = 1;
	r = (int)read(sv[0], buf, sizeof buf);
	CHECK(r == 1 && buf[0] == 'w', "a signal and queued bytes: %d (%s), want the byte", r,
	      r < 0 ? strerror(errno) : "");
	pthread_join(t, NULL);
	CHECK(ep_signals == 2, "the handler ran %d times", ep_signals);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "timeouts", case_timeouts },
		{ "zero_timeout", case_zero_timeout },
		{ "rcvtimeo", case_rcvtimeo },
		{ "connect_refused", case_connect_refused },
		{ "close_wakes", case_close_wakes },
		{ "poll_closed_nval", case_poll_closed_nval },
		{ "nonblock_view", case_nonblock_view },
		{ "stdin_pipe", case_stdin_pipe },
		{ "accepters", case_accepters },
		{ "big_write", case_big_write },
		{ "sleeps", case_sleeps },
		{ "eintr", case_eintr },
		{ "cpu_bound", case_cpu_bound },
		{ "handoffs", case_handoffs },
		{ "eventfd", case_eventfd },
		{ "poll_unasked", case_poll_unasked },
		{ "queued_after_idle", case_queued_after_idle },
		{ "uncounted_writes", case_uncounted_writes },
	};
	pthread_t t;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IONBF, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (strcmp(argv[1], cases[i].name) != 0)
			continue;
		test_name = cases[i].name;
		pthread_create(&t, NULL, ticker, NULL);
		cases[i].fn();
		stop_ticker = 1;
		pthread_join(t, NULL);
		printf("ok %s\n", test_name);
		return 0;
	}
	fprintf(stderr, "%s: no case %s\n", argv[0], argv[1]);
	return 2;
}
