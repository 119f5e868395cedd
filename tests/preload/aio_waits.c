/*
 * An ordinary program (never linked to greenshim) whose threads wait in
 * POSIX AIO's aio_suspend: for an aio_write into a pipe that another
 * thread of its own drains, for an aio_read that another thread's write
 * completes, until a timeout beside a thread that computes (EAGAIN, never
 * EINTR), until a SIGALRM handler without SA_RESTART (EINTR) and past
 * one with it (the wait goes on until a thread's write, as glibc's futex
 * wait is restarted), and until pthread_cancel (the cleanup handler
 * runs). Prints what each found; the
 * output must be the native run's. On one hub, before greenshim polled the
 * requests, the first wait never ended (glibc's wait held the hub's OS
 * thread, and the draining thread never ran) and the timeout beside the
 * computing thread ended with EINTR (the preemption tick's).
 */
#define _GNU_SOURCE
#include <aio.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/time.h>

#include "case.h"

#define BIG 200000

static int drain_fd;
static atomic_bool cleaned;
static volatile unsigned long sink;

static void *drain(void *arg)
{
	char buf[4096];
	long total = 0;
	ssize_t n;

	(void)arg;
	while ((n = read(drain_fd, buf, sizeof buf)) > 0)
		total += n;
	return (void *)total;
}

static atomic_int alarms;

/* Writes a byte into the pipe *arg once 30 ms passed, and (arg's second
 * int set) main's SIGALRM handler ran. */
static void *write_later(void *arg)
{
	int *w = arg;

	usleep(30000);
	while (w[1] && atomic_load(&alarms) == 0)
		usleep(1000);
	return (void *)write(w[0], "x", 1);
}

static void *compute(void *arg)
{
	double end = now_ms() + 300;

	while (now_ms() < end)
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
	return arg;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A read of an empty pipe, queued: nothing ends it but a write. */
static void read_request(struct aiocb *cb, int fd, char *buf)
{
	memset(cb, 0, sizeof *cb);
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = 1;
	CHECK(aio_read(cb) == 0, "aio_read: %s", strerror(errno));
}

static void show(const char *what, int r)
{
	printf("%s: %d %s\n", what, r, r != 0 ? strerrorname_np(errno) : "");
}

static void cleanup(void *arg)
{
	(void)arg;
	atomic_store(&cleaned, true);
}

static void *suspend_to_be_cancelled(void *arg)
{
	const struct aiocb *list[1] = { arg };

	pthread_cleanup_push(cleanup, NULL);
	aio_suspend(list, 1, NULL);
	pthread_cleanup_pop(0);
	printf("the cancelled thread's aio_suspend returned\n");
	return NULL;
}

int main(void)
{
	static char big[BIG], buf[4][1];
	struct aiocb cb[5];
	const struct aiocb *list[2];
	struct timespec limit = { 0, 50000000 };
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	struct sigaction sa;
	int p[2], q[2], e[2], wr[2] = { -1, 0 };
	sigset_t alrm, old;
	pthread_t t, spin;
	void *ret;
	double t0;

	test_name = "aio_waits";
	setvbuf(stdout, NULL, _IONBF, 0);
	CHECK(pipe(p) == 0 && pipe(q) == 0 && pipe(e) == 0, "pipe");

	/* A write bigger than the pipe, drained by a thread. */
	drain_fd = p[0];
	pthread_create(&t, NULL, drain, NULL);
	memset(&cb[0], 0, sizeof cb[0]);
	cb[0].aio_fildes = p[1];
	cb[0].aio_buf = big;
	cb[0].aio_nbytes = BIG;
	CHECK(aio_write(&cb[0]) == 0, "aio_write: %s", strerror(errno));
	list[0] = &cb[0];
	list[1] = NULL;
	while (aio_error(&cb[0]) == EINPROGRESS)
		CHECK(aio_suspend(list, 2, NULL) == 0 || errno == EINTR, "aio_suspend: %s",
		      strerror(errno));
	printf("aio_write into a drained pipe: %zd\n", aio_return(&cb[0]));
	close(p[1]);
	pthread_join(t, &ret);
	printf("drained: %ld\n", (long)ret);

	/* A read that a thread's write completes. */
	read_request(&cb[1], q[0], buf[0]);
	wr[0] = q[1];
	pthread_create(&t, NULL, write_later, wr);
	list[0] = NULL;
	list[1] = &cb[1];
	show("aio_suspend for a read a thread completes", aio_suspend(list, 2, NULL));
	printf("its result: %zd\n", aio_return(&cb[1]));
	pthread_join(t, NULL);

	/* A timeout beside a thread that computes. */
	read_request(&cb[2], e[0], buf[1]);
	list[0] = &cb[2];
	pthread_create(&spin, NULL, compute, NULL);
	t0 = now_ms();
	show("aio_suspend, 50 ms, beside a computing thread", aio_suspend(list, 1, &limit));
	printf("it took 45 ms or more: %s\n", now_ms() - t0 >= 45 ? "yes" : "no");
	pthread_join(spin, NULL);

	/* A signal handler without SA_RESTART, then one with it. Other
	 * threads block SIGALRM: the timer's signal is main's. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	show("aio_suspend, a plain SIGALRM", aio_suspend(list, 1, NULL));
	printf("handler ran %d time(s)\n", atomic_load(&alarms));
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	atomic_store(&alarms, 0);
	read_request(&cb[3], q[0], buf[2]);
	list[0] = &cb[3];
	wr[1] = 1;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	pthread_create(&t, NULL, write_later, wr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	show("aio_suspend, a restarting SIGALRM, then a thread's write",
	     aio_suspend(list, 1, NULL));
	printf("handler ran %d time(s), the read's result: %zd\n", atomic_load(&alarms),
	       aio_return(&cb[3]));
	pthread_join(t, NULL);
	list[0] = &cb[2];

	/* pthread_cancel. */
	pthread_create(&t, NULL, suspend_to_be_cancelled, &cb[2]);
	usleep(30000);
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("cancelled in aio_suspend: %s, cleanup ran: %s\n",
	       ret == PTHREAD_CANCELED ? "yes" : "no", atomic_load(&cleaned) ? "yes" : "no");
	return 0;
}
