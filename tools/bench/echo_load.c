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
 * With -m set or -m get it speaks memcached's text protocol instead, as a
 * light load for a memcached server (tools/bench/memcached.sh, LOAD=light):
 * each round is one request, "set gs:ID 0 0 SIZE" with a SIZE-byte value
 * that changes every round (the reply must be STORED), or "get gs:ID"
 * (the reply must be that key's VALUE line, its value and END). In get
 * mode a connection's first round is the set that stores its key; it is
 * counted and timed like the gets.
 *
 * Usage: gs-echo-load -p PORT [-c CONNS] [-n ROUNDS | -d SECONDS] [-s SIZE]
 *                     [-m echo|set|get]
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

enum mode { ECHO, MC_SET, MC_GET };

struct conn {
	int fd;
	int id;
	long round;
	size_t sent, got;
	/* This round's request and the reply it must get, in the memcached
	 * modes (the echo's bytes are pattern()'s). */
	char *req, *want;
	size_t req_len, want_len;
	double t0;
	bool connected, done;
};

static enum mode mode = ECHO;
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

static size_t out_len(const struct conn *c)
{
	return mode == ECHO ? size : c->req_len;
}

static size_t in_len(const struct conn *c)
{
	return mode == ECHO ? size : c->want_len;
}

static unsigned char out_byte(const struct conn *c, size_t k)
{
	return mode == ECHO ? pattern(c, k) : (unsigned char)c->req[k];
}

static unsigned char in_byte(const struct conn *c, size_t k)
{
	return mode == ECHO ? pattern(c, k) : (unsigned char)c->want[k];
}

/* Writes the header printf makes, then the value of key ID as stored in
 * round r, then the tail: one memcached request or reply. */
static size_t mc_message(char *buf, const struct conn *c, long r, const char *head,
			 const char *tail)
{
	size_t n = (size_t)sprintf(buf, head, c->id, size);

	for (size_t k = 0; k < size; k++)
		buf[n++] = (char)('a' + (c->id * 31 + r * 7 + (long)k) % 26);
	return n + (size_t)sprintf(buf + n, "%s", tail);
}

/* Makes this round's request and expected reply (memcached modes). */
static void start_round(struct conn *c)
{
	c->sent = c->got = 0;
	if (mode == ECHO)
		return;
	if (mode == MC_SET || c->round == 0) {
		c->req_len = mc_message(c->req, c, c->round, "set gs:%d 0 0 %zu\r\n", "\r\n");
		c->want_len = (size_t)sprintf(c->want, "STORED\r\n");
	} else {
		c->req_len = (size_t)sprintf(c->req, "get gs:%d\r\n", c->id);
		c->want_len = mc_message(c->want, c, 0, "VALUE gs:%d 0 %zu\r\n", "\r\nEND\r\n");
	}
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

	while (c->sent < out_len(c)) {
		size_t left = out_len(c) - c->sent, n = left < sizeof buf ? left : sizeof buf;
		ssize_t w;

		for (size_t k = 0; k < n; k++)
			buf[k] = out_byte(c, c->sent + k);
		w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN)
				fail(c, strerror(errno));
			else
				want_out(c, true);
			return;
		}
		c->sent += (size_t)w;
		if (c->sent == out_len(c) && w != (ssize_t)n)
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
			if (c->got + (size_t)k >= in_len(c) || buf[k] != in_byte(c, c->got + (size_t)k)) {
				fail(c, mode == ECHO ? "wrong byte in the echo" : "wrong byte in the reply");
				return;
			}
		}
		c->got += (size_t)n;
		bytes += (unsigned long long)n;
		if (c->got == in_len(c)) {
			double t = now_s();

			record((t - c->t0) * 1e6);
			roundtrips++;
			c->round++;
			if ((rounds > 0 && c->round >= rounds) || (end > 0 && t >= end)) {
				finish(c);
				return;
			}
			start_round(c);
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

	while ((opt = getopt(argc, argv, "p:c:n:d:s:m:")) != -1) {
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
		case 'm':
			if (strcmp(optarg, "set") == 0)
				mode = MC_SET;
			else if (strcmp(optarg, "get") == 0)
				mode = MC_GET;
			else if (strcmp(optarg, "echo") != 0)
				goto usage;
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
		if (mode != ECHO) {
			/* the longest line: a VALUE header with its key */
			cs[i].req = malloc(size + 64);
			cs[i].want = malloc(size + 64);
			if (cs[i].req == NULL || cs[i].want == NULL) {
				perror("gs-echo-load: malloc");
				return 1;
			}
		}
		start_round(&cs[i]);
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
			if (c->sent < out_len(c))
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
	fprintf(stderr,
		"usage: %s -p PORT [-c CONNS] [-n ROUNDS | -d SECONDS] [-s SIZE] [-m echo|set|get]\n",
		argv[0]);
	return 2;
}
