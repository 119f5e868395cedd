/*
 * A differential fuzzer for the descriptor layer: an ordinary program
 * (never linked to greenshim) that makes a random sequence of descriptor
 * calls from a seed and prints every result: the return value, errno,
 * poll's revents, select's and epoll's ready sets, the bytes read,
 * O_NONBLOCK as fcntl shows it. Run natively and under greenshim with the
 * same seed, the two outputs must be identical (tests/fuzz/run.sh).
 *
 *   fdfuzz SEED [STEPS]
 *
 * On pipes, socketpairs (stream and datagram), eventfds and a loopback TCP
 * connection: read/write/recv/send with MSG_DONTWAIT and MSG_PEEK,
 * poll/select/epoll with a zero or 1 ms timeout, fcntl O_NONBLOCK, dup,
 * dup2, dup3, close, close_range, shutdown, SO_RCVTIMEO. A call that
 * would block for ever natively is not made: a blocking read only where
 * poll says readable, or where SO_RCVTIMEO bounds it; a blocking write
 * only of a few bytes where poll says writable. A second thread waits all
 * along, so that greenshim's green machinery is fully on.
 *
 * Loopback TCP delivers in the sender's call, except on a loaded machine,
 * where the kernel may leave the delivery to its softirq thread: a send
 * then returns before the peer has the bytes, a close before the peer has
 * the FIN or RST. Such a run's results depend on the kernel's timing, not
 * on the code under test (a native run once sent to a socket whose RST was
 * still in flight, where the other run had died of SIGPIPE). So after each
 * step the program waits until every TCP pair it made has settled: every
 * byte sent is received, every FIN and RST has arrived (settle()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with the byte counts */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define SLOTS 12

static uint64_t rng;
static int slot[SLOTS]; /* fds the program holds, -1 for none */
static int ep = -1;     /* an epoll instance */
static long step;

/* The TCP pairs made, by their sockets' inodes (ino 0: a free entry). A
 * pair leaves the table once the program holds neither end. */
static struct {
	ino_t ino[2];
} pairs[2 * SLOTS];

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int pick(int n)
{
	return (int)(next() % (uint64_t)n);
}

/* An fd slot, or an fd number nobody holds now and then. */
static int any_fd(void)
{
	int s = pick(SLOTS + 1);

	return s == SLOTS ? 200 + pick(10) : slot[s];
}

static void result(const char *what, long r, const char *extra)
{
	printf("%ld %s -> %ld %s%s\n", step, what, r, r < 0 ? strerror(errno) : "", extra);
}

static void put(int fd)
{
	for (int i = 0; i < SLOTS; i++) {
		if (slot[i] < 0) {
			slot[i] = fd;
			return;
		}
	}
	close(fd); /* full: let it go */
}

static void forget(int fd)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i] == fd)
			slot[i] = -1;
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static int writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLOUT | POLLERR | POLLHUP));
}

static int nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* A connected loopback TCP pair, or -1. */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) != 0)
		return -1;
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, len) != 0)
		return -1;
	fds[1] = accept(l, NULL, NULL);
	close(l);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fds[1] < 0 ? -1 : 0;
}

static ino_t inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

static void pair_add(const int fds[2])
{
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		if (pairs[i].ino[0] == 0) {
			pairs[i].ino[0] = inode(fds[0]);
			pairs[i].ino[1] = inode(fds[1]);
			return;
		}
	}
	abort(); /* cannot be: a pair held takes two of SLOTS slots */
}

/* A slot's fd that is the socket with this inode, or -1. */
static int held(ino_t ino)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i] >= 0 && inode(slot[i]) == ino)
			return slot[i];
	return -1;
}

/* tcpi_state's values (the kernel's net/tcp_states.h; glibc's
 * <netinet/tcp.h> names them too, but cannot be included with <linux/tcp.h>). */
enum {
	ST_FIN_WAIT1 = 4,
	ST_FIN_WAIT2 = 5,
	ST_CLOSE = 7,
	ST_CLOSE_WAIT = 8,
	ST_LAST_ACK = 9,
	ST_CLOSING = 11,
};

static int tcp_info_of(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof *ti;

	memset(ti, 0, sizeof *ti);
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len);
}

