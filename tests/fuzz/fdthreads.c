/*
 * The descriptor fuzzer's multi-thread mode: an ordinary program (never
 * linked to greenshim) whose threads make random descriptor calls on
 * shared channels at once, so that no two runs interleave alike. Outputs
 * cannot be compared with a native run; invariants are checked instead,
 * natively and under greenshim alike (tests/fuzz/run.sh):
 *  1. no lost, doubled, reordered or foreign byte: every channel (a pipe,
 *     a stream socketpair or a loopback TCP connection) carries a pattern
 *     of its own generation, and every byte read is checked against it;
 *     at the end every channel is drained to end of file and the bytes
 *     read are the bytes written;
 *  2. no wake-up of a closed or reused fd: channels are closed while
 *     other threads wait on them (read, poll) and new ones made, which
 *     the kernel gives the lowest free numbers, often the closed ones; a
 *     wait that saw another channel's bytes breaks invariant 1;
 *  3. every wait ends: a watchdog ends the run (status 3) if one call
 *     takes 10 s;
 *  4. every result is one the call may give natively: a byte count or
 *     EAGAIN, EBADF, EPIPE, ECONNRESET, per call.
 *
 *   fdthreads SEED [SECONDS]      prints "ok ..." or "FAIL ..." lines
 *
 * A channel is remade (under a write lock that in-flight calls hold for
 * reading) only once no call is in flight, so that no call that began
 * before a close lands on a new channel's number: a wait on a closed fd
 * must end (the native kernel ends it at end of file, when the other end
 * is closed with it; greenshim with EBADF) before any number is reused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#define CHANNELS 6
#define THREADS 6
#define WATCHDOG_NS (10LL * 1000000000)
/* Bytes in flight below which a blocking write cannot block: less than a
 * pipe's 64 KiB, a socket's buffers. */
#define ROOM (32 * 1024)

struct channel {
	pthread_mutex_t lock;   /* the fields below but the counters */
	int rd, wr;             /* -1 when closed */
	unsigned gen;           /* the pattern's generation */
	atomic_flag reading, writing; /* one reader, one writer at a time */
	long long rpos, wpos;   /* bytes read, written (by the token holder) */
};

static struct channel ch[CHANNELS];
static pthread_rwlock_t reuse; /* calls hold it shared; remaking, exclusive */
static atomic_uint next_gen = 1;
static atomic_llong verified, ops;
static atomic_int failed;
static int64_t op_started[THREADS]; /* 0: not in a call */
static const char *op_name[THREADS];
static int op_fd[THREADS];
static unsigned op_gen[THREADS];
static int listener = -1;
static struct sockaddr_in laddr;
static volatile int stop;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned char pattern(unsigned gen, long long pos)
{
	return (unsigned char)((gen * 2654435761u) ^ (unsigned)(pos * 131) ^ (unsigned)(pos >> 8));
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	atomic_store(&failed, 1);
}

/* A new channel in c (c->lock held, no call in flight anywhere). */
static void make_channel(struct channel *c, unsigned kind)
{
	int fds[2];

	c->rd = c->wr = -1;
	if (kind == 0) {
		if (pipe(fds) != 0)
			return;
	} else if (kind == 1) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
			return;
	} else {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0)
			return;
		if (connect(s, (struct sockaddr *)&laddr, sizeof laddr) != 0) {
			close(s);
			return;
		}
		fds[0] = accept(listener, NULL, NULL);
		fds[1] = s;
		if (fds[0] < 0) {
			close(s);
			return;
		}
	}
	c->rd = fds[0];
	c->wr = fds[1];
	c->gen = atomic_fetch_add(&next_gen, 1);
	c->rpos = c->wpos = 0;
}

static void close_channel(struct channel *c)
{
	if (c->rd >= 0)
		close(c->rd);
	if (c->wr >= 0)
		close(c->wr);
	c->rd = c->wr = -1;
}

static bool allowed(int e, bool writing)
{
	return e == EAGAIN || e == EBADF || e == ECONNRESET || (writing && e == EPIPE);
}

static void begin(int t, const char *name, int fd, unsigned gen)
{
	op_name[t] = name;
	op_fd[t] = fd;
	op_gen[t] = gen;
	__atomic_store_n(&op_started[t], now_ns(), __ATOMIC_RELAXED);
}

static void end(int t)
{
	__atomic_store_n(&op_started[t], 0, __ATOMIC_RELAXED);
	atomic_fetch_add(&ops, 1);
}

