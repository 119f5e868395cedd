/*
 * gs-fastpath: the cost of a call that has nothing to wait for, in an
 * ordinary program. Run natively and under LD_PRELOAD=libgreenshim.so
 * (tools/bench/sidebyside.sh does both and prints them side by side), the
 * difference is what a wrapper adds on its fast path.
 *
 * Prints "NAME NS" lines: ns per call, best of five runs of N calls.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define N 200000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int file_fd, sv[2];
static char buf[64];

static void file_read(void)
{
	if (pread(file_fd, buf, 1, 0) != 1 || read(file_fd, buf, 1) < 0)
		exit(1);
	lseek(file_fd, 0, SEEK_SET);
}

static void null_write(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/dev/null", O_WRONLY);
	if (write(fd, buf, 1) != 1)
		exit(1);
}

static void socket_ping(void)
{
	/* Data is always there: write one byte, read it back. */
	if (write(sv[0], buf, 1) != 1 || read(sv[1], buf, 1) != 1)
		exit(1);
}

static void poll_ready(void)
{
	struct pollfd p = { .fd = sv[0], .events = POLLOUT };

	if (poll(&p, 1, 100) != 1)
		exit(1);
}

static void measure(const char *name, void (*fn)(void), int calls_per_iter)
{
	double best = 1e30;

	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (int i = 0; i < N; i++)
			fn();
		double ns = (now_ns() - t0) / N / calls_per_iter;

		if (ns < best)
			best = ns;
	}
	printf("%s %.1f\n", name, best);
}

int main(void)
{
	char path[] = "/tmp/gs-fastpath-XXXXXX";

	file_fd = mkstemp(path);
	unlink(path);
	if (file_fd < 0 || write(file_fd, "0123456789", 10) != 10 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	measure("regular-file-read", file_read, 2);
	measure("dev-null-write", null_write, 1);
	measure("socket-write+read", socket_ping, 2);
	measure("poll-ready", poll_ready, 1);
	return 0;
}
