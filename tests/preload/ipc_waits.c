/*
 * An ordinary program (never linked to greenshim) whose threads wait in
 * the kernel's message queues and semaphores: POSIX message queues
 * (mq_receive, mq_send, their timed forms) and System V's (msgrcv,
 * msgsnd, semop, semtimedop), for a message or a post that another thread
 * of its own makes later, while a ticker thread sleeps 1 ms at a time.
 * Then the ways such a wait ends early: a time limit, a SIGALRM handler
 * without SA_RESTART and one with it (POSIX queues go on, System V's end
 * with EINTR: signal(7)), pthread_cancel in msgrcv and mq_receive (the
 * cleanup handler runs), and the errors the calls give at once (a bad
 * time limit or pointer, a full or empty queue set O_NONBLOCK, a message
 * too long, IPC_NOWAIT), and two of the waits made as raw system calls.
 * Prints what each found; the output must be the
 * native run's. On one hub, before greenshim made these waits green, the
 * first wait never ended: the waiter held the only OS thread, and the
 * thread that was to send never ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "case.h"
#include "ticker.h"

static atomic_int alarms; /* lock-free: the handler and another thread */
static char qname[64];
static int msqid, semid;

struct msg {
	long type;
	char text[32];
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The ticker ticked at least min times since before: it was not held up. */
static void report_ticks(const char *what, int before, int min)
{
	int n = atomic_load(&ticks) - before;

	printf("%s: the ticker ran meanwhile: %s\n", what, n >= min ? "yes" : "no");
}

/* A call's result and, if it failed, its errno's name (read after it). */
static void show(const char *what, long r)
{
	int err = errno;

	if (r >= 0)
		printf("%s: %ld\n", what, r);
	else
		printf("%s: -1 %s\n", what, strerrorname_np(err));
}

static mqd_t open_queue(int flags, long maxmsg)
{
	struct mq_attr a = { .mq_maxmsg = maxmsg, .mq_msgsize = 64 };
	mqd_t q = mq_open(qname, O_RDWR | O_CREAT | flags, 0600, &a);

	if (q == (mqd_t)-1) {
		perror("mq_open");
		exit(1);
	}
	return q;
}

/* ---- what another thread sends or posts later ---- */

struct later {
	int what; /* 0: mq_send, 1: mq_receive, 2: msgsnd, 3: msgrcv, 4: semop +1 */
	mqd_t q;
	long type;
	bool after_alarm; /* first wait for main's SIGALRM handler to run */
};

/* The ticks a thread that acts later waits for: main, waiting meanwhile,
 * sees at least as many (report_ticks), whatever the machine's load. On
 * a hub whose OS thread the wait holds they never come, and the program
 * hangs. */
#define LATER_TICKS 3

static void *do_later(void *arg)
{
	struct later *l = arg;
	char buf[64];
	struct msg m = { l->type, "later" };
	struct sembuf up = { 0, 1, 0 };
	int start = atomic_load(&ticks);
	double t0 = now_ms();

	/* 30 ms at least: main is in its wait by then. */
	while (now_ms() - t0 < 30 || atomic_load(&ticks) - start < LATER_TICKS ||
	       (l->after_alarm && alarms == 0))
		sleep_ms(1);
	switch (l->what) {
	case 0:
		mq_send(l->q, "later", 6, 3);
		break;
	case 1:
		mq_receive(l->q, buf, sizeof buf, NULL);
		break;
	case 2:
		msgsnd(msqid, &m, sizeof m.text, 0);
		break;
	case 3:
		msgrcv(msqid, &m, sizeof m.text, 0, 0);
		break;
	case 4:
		semop(semid, &up, 1);
		break;
	}
	return NULL;
}

/* Threads other than main block SIGALRM: the timer's signal is main's. */
static pthread_t start_later(struct later *l)
{
	sigset_t alrm, old;
	pthread_t t;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	pthread_create(&t, NULL, do_later, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return t;
}

/* ---- POSIX message queues ---- */

static void posix_queues(void)
{
	mqd_t q = open_queue(0, 2);
	struct later l = { .what = 0, .q = q };
	char buf[64] = "";
	unsigned prio = 0;
	int before = atomic_load(&ticks);
	pthread_t t = start_later(&l);
	struct timespec abs;
	double t0;
	ssize_t r;

	r = mq_receive(q, buf, sizeof buf, &prio);
	printf("mq_receive: %zd \"%s\" priority %u\n", r, buf, prio);
	pthread_join(t, NULL);
	report_ticks("mq_receive", before, LATER_TICKS);

	/* A full queue: the send waits for room. */
	mq_send(q, "one", 4, 1);
	mq_send(q, "two", 4, 2);
	l.what = 1;
	before = atomic_load(&ticks);
	t = start_later(&l);
	show("mq_send to a full queue", mq_send(q, "three", 6, 0));
	pthread_join(t, NULL);
	report_ticks("mq_send", before, LATER_TICKS);
	r = mq_receive(q, buf, sizeof buf, &prio);
	printf("then: \"%s\" priority %u\n", buf, prio); /* "one" went to the thread */
	r = mq_receive(q, buf, sizeof buf, &prio);
	printf("then: \"%s\" priority %u\n", buf, prio);

	/* The time limit. */
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 40000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	before = atomic_load(&ticks);
	t0 = now_ms();
	show("mq_timedreceive of an empty queue, 40 ms", mq_timedreceive(q, buf, sizeof buf, NULL, &abs));
	printf("it took 40 ms or more: %s\n", now_ms() - t0 >= 39 ? "yes" : "no");
	report_ticks("mq_timedreceive", before, 1);
	show("mq_timedreceive with a time past", mq_timedreceive(q, buf, sizeof buf, NULL, &abs));
	mq_send(q, "x", 2, 0);
	mq_send(q, "y", 2, 0);
	show("mq_timedsend to a full queue, a time past", mq_timedsend(q, "z", 2, 0, &abs));

	/* Errors that come at once, a message there or not. */
	abs.tv_nsec = 1000000000;
	show("mq_timedreceive, an invalid time", mq_timedreceive(q, buf, sizeof buf, NULL, &abs));
	show("mq_timedsend, an invalid time", mq_timedsend(q, "z", 2, 0, &abs));
	show("mq_timedreceive, a bad pointer", mq_timedreceive(q, buf, sizeof buf, NULL,
							      (const struct timespec *)8));
	show("mq_receive, a small buffer", mq_receive(q, buf, 8, NULL));
	show("mq_send, a priority too high", mq_send(q, "z", 2, 1u << 31));
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	show("mq_receive", mq_receive(q, buf, sizeof buf, NULL));
	mq_close(q);
	show("mq_receive of a closed queue", mq_receive(q, buf, sizeof buf, NULL));
	q = open_queue(O_NONBLOCK, 2);
	show("mq_receive, O_NONBLOCK and empty", mq_receive(q, buf, sizeof buf, NULL));
	mq_send(q, "x", 2, 0);
	mq_send(q, "y", 2, 0);
	show("mq_send, O_NONBLOCK and full", mq_send(q, "z", 2, 0));
	mq_close(q);
	mq_unlink(qname);
}

/* ---- System V message queues and semaphores ---- */

static void sysv(void)
{
	struct later l = { .what = 2, .type = 7 };
	struct msg m = { 0, "" };
	struct sembuf down = { 0, -1, 0 }, ops[2] = { { 0, -1, 0 }, { 1, 1, 0 } };
	struct timespec rel = { 0, 40000000 };
	int before = atomic_load(&ticks);
	pthread_t t = start_later(&l);
	struct msqid_ds ds;
	double t0;

	show("msgrcv", msgrcv(msqid, &m, sizeof m.text, 0, 0));
	printf("msgrcv: type %ld \"%s\"\n", m.type, m.text);
	pthread_join(t, NULL);
	report_ticks("msgrcv", before, LATER_TICKS);

	/* The fifth argument: any type but 1. */
	m = (struct msg){ 1, "first" };
	msgsnd(msqid, &m, sizeof m.text, 0);
	l.type = 2;
	before = atomic_load(&ticks);
	t = start_later(&l);
	show("msgrcv MSG_EXCEPT 1", msgrcv(msqid, &m, sizeof m.text, 1, MSG_EXCEPT));
	printf("msgrcv MSG_EXCEPT 1: type %ld \"%s\"\n", m.type, m.text);
	pthread_join(t, NULL);
	report_ticks("msgrcv MSG_EXCEPT", before, LATER_TICKS);
	show("msgrcv IPC_NOWAIT", msgrcv(msqid, &m, sizeof m.text, 1, IPC_NOWAIT));
	show("msgrcv IPC_NOWAIT, empty", msgrcv(msqid, &m, sizeof m.text, 0, IPC_NOWAIT));
	show("msgrcv, a message too long", (m = (struct msg){ 3, "long" },
					    msgsnd(msqid, &m, sizeof m.text, 0),
					    msgrcv(msqid, &m, 2, 3, 0)));
	msgrcv(msqid, &m, sizeof m.text, 3, MSG_NOERROR);

	/* A full queue: room for two messages. */
	msgctl(msqid, IPC_STAT, &ds);
	ds.msg_qbytes = 2 * sizeof m.text;
	show("msgctl IPC_SET", msgctl(msqid, IPC_SET, &ds));
	m = (struct msg){ 5, "a" };
	msgsnd(msqid, &m, sizeof m.text, 0);
	msgsnd(msqid, &m, sizeof m.text, 0);
	show("msgsnd IPC_NOWAIT, full", msgsnd(msqid, &m, sizeof m.text, IPC_NOWAIT));
	l.what = 3;
	before = atomic_load(&ticks);
	t = start_later(&l);
	show("msgsnd to a full queue", msgsnd(msqid, &m, sizeof m.text, 0));
	pthread_join(t, NULL);
	report_ticks("msgsnd", before, LATER_TICKS);
	for (int i = 0; i < 2; i++)
		msgrcv(msqid, &m, sizeof m.text, 0, 0);

	/* A semaphore at 0, posted later; then two operations at once. */
	l.what = 4;
	before = atomic_load(&ticks);
	t = start_later(&l);
	show("semop -1", semop(semid, &down, 1));
	pthread_join(t, NULL);
	report_ticks("semop", before, LATER_TICKS);
	before = atomic_load(&ticks);
	t = start_later(&l);
	show("semop -1 on 0, +1 on 1", semop(semid, ops, 2));
	pthread_join(t, NULL);
	report_ticks("semop of two", before, LATER_TICKS);
	printf("semaphore 1: %d\n", semctl(semid, 1, GETVAL));
	printf("sempid is this process: %s\n", semctl(semid, 0, GETPID) == getpid() ? "yes" : "no");
	before = atomic_load(&ticks);
	t0 = now_ms();
	show("semtimedop, 40 ms", semtimedop(semid, &down, 1, &rel));
	printf("it took 40 ms or more: %s\n", now_ms() - t0 >= 39 ? "yes" : "no");
	report_ticks("semtimedop", before, 1);
	rel.tv_nsec = 1000000000;
	show("semtimedop, an invalid time", semtimedop(semid, &down, 1, &rel));
	down.sem_flg = IPC_NOWAIT;
	show("semop IPC_NOWAIT on 0", semop(semid, &down, 1));
	show("semop, a bad pointer", semop(semid, (struct sembuf *)8, 1));
	show("semop, no operation", semop(semid, &down, 0));
	show("semop, a semaphore out of range", semop(semid, &(struct sembuf){ 5, 1, 0 }, 1));
}

/* ---- the same waits as raw system calls ---- */

/* A system call made with the program's own instruction, not libc's. */
static long raw5(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static void raw_calls(void)
{
	mqd_t q = open_queue(0, 2);
	struct later l = { .what = 0, .q = q };
	struct sembuf down = { 0, -1, 0 };
	char buf[64] = "";
	int before = atomic_load(&ticks);
	pthread_t t = start_later(&l);

	printf("raw mq_timedreceive: %ld \"%s\"\n",
	       raw5(SYS_mq_timedreceive, q, (long)buf, sizeof buf, 0, 0), buf);
	pthread_join(t, NULL);
	report_ticks("raw mq_timedreceive", before, LATER_TICKS);
	l.what = 4;
	before = atomic_load(&ticks);
	t = start_later(&l);
	show("syscall(SYS_semop)", syscall(SYS_semop, semid, &down, 1));
	pthread_join(t, NULL);
	report_ticks("syscall(SYS_semop)", before, LATER_TICKS);
	mq_close(q);
	mq_unlink(qname);
}

/* ---- waits that end early ---- */

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM 50 ms into a wait for something nobody sends; with SA_RESTART,
 * a POSIX queue's wait goes on until a thread sends, once the handler
 * has run. */
static void with_alarm(int flags)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	struct msg m = { 0, "" };
	struct sembuf down = { 0, -1, 0 };
	mqd_t q = open_queue(0, 2);
	struct later l = { .what = 0, .q = q };
	const char *how = flags & SA_RESTART ? "restarting" : "plain";
	char buf[64];
	pthread_t t;
	long r;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigaction(SIGALRM, &sa, NULL);

	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	r = msgrcv(msqid, &m, sizeof m.text, 0, 0);
	printf("msgrcv, a %s SIGALRM: %ld %s, handler ran %d time(s)\n", how, r,
	       r < 0 ? strerrorname_np(errno) : "", (int)alarms);
	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	r = semop(semid, &down, 1);
	printf("semop, a %s SIGALRM: %ld %s, handler ran %d time(s)\n", how, r,
	       r < 0 ? strerrorname_np(errno) : "", (int)alarms);

	alarms = 0;
	if (flags & SA_RESTART) {
		l.after_alarm = true;
		t = start_later(&l);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	r = mq_receive(q, buf, sizeof buf, NULL);
	printf("mq_receive, a %s SIGALRM: %ld %s, handler ran %d time(s)\n", how, r,
	       r < 0 ? strerrorname_np(errno) : "", (int)alarms);
	if (flags & SA_RESTART)
		pthread_join(t, NULL);
	mq_close(q);
	mq_unlink(qname);
}

static atomic_int cleaned;

static void cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&cleaned, 1);
}

static void *wait_to_be_cancelled(void *arg)
{
	struct msg m;
	char buf[64];
	mqd_t q = open_queue(0, 2);

	pthread_cleanup_push(cleanup, NULL);
	if (arg == NULL)
		msgrcv(msqid, &m, sizeof m.text, 0, 0);
	else
		mq_receive(q, buf, sizeof buf, NULL);
	pthread_cleanup_pop(0);
	printf("the cancelled thread got a message\n");
	return NULL;
}

static void cancelled(const char *in, void *arg)
{
	pthread_t t;
	void *ret;

	atomic_store(&cleaned, 0);
	pthread_create(&t, NULL, wait_to_be_cancelled, arg);
	sleep_ms(30); /* in its wait by now */
	pthread_cancel(t);
	pthread_join(t, &ret);
	printf("cancelled in %s: %s, cleanup ran: %s\n", in,
	       ret == PTHREAD_CANCELED ? "yes" : "no", atomic_load(&cleaned) ? "yes" : "no");
	mq_unlink(qname);
}

int main(void)
{
	pthread_t tick;

	test_name = "ipc_waits";
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(qname, sizeof qname, "/gs-ipc-%d", (int)getpid());
	msqid = msgget(IPC_PRIVATE, 0600);
	semid = semget(IPC_PRIVATE, 2, 0600);
	if (msqid < 0 || semid < 0) {
		perror("msgget/semget");
		return 1;
	}
	{
		sigset_t alrm, old;

		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		pthread_sigmask(SIG_BLOCK, &alrm, &old);
		tick = start_ticker();
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	posix_queues();
	sysv();
	raw_calls();
	with_alarm(0);
	with_alarm(SA_RESTART);
	cancelled("msgrcv", NULL);
	cancelled("mq_receive", (void *)1);
	stop_ticker(tick);
	msgctl(msqid, IPC_RMID, NULL);
	semctl(semid, 0, IPC_RMID);
	return 0;
}