static void do_write(int t, struct channel *c, uint64_t r)
{
	unsigned char buf[4096];
	int fd;
	unsigned gen;
	long long pos;
	size_t n = 1 + r % sizeof buf;
	bool room;
	ssize_t w;

	if (atomic_flag_test_and_set(&c->writing))
		return;
	pthread_mutex_lock(&c->lock);
	fd = c->wr;
	gen = c->gen;
	pos = c->wpos;
	/* Room for a blocking write: it cannot wait for ever. */
	room = c->wpos - c->rpos + (long long)n <= ROOM;
	pthread_mutex_unlock(&c->lock);
	if (fd < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(gen, pos + (long long)i);
	begin(t, "write", fd, gen);
	w = (r >> 20) % 2 || !room ? send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, buf, n);
	if (w < 0 && errno == ENOTSOCK && !room) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		w = poll(&p, 1, 0) == 1 && !(p.revents & (POLLNVAL | POLLERR)) ? 0 : -2;
		end(t);
		goto done;
	}
	if (w < 0 && errno == ENOTSOCK)
		w = write(fd, buf, n);
	end(t);
	if (w < 0 && w != -2 && !allowed(errno, true))
		failf("write on a channel of generation %u: %s", gen, strerror(errno));
	pthread_mutex_lock(&c->lock);
	if (w > 0 && c->gen == gen)
		c->wpos += w;
	pthread_mutex_unlock(&c->lock);
done:
out:
	atomic_flag_clear(&c->writing);
}

/* Reads what comes, checking it against the channel's pattern. */
static void do_read(int t, struct channel *c, uint64_t r)
{
	unsigned char buf[4096];
	int fd;
	unsigned gen;
	long long pos;
	size_t n = 1 + r % sizeof buf;
	bool data;
	ssize_t got;

	if (atomic_flag_test_and_set(&c->reading))
		return;
	pthread_mutex_lock(&c->lock);
	fd = c->rd;
	gen = c->gen;
	pos = c->rpos;
	data = c->wpos > c->rpos;
	pthread_mutex_unlock(&c->lock);
	if (fd < 0)
		goto out;
	/* Waits are poll's, bounded: a read that could wait for ever would
	 * hold the reuse lock against every remake, and the writers behind
	 * it (a blocking read only where bytes are known to be there). */
	switch ((r >> 16) % 3 == 1 && !data ? 0 : (r >> 16) % 3) {
	case 0: { /* wait in poll, then take what is there */
		struct pollfd p = { .fd = fd, .events = POLLIN };

		begin(t, "poll", fd, gen);
		got = poll(&p, 1, (int)((r >> 24) % 20));
		end(t);
		if (got < 0) {
			failf("poll: %s", strerror(errno));
			goto out;
		}
		if (got == 0 || (p.revents & POLLNVAL))
			goto out;
		begin(t, "recv after poll", fd, gen);
		got = recv(fd, buf, n, MSG_DONTWAIT);
		if (got < 0 && errno == ENOTSOCK)
			got = read(fd, buf, n); /* a pipe: may wait if emptied meanwhile */
		end(t);
		break;
	}
	case 1: /* a blocking read: ends with data, end of file or a close */
		begin(t, "read", fd, gen);
		got = read(fd, buf, n);
		end(t);
		break;
	default:
		begin(t, "recv MSG_DONTWAIT", fd, gen);
		got = recv(fd, buf, n, MSG_DONTWAIT);
		if (got < 0 && errno == ENOTSOCK) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			got = poll(&p, 1, 0) == 1 && !(p.revents & POLLNVAL) ? read(fd, buf, n) : -2;
		}
		end(t);
		if (got == -2)
			goto out;
	}
	if (got < 0) {
		if (!allowed(errno, false))
			failf("read on a channel of generation %u: %s", gen, strerror(errno));
		goto out;
	}
	for (ssize_t i = 0; i < got; i++) {
		if (buf[i] != pattern(gen, pos + i)) {
			failf("byte %lld of generation %u: 0x%02x, want 0x%02x (lost, doubled, "
			      "reordered or another channel's)",
			      pos + (long long)i, gen, buf[i], pattern(gen, pos + i));
			goto out;
		}
	}
	atomic_fetch_add(&verified, got);
	pthread_mutex_lock(&c->lock);
	if (c->gen == gen)
		c->rpos += got;
	pthread_mutex_unlock(&c->lock);
out:
	atomic_flag_clear(&c->reading);
}

/* Closes a channel under the calls that may be waiting on it: both ends,
 * so that a native read in progress ends at end of file. */
