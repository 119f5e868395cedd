/*
 * gs-soak-closewait: threads blocked on an fd that another thread closes
 * (tools/soak/run.sh close). An ordinary program; it knows nothing of
 * greenshim. It prints what happens, for the run to compare with native.
 *
 *   gs-soak-closewait [-n RACES]
 *
 * Each case: a thread blocks in one call on fd X; 100 ms later the main
 * thread closes X; 200 ms later it notes whether the call returned ("at
 * close"); then it does what would wake the call on the file X was (the
 * peer writes, or connects), and notes again ("after"). A call still
 * blocked then is reported as "blocked", and left.
 *
 * The race: RACES times, a thread blocks in read on an accepted TCP
 * connection X; after 0..1,000 µs the main thread closes X, makes a
 * socketpair (whose first end takes the lowest free number, X again),
 * writes "N" into that end from the other and "O" into the old connection
 * from its peer. The read
 * returns "O" (it was waiting on the old file), "N" (it started after the
 * new file took the number), EBADF, or nothing within 2 s (a hang). Then
 * the new file must still work (its read gets "N" if the waiting
 * thread did not). Exit status 1 on a hang.
 *
 * Prints "case outcome" lines, then the counts, then the fds and RSS
 * before and after (/proc/self).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "procself.h"

enum { C_READ, C_RECV, C_POLL, C_ACCEPT, C_PIPE };

struct call {
	int kind, fd;
	atomic_int done;
	long ret;
	int err;
	short revents;
	char byte;
};

static int listener, port;

static int connect_to(int p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static int listen_on(int *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	*p = ntohs(a.sin_port);
	return s;
}

/* A TCP connection: [0] the client side, [1] the accepted side. */
static int tcp_pair(int fds[2])
{
	fds[0] = connect_to(port);
	fds[1] = fds[0] < 0 ? -1 : accept(listener, NULL, NULL);
	return fds[1] < 0 ? -1 : 0;
}

static void *blocked_call(void *arg)
{
	struct call *c = arg;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	switch (c->kind) {
	case C_READ:
	case C_PIPE:
		c->ret = read(c->fd, &c->byte, 1);
		break;
	case C_RECV:
		c->ret = recv(c->fd, &c->byte, 1, 0);
		break;
	case C_POLL:
		c->ret = poll(&p, 1, -1);
		c->revents = p.revents;
		break;
	case C_ACCEPT:
		c->ret = accept(c->fd, NULL, NULL);
		if (c->ret >= 0)
			close((int)c->ret);
		break;
	}
	c->err = errno;
	atomic_store(&c->done, 1);
	return NULL;
}

static void describe(const struct call *c, char *out, size_t len)
{
	if (!atomic_load(&c->done))
		snprintf(out, len, "blocked");
	else if (c->ret < 0)
		snprintf(out, len, "-1/%s", strerrorname_np(c->err));
	else if (c->kind == C_POLL)
		snprintf(out, len, "%ld/revents=%s%s%s", c->ret, c->revents & POLLIN ? "IN" : "",
			 c->revents & POLLNVAL ? "NVAL" : "", c->revents & POLLHUP ? "HUP" : "");
	else if (c->kind == C_ACCEPT)
		snprintf(out, len, "accepted");
	else if (c->ret == 0)
		snprintf(out, len, "0/EOF");
	else
		snprintf(out, len, "%ld/'%c'", c->ret, c->byte);
}