/* A FIN has come in: the state after ESTABLISHED or FIN_WAIT on receipt. */
static int got_fin(const struct tcp_info *t)
{
	return t->tcpi_state == ST_CLOSE_WAIT || t->tcpi_state == ST_LAST_ACK ||
	       t->tcpi_state == ST_CLOSING || t->tcpi_state == ST_CLOSE;
}

/* All that `from` sent has reached `to`: its bytes, and its FIN if sent. */
static int delivered(const struct tcp_info *from, const struct tcp_info *to)
{
	int fin_sent = from->tcpi_state == ST_FIN_WAIT1 || from->tcpi_state == ST_FIN_WAIT2 ||
		       from->tcpi_state == ST_CLOSING || from->tcpi_state == ST_LAST_ACK;

	/* bytes_received counts the FIN's sequence number; bytes_sent no
	 * FIN, and each byte sent again once more (bytes_retrans). */
	return from->tcpi_notsent_bytes == 0 && (!fin_sent || got_fin(to)) &&
	       from->tcpi_bytes_sent - from->tcpi_bytes_retrans + (unsigned)fin_sent ==
		       to->tcpi_bytes_received;
}

/* Nothing of this pair is in flight any more (the program holds a or b). */
static int pair_settled(int a, int b)
{
	struct tcp_info ta, tb;

	if (a < 0 || b < 0) {
		/* The other end is closed: its FIN (or RST) has come, and
		 * whatever this end sent since has been answered (acked, or
		 * refused with an RST that closed this end). */
		if (tcp_info_of(a >= 0 ? a : b, &ta) != 0)
			return 1;
		return ta.tcpi_state == ST_CLOSE ||
		       (got_fin(&ta) && ta.tcpi_notsent_bytes == 0 && ta.tcpi_unacked == 0);
	}
	if (tcp_info_of(a, &ta) != 0 || tcp_info_of(b, &tb) != 0)
		return 1;
	if (ta.tcpi_state == ST_CLOSE || tb.tcpi_state == ST_CLOSE)
		return ta.tcpi_state == tb.tcpi_state; /* an RST: both ends close */
	return delivered(&ta, &tb) && delivered(&tb, &ta);
}

/* Waits (2 s at most, then says so) until no TCP pair has anything in
 * flight; forgets the pairs the program no longer holds. */
static void settle(void)
{
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		int a, b, waited = 0;

		if (pairs[i].ino[0] == 0)
			continue;
		a = held(pairs[i].ino[0]);
		b = held(pairs[i].ino[1]);
		if (a < 0 && b < 0) {
			pairs[i].ino[0] = pairs[i].ino[1] = 0;
			continue;
		}
		while (!pair_settled(a, b)) {
			if (++waited == 40000) {
				printf("%ld tcp pair %d %d did not settle in 2 s\n", step, a, b);
				break;
			}
			usleep(50);
		}
	}
}

static void op_make(void)
{
	int fds[2], r, kind = pick(5);
	static const char *const names[] = { "pipe2", "socketpair-stream", "socketpair-dgram",
					     "eventfd", "tcp" };
	char extra[64];

	fds[1] = -1;
	switch (kind) {
	case 0:
		r = pipe2(fds, pick(2) ? O_NONBLOCK : 0);
		break;
	case 1:
		r = socketpair(AF_UNIX, SOCK_STREAM | (pick(2) ? SOCK_NONBLOCK : 0), 0, fds);
		break;
	case 2:
		r = socketpair(AF_UNIX, SOCK_DGRAM, 0, fds);
		break;
	case 3:
		r = fds[0] = eventfd((unsigned)pick(3), pick(2) ? EFD_NONBLOCK : 0);
		break;
	default:
		r = tcp_pair(fds);
		break;
	}
	snprintf(extra, sizeof extra, " fds %d %d", r < 0 ? -1 : fds[0], r < 0 ? -1 : fds[1]);
	result(names[kind], r, extra);
	if (r >= 0 && kind == 4)
		pair_add(fds);
	if (r >= 0) {
		put(fds[0]);
		if (kind != 3)
			put(fds[1]);
	}
}

