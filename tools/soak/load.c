/*
 * gs-soak-load: the load of the soak and fault runs (tools/soak/run.sh), one
 * thread on epoll, run natively only. Every byte it sends is a function of
 * (connection, generation, offset), so every byte that comes back is
 * checked where it lands.
 *
 *   gs-soak-load -p PORT [-a ADDR] [-c CONNS] [-d SECONDS] [-m MODE] [-r CHURN] [-S SEED]
 *
 * Modes:
 *   echo  keep CONNS connections doing round trips of 1..8192 bytes for
 *         SECONDS; with -r N a connection closes after 1..N round trips and
 *         a new one takes its place (threads and fds come and go on the
 *         server all the time). Then finish the round trips under way and
 *         close everything.
 *   once  open CONNS connections at once, one round trip of 1,000 bytes
 *         each, close; ends when all are done or after SECONDS.
 *   rst   keep CONNS connections sending 64 KiB..1 MiB without reading,
 *         and reset each (SO_LINGER 0, close) at a random point mid-write;
 *         the server is then blocked in write, or about to read. SECONDS.
 *
 * Prints one line: "conns= roundtrips= sent= verified= resets= mismatches=
 * errors=" and every errno seen; exits 1 if a byte came back wrong, an
 * echo connection broke, or echo/once did not finish.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NERR 160
#define MAX_CONNECTING 256

enum mode { ECHO, ONCE, RST };

struct conn {
	int fd;
	int connecting;
	uint32_t id, gen;
	uint64_t rng;
	long len, sent, got; /* the current message */
	long trips_left;
};

static long trips, sent_bytes, verified, resets, mismatches, errors, connects, done;
static long errs[NERR];
static int epfd, port, churn;
static enum mode mode;
static struct in_addr addr;
static char scratch[1 << 16];

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned char byte_at(const struct conn *c, long off)
{
	uint64_t x = ((uint64_t)c->id << 40) ^ ((uint64_t)c->gen << 20) ^ (uint64_t)off;

	x *= 0x9e3779b97f4a7c15ull;
	return (unsigned char)(x >> 56);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(int err)
{
	errors++;
	errs[err > 0 && err < NERR ? err : 0]++;
}

static void next_message(struct conn *c)
{
	c->sent = c->got = 0;
	if (mode == RST)
		c->len = 65536 + splitmix(&c->rng) % (1 << 20);
	else if (mode == ONCE)
		c->len = 1000;
	else
		c->len = 1 + splitmix(&c->rng) % 8192;
}

static int open_conn(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr };

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		fail(errno);
		return -1;
	}
	c->gen++;
	c->trips_left = churn ? 1 + (long)(splitmix(&c->rng) % churn) : -1;
	next_message(c);
	c->connecting = 1;
	connects++;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		fail(errno);
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void close_conn(struct conn *c, int reset)
{
	if (reset) {
		struct linger l = { 1, 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		resets++;
	}
	close(c->fd);
	c->fd = -1;
}

static void want(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Moves connection c on; returns 1 when it is finished for good. */
/* Sends the message's next bytes until at least stop are sent, the
 * socket is full, or the message ends; -1 when a send failed (counted,
 * the connection closed). */
static int send_until(struct conn *c, long stop)
{
	while (c->sent < c->len && c->sent < stop) {
		long n = c->len - c->sent;

		if (n > (long)sizeof scratch)
			n = sizeof scratch;
		for (long i = 0; i < n; i++)
			scratch[i] = byte_at(c, c->sent + i);
		ssize_t w = send(c->fd, scratch, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN)
				break;
			fail(errno);
			close_conn(c, 0);
			return -1;
		}
		c->sent += w;
		sent_bytes += w;
	}
	return 0;
}

static int step(struct conn *c, int stopping)
{
	if (c->connecting) {
		int err = 0;
		socklen_t l = sizeof err;

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			fail(err);
			close_conn(c, 0);
			return 1;
		}
		c->connecting = 0;
	}
	if (mode == RST) {
		long reset_at = c->len / 2 + (long)(splitmix(&c->rng) % (c->len / 2));

		if (send_until(c, reset_at) < 0)
			return 1;
		if (c->sent < reset_at && c->sent < c->len) {
			want(c, EPOLLOUT);
			return 0;
		}
		close_conn(c, 1);
		trips++;
		return 1;
	}
	if (send_until(c, c->len) < 0)
		return 1;
	for (;;) {
		ssize_t r = recv(c->fd, scratch, sizeof scratch, 0);

		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			fail(r == 0 ? 0 : errno);
			close_conn(c, 0);
			return 1;
		}
		for (ssize_t i = 0; i < r; i++)
			if ((unsigned char)scratch[i] != byte_at(c, c->got + i))
				mismatches++;
		c->got += r;
		verified += r;
		if (c->got > c->sent)
			mismatches++;
		if (c->got >= c->len)
			break;
	}
	if (c->got < c->len) {
		want(c, c->sent < c->len ? EPOLLIN | EPOLLOUT : EPOLLIN);
		return 0;
	}
	trips++;
	if (mode == ONCE || stopping || (c->trips_left > 0 && --c->trips_left == 0)) {
		close_conn(c, 0);
		if (mode == ONCE)
			done++;
		return 1;
	}
	next_message(c);
	return step(c, stopping);
}