static void one_case(const char *name, int kind)
{
	struct call *c = calloc(1, sizeof *c); /* left to a thread still blocked */
	int fds[2] = { -1, -1 }, waker = -1, lport = 0;
	pthread_t t;
	char at_close[64], after[64];

	c->kind = kind;
	if (kind == C_PIPE) {
		if (pipe(fds) < 0)
			return;
		c->fd = fds[0];
		waker = fds[1];
	} else if (kind == C_ACCEPT) {
		c->fd = listen_on(&lport);
	} else {
		tcp_pair(fds);
		c->fd = fds[1];
		waker = fds[0];
	}
	pthread_create(&t, NULL, blocked_call, c);
	pthread_detach(t);
	usleep(100000);
	close(c->fd);
	usleep(200000);
	describe(c, at_close, sizeof at_close);
	if (kind == C_ACCEPT) {
		int s = connect_to(lport);

		if (s < 0)
			snprintf(after, sizeof after, "connect:%s", strerrorname_np(errno));
		usleep(200000);
		if (s >= 0) {
			describe(c, after, sizeof after);
			close(s);
		}
	} else {
		(void)!write(waker, "x", 1);
		usleep(200000);
		describe(c, after, sizeof after);
		close(waker);
	}
	printf("%s at_close=%s after_wake=%s\n", name, at_close, after);
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int races = 1000, opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt == 'n')
			races = atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-n RACES]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	listener = listen_on(&port);
	/* A warm-up: one blocked read, woken normally. */
	{
		int fds[2];
		struct call c = { .kind = C_READ };
		pthread_t t;

		tcp_pair(fds);
		c.fd = fds[1];
		pthread_create(&t, NULL, blocked_call, &c);
		usleep(10000);
		(void)!write(fds[0], "w", 1);
		pthread_join(t, NULL);
		close(fds[0]);
		close(fds[1]);
	}
	static unsigned char at_start[SNAP_MAX];
	long fds0 = fds_snap(at_start), rss0 = rss_kib();

	one_case("read_tcp", C_READ);
	one_case("recv_tcp", C_RECV);
	one_case("poll_tcp", C_POLL);
	one_case("accept", C_ACCEPT);
	one_case("read_pipe", C_PIPE);
	long fds_cases = fds_snap(NULL);

	long old = 0, new_file = 0, ebadf = 0, other = 0, hangs = 0, new_ok = 0, new_bad = 0;
	unsigned seed = 1;
	for (int i = 0; i < races; i++) {
		int a[2], b[2];
		struct call *c = calloc(1, sizeof *c);
		pthread_t t;

		if (tcp_pair(a) < 0)
			return 1;
		c->kind = C_READ;
		c->fd = a[1];
		pthread_create(&t, NULL, blocked_call, c);
		seed = seed * 1103515245 + 12345;
		usleep((seed >> 8) % 1001);
		close(a[1]);
		/* b[0] takes the lowest free number: X again. */
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, b) < 0)
			return 1;
		(void)!write(b[1], "N", 1);
		(void)!write(a[0], "O", 1);
		double until = now() + 2;
		while (!atomic_load(&c->done) && now() < until)
			usleep(100);
		if (!atomic_load(&c->done)) {
			hangs++;
			pthread_detach(t);
			close(a[0]);
			close(b[0]);
			close(b[1]);
			continue; /* c stays with the thread */
		}
		pthread_join(t, NULL);
		if (c->ret == 1 && c->byte == 'O')
			old++;
		else if (c->ret == 1 && c->byte == 'N')
			new_file++;
		else if (c->ret < 0 && c->err == EBADF)
			ebadf++;
		else
			other++;
		if (!(c->ret == 1 && c->byte == 'N')) {
			char got = 0;
			struct pollfd p = { .fd = b[0], .events = POLLIN };

			if (poll(&p, 1, 2000) == 1 && read(b[0], &got, 1) == 1 && got == 'N')
				new_ok++;
			else
				new_bad++;
		}
		close(a[0]);
		close(b[0]);
		close(b[1]);
		free(c);
	}
	long fds1 = fds_snap(NULL), rss1 = rss_kib();
	char fresh[1024];
	fds_new(at_start, fresh, sizeof fresh);
	close(listener);
	printf("races=%d race.old=%ld race.new=%ld race.ebadf=%ld race.other=%ld race.hang=%ld "
	       "newfd.ok=%ld newfd.bad=%ld fds.start=%ld fds.after_cases=%ld fds.end=%ld rss.start=%ld "
	       "rss.end=%ld fds.new=%s\n",
	       races, old, new_file, ebadf, other, hangs, new_ok, new_bad, fds0, fds_cases, fds1, rss0,
	       rss1, fresh);
	return hangs || new_bad ? 1 : 0;
}