static void op_write(void)
{
	int fd = any_fd(), how = pick(3);
	char buf[512], extra[32];
	size_t n = 1 + (size_t)pick(how == 2 ? 8 : 500);
	long r;

	if (fd >= 0 && !nonblocking(fd) && !writable(fd))
		return; /* would block for ever */
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (step + (long)i) % 26);
	if (how == 2) {
		uint64_t v = 1 + (uint64_t)pick(5);

		r = write(fd, &v, sizeof v); /* an eventfd's 8 bytes */
	} else if (how == 1) {
		r = send(fd, buf, n, pick(2) ? MSG_DONTWAIT : 0);
	} else {
		r = write(fd, buf, n);
	}
	snprintf(extra, sizeof extra, " fd %d n %zu", fd, n);
	result(how == 1 ? "send" : "write", r, extra);
}

static void op_read(void)
{
	int fd = any_fd(), how = pick(3), flags = 0;
	char buf[600], extra[700];
	size_t n = 1 + (size_t)pick(how == 0 ? 8 : 599);
	long r;

	if (how == 1)
		flags = (pick(2) ? MSG_DONTWAIT : 0) | (pick(3) == 0 ? MSG_PEEK : 0);
	if (fd >= 0 && !(flags & MSG_DONTWAIT) && !nonblocking(fd) && !readable(fd))
		return;
	if (how == 0 && n < 8)
		n = 8; /* an eventfd wants 8 */
	if (how == 1)
		r = recv(fd, buf, n, flags);
	else
		r = read(fd, buf, n);
	snprintf(extra, sizeof extra, " fd %d n %zu flags %d data %.*s", fd, n, flags,
		 r > 0 ? (int)(r < 64 ? r : 64) : 0, buf);
	for (char *p = extra; *p != '\0'; p++)
		if (*p < ' ' || *p > '~')
			*p = '.';
	result(how == 1 ? "recv" : "read", r, extra);
}

static void op_poll(void)
{
	struct pollfd p[4];
	int n = 1 + pick(4), timeout = pick(3) == 0 ? 1 : 0;
	char extra[128];
	size_t at = 0;
	long r;

	for (int i = 0; i < n; i++) {
		p[i].fd = any_fd();
		p[i].events = (short)(pick(2) ? POLLIN : POLLIN | POLLOUT);
		p[i].revents = 0;
	}
	r = poll(p, (nfds_t)n, timeout);
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(extra + at, sizeof extra - at, " %d:%#x", p[i].fd, p[i].revents);
	result("poll", r, extra);
}

static void op_select(void)
{
	fd_set rd, wr;
	struct timeval tv = { 0, pick(2) ? 1000 : 0 };
	int fds[3], nfds = 0;
	char extra[128] = "";
	size_t at = 0;
	long r;

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	for (int i = 0; i < 3; i++) {
		fds[i] = slot[pick(SLOTS)];
		if (fds[i] < 0)
			continue;
		FD_SET(fds[i], &rd);
		if (pick(2))
			FD_SET(fds[i], &wr);
		if (fds[i] >= nfds)
			nfds = fds[i] + 1;
	}
	r = select(nfds, &rd, &wr, NULL, &tv);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			at += (size_t)snprintf(extra + at, sizeof extra - at, " %d:%d%d", fds[i],
					       FD_ISSET(fds[i], &rd) != 0, FD_ISSET(fds[i], &wr) != 0);
	result("select", r, extra);
}

static void op_epoll(void)
{
	struct epoll_event ev[4];
	char extra[128];
	size_t at = 0;
	int fd = any_fd();
	long r;

	if (ep < 0) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		result("epoll_create1", ep, "");
		return;
	}
	switch (pick(3)) {
	case 0:
		ev[0].events = pick(2) ? EPOLLIN : EPOLLIN | EPOLLOUT;
		ev[0].data.u64 = (uint64_t)fd;
		r = epoll_ctl(ep, pick(3) == 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev[0]);
		snprintf(extra, sizeof extra, " fd %d", fd);
		result("epoll_ctl", r, extra);
		break;
	case 1:
		r = epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		snprintf(extra, sizeof extra, " del fd %d", fd);
		result("epoll_ctl", r, extra);
		break;
	default:
		r = epoll_wait(ep, ev, 4, pick(3) == 0 ? 1 : 0);
		extra[0] = '\0';
		/* The kernel's order of ready fds is its own: sorted. */
		for (int i = 0; i < r; i++)
			for (int j = i + 1; j < r; j++)
				if (ev[j].data.u64 < ev[i].data.u64) {
					struct epoll_event t = ev[i];

					ev[i] = ev[j];
					ev[j] = t;
				}
		for (int i = 0; i < r; i++)
			at += (size_t)snprintf(extra + at, sizeof extra - at, " %d:%#x",
					       (int)ev[i].data.u64, ev[i].events);
		result("epoll_wait", r, extra);
		break;
	}
}