static void do_close(struct channel *c)
{
	pthread_mutex_lock(&c->lock);
	close_channel(c);
	pthread_mutex_unlock(&c->lock);
}

static void do_remake(struct channel *c, uint64_t r)
{
	pthread_rwlock_wrlock(&reuse);
	pthread_mutex_lock(&c->lock);
	if (c->rd < 0)
		make_channel(c, (unsigned)(r % 3));
	pthread_mutex_unlock(&c->lock);
	pthread_rwlock_unlock(&reuse);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t seed;

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + (uint64_t)t + 1;

	while (!stop) {
		uint64_t r = xorshift(&s);
		struct channel *c = &ch[r % CHANNELS];
		unsigned what = (unsigned)((r >> 8) % 100);

		if (what < 2) {
			do_close(c);
		} else if (what < 6) {
			do_remake(c, r >> 32);
		} else {
			pthread_rwlock_rdlock(&reuse);
			if (what < 50)
				do_write(t, c, r >> 32);
			else
				do_read(t, c, r >> 32);
			pthread_rwlock_unlock(&reuse);
		}
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		int64_t now = now_ns();

		for (int t = 0; t < THREADS; t++) {
			int64_t s = __atomic_load_n(&op_started[t], __ATOMIC_RELAXED);

			if (s != 0 && now - s > WATCHDOG_NS) {
				printf("FAIL thread %d has been in %s on fd %d (generation %u, "
				       "open now: %s) for %lld s: a wait that never ends\n",
				       t, op_name[t], op_fd[t], op_gen[t],
				       fcntl(op_fd[t], F_GETFD) >= 0 ? "yes" : "no",
				       (long long)((now - s) / 1000000000));
				for (int i = 0; i < CHANNELS; i++)
					printf("  channel %d: fds %d %d, generation %u, %lld written, "
					       "%lld read\n",
					       i, ch[i].rd, ch[i].wr, ch[i].gen, ch[i].wpos, ch[i].rpos);
				fflush(stdout);
				_exit(3);
			}
		}
		usleep(100000);
	}
	return NULL;
}

/* The end: every channel's writer closed, its reader drained to end of
 * file; what was read must be what was written. */
static void drain_all(void)
{
	for (int i = 0; i < CHANNELS; i++) {
		struct channel *c = &ch[i];
		unsigned char buf[4096];
		ssize_t got;

		if (c->rd < 0)
			continue;
		close(c->wr);
		c->wr = -1;
		fcntl(c->rd, F_SETFL, 0);
		while ((got = read(c->rd, buf, sizeof buf)) > 0) {
			for (ssize_t k = 0; k < got; k++)
				if (buf[k] != pattern(c->gen, c->rpos + k)) {
					failf("drain: byte %lld of generation %u wrong", c->rpos + k,
					      c->gen);
					break;
				}
			c->rpos += got;
			atomic_fetch_add(&verified, got);
		}
		if (got < 0)
			failf("drain of generation %u: %s", c->gen, strerror(errno));
		if (c->rpos != c->wpos)
			failf("generation %u: %lld bytes written, %lld read: bytes lost", c->gen,
			      c->wpos, c->rpos);
		close(c->rd);
		c->rd = -1;
	}
}

int main(int argc, char **argv)
{
	pthread_rwlockattr_t ra;
	pthread_t t[THREADS], w;
	socklen_t len = sizeof laddr;
	int secs;

	if (argc < 2) {
		fprintf(stderr, "usage: fdthreads SEED [SECONDS]\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 10);
	secs = argc > 2 ? atoi(argv[2]) : 5;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&reuse, &ra);
	laddr.sin_family = AF_INET;
	laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&laddr, sizeof laddr) != 0 ||
	    listen(listener, 16) != 0 || getsockname(listener, (struct sockaddr *)&laddr, &len) != 0) {
		perror("listen");
		return 2;
	}
	for (int i = 0; i < CHANNELS; i++) {
		pthread_mutex_init(&ch[i].lock, NULL);
		atomic_flag_clear(&ch[i].reading);
		atomic_flag_clear(&ch[i].writing);
		make_channel(&ch[i], (unsigned)(i % 3));
	}
	pthread_create(&w, NULL, watchdog, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	sleep((unsigned)secs);
	stop = 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	drain_all();
	printf("%s seed %llu: %lld calls, %lld bytes verified\n", atomic_load(&failed) ? "FAIL" : "ok",
	       (unsigned long long)seed, (long long)atomic_load(&ops), (long long)atomic_load(&verified));
	return atomic_load(&failed) ? 1 : 0;
}
