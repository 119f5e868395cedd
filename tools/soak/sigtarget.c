/*
 * gs-soak-sigtarget: a server with THREADS blocked threads and a few busy
 * ones, under a storm of signals from gs-soak-sigsend (tools/soak/run.sh
 * signals). An ordinary program; it knows nothing of greenshim.
 *
 *   gs-soak-sigtarget [-t THREADS]
 *
 * SIGUSR1 and SIGRTMIN have counting handlers installed with SA_RESTART.
 * The blocked threads wait, in equal shares, in read on a pipe, recv on a
 * TCP connection, accept on a shared listening socket, pthread_cond_wait,
 * sem_wait and poll on a pipe. Ten pairs of threads meanwhile play
 * ping-pong over TCP connections, each message checked. A wait that fails
 * with EINTR is counted per kind and retried, as a careful program does:
 * with SA_RESTART, Linux restarts read, recv, accept and the futex under
 * pthread_cond_wait and sem_wait, and never restarts poll (signal(7)).
 *
 * Prints "ready" once every thread waits; on SIGUSR2 it stops the busy
 * pairs, wakes every waiter with its own byte (or connection, or the
 * broadcast, or a post), joins them all and prints one line of counts and
 * its fds and RSS (/proc/self) before the threads, while they wait, and
 * at the end. Exit status 1 unless every waiter woke right and no busy
 * message was wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procself.h"

enum { READ, RECV, ACCEPT, COND, SEM, POLL, KINDS };
static const char *kind_name[KINDS] = { "read", "recv", "accept", "cond", "sem", "poll" };

struct waiter {
	pthread_t t;
	int kind, idx, fd, peer, ok;
};

static atomic_long usr1, rt, eintr[KINDS];
static atomic_int ready, stop_busy;
static atomic_long busy_trips, busy_bad;
static int listener, port, end_pipe[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;
static sem_t sem;

static void on_usr1(int s) { (void)s; atomic_fetch_add(&usr1, 1); }
static void on_rt(int s) { (void)s; atomic_fetch_add(&rt, 1); }
static void on_usr2(int s)
{
	int saved = errno;

	(void)s;
	(void)!write(end_pipe[1], "x", 1);
	errno = saved;
}

/* A connected TCP pair through the listener. */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof a) < 0)
		return -1;
	fds[1] = accept(listener, NULL, NULL);
	return fds[1] < 0 ? -1 : 0;
}

static void *wait_one(void *arg)
{
	struct waiter *w = arg;
	unsigned char c = 0;
	ssize_t n;
	int r;

	atomic_fetch_add(&ready, 1);
	switch (w->kind) {
	case READ:
		while ((n = read(w->fd, &c, 1)) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr[READ], 1);
		w->ok = n == 1 && c == (unsigned char)w->idx;
		break;
	case RECV:
		while ((n = recv(w->fd, &c, 1, 0)) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr[RECV], 1);
		w->ok = n == 1 && c == (unsigned char)w->idx;
		break;
	case ACCEPT:
		while ((r = accept(listener, NULL, NULL)) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr[ACCEPT], 1);
		if (r >= 0) {
			while ((n = recv(r, &c, 1, 0)) < 0 && errno == EINTR)
				atomic_fetch_add(&eintr[ACCEPT], 1);
			w->ok = n == 1 && c == 'A';
			close(r);
		}
		break;
	case COND:
		pthread_mutex_lock(&mu);
		while (!go)
			pthread_cond_wait(&cv, &mu); /* never EINTR (POSIX) */
		pthread_mutex_unlock(&mu);
		w->ok = 1;
		break;
	case SEM:
		while ((r = sem_wait(&sem)) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr[SEM], 1);
		w->ok = r == 0 && go;
		break;
	case POLL: {
		struct pollfd p = { .fd = w->fd, .events = POLLIN };

		while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr[POLL], 1);
		w->ok = r == 1 && (p.revents & POLLIN) && read(w->fd, &c, 1) == 1 &&
			c == (unsigned char)w->idx;
		break;
	}
	}
	return NULL;
}

/* One side of a busy pair: sends a counter, expects it back plus one. */
static void *busy(void *arg)
{
	int *fds = arg;
	unsigned long mine = 0, got;

	while (!atomic_load(&stop_busy)) {
		if (send(fds[0], &mine, sizeof mine, MSG_NOSIGNAL) != sizeof mine ||
		    recv(fds[0], &got, sizeof got, MSG_WAITALL) != sizeof got || got != mine + 1) {
			atomic_fetch_add(&busy_bad, 1);
			break;
		}
		mine += 2;
		atomic_fetch_add(&busy_trips, 1);
	}
	shutdown(fds[0], SHUT_WR);
	return NULL;
}