int main(int argc, char **argv)
{
	int conns = 100, opt;
	double secs = 5;
	unsigned seed = 1;

	inet_pton(AF_INET, "127.0.0.1", &addr);
	while ((opt = getopt(argc, argv, "p:a:c:d:m:r:S:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'a': inet_pton(AF_INET, optarg, &addr); break;
		case 'c': conns = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'r': churn = atoi(optarg); break;
		case 'S': seed = strtoul(optarg, NULL, 10); break;
		case 'm':
			mode = !strcmp(optarg, "once") ? ONCE : !strcmp(optarg, "rst") ? RST : ECHO;
			break;
		default:
			fprintf(stderr, "usage: %s -p PORT [-a ADDR] [-c CONNS] [-d SECONDS] "
					"[-m echo|once|rst] [-r CHURN] [-S SEED]\n", argv[0]);
			return 2;
		}
	}
	struct conn *cs = calloc(conns, sizeof *cs);
	struct epoll_event evs[256];
	epfd = epoll_create1(0);
	for (int i = 0; i < conns; i++) {
		cs[i].fd = -1;
		cs[i].id = seed * 1000003u + i;
		cs[i].rng = cs[i].id;
	}
	double start = now(), end = start + secs, hard_end = end + 60;
	int opened = 0, connecting = 0, live = 0;

	for (;;) {
		double t = now();
		int stopping = t >= end;

		if (mode == ONCE && done + errors >= conns)
			break;
		if (t >= hard_end)
			break;
		/* Open or reopen connections, a bounded number connecting at once. */
		if (!stopping || (mode == ONCE && opened < conns)) {
			for (int i = 0; i < conns && connecting < MAX_CONNECTING; i++) {
				if (cs[i].fd >= 0 || (mode == ONCE && i < opened))
					continue;
				if (mode == ONCE && i != opened)
					continue;
				if (open_conn(&cs[i]) == 0) {
					connecting++;
					live++;
				}
				if (mode == ONCE)
					opened++;
			}
		}
		if (stopping && mode != ONCE && live == 0)
			break;
		int n = epoll_wait(epfd, evs, 256, 100);
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int was_connecting = c->connecting;

			if (step(c, stopping))
				live--;
			if (was_connecting)
				connecting--;
		}
		/* Connections that finish in this pass get reopened above. */
		if (stopping && mode == RST) {
			for (int i = 0; i < conns; i++)
				if (cs[i].fd >= 0) {
					close_conn(&cs[i], 1);
					live--;
				}
		}
	}
	int unfinished = 0;
	for (int i = 0; i < conns; i++)
		if (cs[i].fd >= 0) {
			unfinished++;
			close(cs[i].fd);
		}
	printf("conns=%d connects=%ld roundtrips=%ld sent=%ld verified=%ld resets=%ld mismatches=%ld "
	       "errors=%ld unfinished=%d seconds=%.1f",
	       conns, connects, trips, sent_bytes, verified, resets, mismatches, errors, unfinished,
	       now() - start);
	for (int e = 0; e < NERR; e++)
		if (errs[e])
			printf(" %s=%ld", e ? strerrorname_np(e) : "EOF", errs[e]);
	printf("\n");
	if (mismatches || (mode != RST && (errors || unfinished)) ||
	    (mode == ONCE && done != conns) || (mode == ECHO && sent_bytes != verified))
		return 1;
	return 0;
}
