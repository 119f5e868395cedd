/*
 * gs-echo-load: many connections doing ping-pong round trips against an
 * echo server, every byte checked. One thread, one epoll set, so that the
 * load costs the same whatever the server is.
 *
 * Each connection sends SIZE bytes, waits for the same SIZE bytes back,
 * checks them, and starts again, ROUNDS times (or until SECONDS pass).
 * The bytes depend on the connection and the round, so a reply that went
 * to the wrong connection or came back stale is caught.
 *
 * Usage: gs-echo-load -p PORT [-c CONNS] [-n ROUNDS | -d SECONDS] [-s SIZE]
 * Prints one line of key=value pairs:
 *   conns= roundtrips= bytes= errors= seconds= rps= p50_us= p99_us= max_us=
 * and exits 1 if any connection failed or any byte was wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US 200000 /* latency histogram: 1 us buckets up to 200 ms */

struct conn {
	int fd;
	int id;
	long round;
	size_t sent, got;
	double t0;
	bool connected, done;
};

static size_t size = 64;
static int ep;
static long live;
static unsigned *hist;
static unsigned long over_hist, roundtrips, errors;
static unsigned long long bytes;
static double max_us;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char pattern(const struct conn *c, size_t k)
{
	return (unsigned char)(c->id * 31 + c->round * 7 + (long)k);
}

static void finish(struct conn *c)
{
	c->done = true;
	close(c->fd);
	live--;
}

static void fail(struct conn *c, const char *why)
{
	if (!c->done) {
		fprintf(stderr, "gs-echo-load: connection %d, round %ld: %s\n", c->id, c->round, why);
		errors++;
		finish(c);
	}
}

/* Wants EPOLLOUT only while part of a message waits for room. */
static void want_out(struct conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what is left of this round's message. */
static void pump_send(struct conn *c)
{
	unsigned char buf[65536];

	while (c->sent < size) {
		size_t n = size - c->sent < sizeof buf ? size - c->sent : sizeof buf;
		ssize_t w;

		for (size_t k = 0; k < n; k++)
			buf[k] = pattern(c, c->sent + k);
		w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN)
				fail(c, strerror(errno));
			else
				want_out(c, true);
			return;
		}
		c->sent += (size_t)w;
		if (c->sent == size && w != (ssize_t)n)
			want_out(c, false);
	}
}

static void record(double us)
{
	if (us < HIST_US)
		hist[(size_t)us]++;
	else
		over_hist++;
	if (us > max_us)
		max_us = us;
}

static void pump_recv(struct conn *c, long rounds, double end)
{
	unsigned char buf[65536];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof buf, 0);

		if (n < 0) {
			if (errno != EAGAIN)
				fail(c, strerror(errno));
			return;
		}
		if (n == 0) {
			fail(c, "connection closed by the server");
			return;
		}
		for (ssize_t k = 0; k < n; k++) {
			if (c->got + (size_t)k >= size || buf[k] != pattern(c, c->got + (size_t)k)) {
				fail(c, "wrong byte in the echo");
				return;
			}
		}
		c->got += (size_t)n;
		bytes += (unsigned long long)n;
		if (c->got == size) {
			double t = now_s();

			record((t - c->t0) * 1e6);
			roundtrips++;
			c->round++;
			if ((rounds > 0 && c->round >= rounds) || (end > 0 && t >= end)) {
				finish(c);
				return;
			}
			c->sent = c->got = 0;
			c->t0 = t;
			pump_send(c);
		}
	}
}

static double percentile(double p)
{
	unsigned long want = (unsigned long)((double)roundtrips * p), seen = 0;

	for (size_t us = 0; us < HIST_US; us++) {
		seen += hist[us];
		if (seen > want)
			return (double)us;
	}
	return max_us;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	long conns = 100, rounds = 0;
	double seconds = 0, t0, end = 0;
	struct epoll_event evs[512];
	struct conn *cs;
	struct rlimit rl;
	int opt, port = 0;

	while ((opt = getopt(argc, argv, "p:c:n:d:s:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			conns = atol(optarg);
			break;
		case 'n':
			rounds = atol(optarg);
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 's':
			size = (size_t)atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || conns <= 0 || size == 0 || (rounds <= 0) == (seconds <= 0))
		goto usage;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)conns + 16) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sa.sin_port = htons((uint16_t)port);
	hist = calloc(HIST_US, sizeof *hist);
	cs = calloc((size_t)conns, sizeof *cs);
	ep = epoll_create1(0);
	t0 = now_s();
	if (seconds > 0)
		end = t0 + seconds;
	live = conns;
	for (long i = 0; i < conns; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = &cs[i] };
		int one = 1;

		cs[i].id = (int)i;
		cs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (cs[i].fd < 0) {
			perror("gs-echo-load: socket");
			return 1;
		}
		setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
			fail(&cs[i], strerror(errno));
			continue;
		}
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	while (live > 0) {
		int n = epoll_wait(ep, evs, 512, 10000);

		if (n == 0) {
			fprintf(stderr, "gs-echo-load: no progress for 10 s\n");
			errors++;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->done)
				continue;
			if (!c->connected) {
				int err = 0;
				socklen_t len = sizeof err;

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0) {
					fail(c, strerror(err));
					continue;
				}
				c->connected = true;
				want_out(c, false);
				c->t0 = now_s();
				pump_send(c);
				continue;
			}
			if (c->sent < size)
				pump_send(c);
			pump_recv(c, rounds, end);
		}
	}
	double secs = now_s() - t0;

	printf("conns=%ld roundtrips=%lu bytes=%llu errors=%lu seconds=%.3f rps=%.0f p50_us=%.0f "
	       "p99_us=%.0f max_us=%.0f\n",
	       conns, roundtrips, bytes, errors, secs, (double)roundtrips / secs, percentile(0.50),
	       percentile(0.99), max_us);
	return errors == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: %s -p PORT [-c CONNS] [-n ROUNDS | -d SECONDS] [-s SIZE]\n", argv[0]);
	return 2;
}