static void *echo_plus_one(void *arg)
{
	int *fds = arg;
	unsigned long v;
	ssize_t n;

	while ((n = recv(fds[1], &v, sizeof v, MSG_WAITALL)) == sizeof v) {
		v++;
		if (send(fds[1], &v, sizeof v, MSG_NOSIGNAL) != sizeof v)
			break;
	}
	if (n != 0)
		atomic_fetch_add(&busy_bad, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = 1000, opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt == 't')
			nthreads = atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-t THREADS]\n", argv[0]);
			return 2;
		}
	}
	static unsigned char at_start[SNAP_MAX];
	long fds0 = fds_snap(at_start), rss0 = rss_kib();

	struct sigaction sa = { .sa_flags = SA_RESTART };
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_rt;
	sigaction(SIGRTMIN, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sem_init(&sem, 0, 0);
	if (pipe(end_pipe) < 0)
		return 1;

	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(listener, 4096) < 0 || getsockname(listener, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
	port = ntohs(a.sin_port);

	/* The busy pairs first: the accepting waiters would take their
	 * connections. */
	static int pairs[10][2];
	pthread_t busy_t[20];
	for (int i = 0; i < 10; i++) {
		if (tcp_pair(pairs[i]) < 0)
			return 1;
		pthread_create(&busy_t[2 * i], NULL, busy, pairs[i]);
		pthread_create(&busy_t[2 * i + 1], NULL, echo_plus_one, pairs[i]);
	}
	struct waiter *ws = calloc(nthreads, sizeof *ws);
	for (int i = 0; i < nthreads; i++) {
		int fds[2];

		ws[i].kind = i % KINDS;
		ws[i].idx = i;
		if (ws[i].kind == READ || ws[i].kind == POLL) {
			if (pipe(fds) < 0)
				return 1;
			ws[i].fd = fds[0];
			ws[i].peer = fds[1];
		} else if (ws[i].kind == RECV) {
			if (tcp_pair(fds) < 0) {
				perror("tcp pair");
				return 1;
			}
			ws[i].fd = fds[1];
			ws[i].peer = fds[0];
		}
	}
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&ws[i].t, NULL, wait_one, &ws[i]) != 0) {
			fprintf(stderr, "pthread_create failed at %d\n", i);
			return 1;
		}
	while (atomic_load(&ready) < nthreads)
		usleep(1000);
	usleep(100000);
	long fds1 = fds_snap(NULL), rss1 = rss_kib();
	printf("ready\n");
	fflush(stdout);

	char c;
	while (read(end_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	atomic_store(&stop_busy, 1);
	for (int i = 0; i < 20; i++)
		pthread_join(busy_t[i], NULL);
	for (int i = 0; i < 10; i++) {
		close(pairs[i][0]);
		close(pairs[i][1]);
	}

	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	int bad_wake = 0;
	for (int i = 0; i < nthreads; i++) {
		unsigned char b = (unsigned char)i;
		int fds[2];

		switch (ws[i].kind) {
		case READ:
		case POLL:
		case RECV:
			if (write(ws[i].peer, &b, 1) != 1)
				bad_wake++;
			break;
		case ACCEPT: {
			struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };

			inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
			fds[0] = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(fds[0], (struct sockaddr *)&to, sizeof to) < 0 ||
			    send(fds[0], "A", 1, 0) != 1)
				bad_wake++;
			ws[i].peer = fds[0];
			break;
		}
		case SEM:
			sem_post(&sem);
			break;
		}
	}
	int ok = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].t, NULL);
		ok += ws[i].ok;
		if (ws[i].kind != COND && ws[i].kind != SEM)
			close(ws[i].peer);
		if (ws[i].kind == READ || ws[i].kind == POLL || ws[i].kind == RECV)
			close(ws[i].fd);
	}
	close(listener);
	close(end_pipe[0]);
	close(end_pipe[1]);
	sem_destroy(&sem);
	long fds2 = fds_snap(NULL), rss2 = rss_kib();
	char fresh[1024];
	fds_new(at_start, fresh, sizeof fresh);
	printf("usr1.handled=%ld rt.handled=%ld waiters=%d waiters.ok=%d busy.roundtrips=%ld busy.bad=%ld",
	       atomic_load(&usr1), atomic_load(&rt), nthreads, ok, atomic_load(&busy_trips),
	       atomic_load(&busy_bad));
	for (int k = 0; k < KINDS; k++)
		printf(" eintr.%s=%ld", kind_name[k], atomic_load(&eintr[k]));
	printf(" fds.start=%ld fds.waiting=%ld fds.end=%ld rss.start=%ld rss.waiting=%ld rss.end=%ld "
	       "fds.new=%s\n",
	       fds0, fds1, fds2, rss0, rss1, rss2, fresh);
	return ok == nthreads && !bad_wake && !atomic_load(&busy_bad) ? 0 : 1;
}
