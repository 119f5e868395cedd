/*
 * A crowd of threads, each blocked in a different kind of call, for the
 * gdb extension's tests (tests/tools/run.sh): an ordinary program, built
 * with no knowledge of greenshim.
 *
 * 99 threads, 11 of each kind, named "KIND-N" and started in a function
 * named blocked_in_KIND, block for ever: read on an empty pipe, write on
 * a full one, accept, poll, nanosleep, a mutex main holds, a condition
 * variable, a semaphore, pthread_join of a reader. Then, with "crash",
 * the 100th thread ("crasher", in crash_here) writes through a null
 * pointer while main waits to join it: the program dies of SIGSEGV.
 * Without "crash", main waits in pause(): everything waits for ever, for
 * gdb -p.
 *
 * Built -O0: each start routine's local "me" (the thread's index within
 * its kind) stays in its frame for gdb's "info locals" and "print".
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PER_KIND 11

static int rd_pipe[2], wr_pipe[2], listener;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static sem_t empty;
static pthread_t readers[PER_KIND];
static int index_of[PER_KIND];

static void *blocked_in_read(void *arg)
{
	int me = *(int *)arg;
	char c;

	return (void *)(long)(read(rd_pipe[0], &c, 1) + me);
}

static void *blocked_in_write(void *arg)
{
	int me = *(int *)arg;
	char buf[4096] = { 0 };

	return (void *)(long)(write(wr_pipe[1], buf, sizeof buf) + me);
}

static void *blocked_in_accept(void *arg)
{
	int me = *(int *)arg;

	return (void *)(long)(accept(listener, NULL, NULL) + me);
}

static void *blocked_in_poll(void *arg)
{
	int me = *(int *)arg;
	struct pollfd p = { .fd = rd_pipe[0], .events = POLLIN };

	return (void *)(long)(poll(&p, 1, -1) + me);
}

static void *blocked_in_sleep(void *arg)
{
	int me = *(int *)arg;
	struct timespec ts = { 100000, 0 };

	return (void *)(long)(nanosleep(&ts, NULL) + me);
}

static void *blocked_in_mutex(void *arg)
{
	int me = *(int *)arg;

	return (void *)(long)(pthread_mutex_lock(&held) + me);
}

static void *blocked_in_cond(void *arg)
{
	int me = *(int *)arg;

	pthread_mutex_lock(&cond_lock);
	for (;;)
		pthread_cond_wait(&never, &cond_lock);
	return (void *)(long)me;
}

static void *blocked_in_sem(void *arg)
{
	int me = *(int *)arg;

	return (void *)(long)(sem_wait(&empty) + me);
}

static void *blocked_in_join(void *arg)
{
	int me = *(int *)arg;

	return (void *)(long)(pthread_join(readers[me], NULL) + me);
}

static void crash_here(volatile int *p)
{
	*p = 42;
}

static void *crasher(void *arg)
{
	crash_here(arg);
	return NULL;
}

static const struct kind {
	const char *name;
	void *(*fn)(void *);
} kinds[] = {
	{ "read", blocked_in_read },   { "write", blocked_in_write }, { "accept", blocked_in_accept },
	{ "poll", blocked_in_poll },   { "sleep", blocked_in_sleep }, { "mutex", blocked_in_mutex },
	{ "cond", blocked_in_cond },   { "sem", blocked_in_sem },     { "join", blocked_in_join },
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timespec settle = { 0, 300000000 };
	pthread_t t;
	char name[16];
	int fl;

	if (pipe(rd_pipe) < 0 || pipe(wr_pipe) < 0 || sem_init(&empty, 0, 0) < 0)
		die("setup");
	/* Fill wr_pipe, then make it blocking again: its writers block. */
	fl = fcntl(wr_pipe[1], F_GETFL);
	fcntl(wr_pipe[1], F_SETFL, fl | O_NONBLOCK);
	while (write(wr_pipe[1], name, sizeof name) > 0)
		;
	fcntl(wr_pipe[1], F_SETFL, fl);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(listener, 8) < 0)
		die("listen");
	pthread_mutex_lock(&held);
	for (int i = 0; i < PER_KIND; i++)
		index_of[i] = i;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (int i = 0; i < PER_KIND; i++) {
			if (pthread_create(&t, NULL, kinds[k].fn, &index_of[i]) != 0)
				die("pthread_create");
			snprintf(name, sizeof name, "%s-%d", kinds[k].name, i);
			pthread_setname_np(t, name);
			if (k == 0)
				readers[i] = t;
		}
	}
	nanosleep(&settle, NULL); /* every thread reaches its call */
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "crash") == 0) {
		if (pthread_create(&t, NULL, crasher, NULL) != 0)
			die("pthread_create");
		pthread_setname_np(t, "crasher");
		pthread_join(t, NULL);
	}
	pause();
	return 0;
}