static void op_fcntl(void)
{
	int fd = any_fd(), fl;
	char extra[32];
	long r;

	if (pick(2)) {
		fl = fcntl(fd, F_GETFL);
		r = fl < 0 ? -1 : fcntl(fd, F_SETFL, pick(2) ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
		snprintf(extra, sizeof extra, " fd %d", fd);
		result("fcntl-setfl", r, extra);
	} else {
		r = fcntl(fd, F_GETFL);
		snprintf(extra, sizeof extra, " fd %d nonblock %d", fd,
			 r >= 0 && (r & O_NONBLOCK) ? 1 : 0);
		result("fcntl-getfl", r < 0 ? -1 : 0, extra);
	}
}

static void op_dup_close(void)
{
	int fd = any_fd(), to, r;
	char extra[32];

	switch (pick(6)) {
	case 0:
		r = dup(fd);
		result("dup", r, "");
		if (r >= 0)
			put(r);
		break;
	case 1:
	case 2:
		to = slot[pick(SLOTS)];
		if (to < 0)
			to = 100 + pick(5);
		r = pick(2) ? dup2(fd, to) : dup3(fd, to, pick(2) ? O_CLOEXEC : 0);
		snprintf(extra, sizeof extra, " %d onto %d", fd, to);
		result("dup2/3", r, extra);
		if (r >= 0 && fd != to) {
			forget(to);
			put(to);
		}
		break;
	case 3:
		r = close(fd);
		snprintf(extra, sizeof extra, " fd %d", fd);
		result("close", r, extra);
		forget(fd);
		break;
	case 4:
		r = shutdown(fd, pick(3));
		snprintf(extra, sizeof extra, " fd %d", fd);
		result("shutdown", r, extra);
		break;
	default: {
		/* A short receive timeout: a blocking read then ends. */
		struct timeval tv = { 0, 2000 };

		r = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		snprintf(extra, sizeof extra, " fd %d", fd);
		result("rcvtimeo", r, extra);
		if (r == 0 && !nonblocking(fd) && !readable(fd)) {
			char c;

			r = (int)recv(fd, &c, 1, 0);
			snprintf(extra, sizeof extra, " fd %d", fd);
			result("recv-timeo", r, extra);
		}
		break;
	}
	}
}

/* Waits for ever on the read end of a pipe that main made (before the
 * sequence, so that its numbers are the same in every run). */
static void *waiter(void *arg)
{
	char c;

	(void)!read((int)(intptr_t)arg, &c, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	long steps = argc > 2 ? atol(argv[2]) : 300;
	int idle[2];
	pthread_t t;

	if (argc < 2) {
		fprintf(stderr, "usage: fdfuzz SEED [STEPS]\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < SLOTS; i++)
		slot[i] = -1;
	if (pipe(idle) != 0)
		return 1;
	pthread_create(&t, NULL, waiter, (void *)(intptr_t)idle[0]);
	usleep(1000);
	for (step = 0; step < steps; step++) {
		switch (pick(10)) {
		case 0:
			op_make();
			break;
		case 1:
		case 2:
			op_write();
			break;
		case 3:
		case 4:
			op_read();
			break;
		case 5:
			op_poll();
			break;
		case 6:
			op_select();
			break;
		case 7:
			op_epoll();
			break;
		case 8:
			op_fcntl();
			break;
		default:
			op_dup_close();
			break;
		}
		settle();
	}
	/* The end: close_range over everything the program holds. */
	printf("close_range -> %d\n", close_range((unsigned)idle[1] + 1, 199, 0));
	return 0;
}
