/*
 * gs-fastpath: the cost of a call that has nothing to wait for, in an
 * ordinary program. Run natively and under LD_PRELOAD=libgreenshim.so
 * (tools/bench/sidebyside.sh does both and prints them side by side), the
 * difference is what a wrapper adds on its fast path.
 *
 * Prints "NAME NS" lines: ns per call, best of five runs of N calls.
 * The stdio lines use glibc's public FILE fields only to know when the
 * pipe needs more data. close-range-above: close_range(100, ~0U) with nothing
 * open there (2,000 calls a run).
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

/* stdio: a FILE on a regular file (the wrappers' one fdtab lookup, or
 * none when the buffer has the data or the room), and a FILE on a pipe
 * whose data is there (the waiting kind's path, which never waits here). */
static FILE *file_in, *file_out, *pipe_in, *pipe_out;
static int in_pipe[2], out_pipe[2], unflushed;
static char line[128];

static void file_fgets(void)
{
	if (fgets(line, sizeof line, file_in) == NULL) {
		rewind(file_in);
		if (fgets(line, sizeof line, file_in) == NULL)
			exit(1);
	}
}

static void file_fwrite(void)
{
	if (fwrite("0123456789abcdef", 1, 16, file_out) != 16)
		exit(1);
	if (ftell(file_out) > (1 << 20))
		rewind(file_out);
}

static void file_fprintf(void)
{
	if (fprintf(file_out, "%d %s\n", 12345, "abc") != 10)
		exit(1);
	if (ftell(file_out) > (1 << 20))
		rewind(file_out);
}

static void pipe_fgets(void)
{
	/* 64 lines of 64 bytes whenever the last ones are read: one write in
	 * 64 calls, the same natively. */
	if (pipe_in->_IO_read_ptr >= pipe_in->_IO_read_end) {
		static char chunk[4096];

		if (chunk[0] == 0)
			for (int i = 0; i < 4096; i++)
				chunk[i] = i % 64 == 63 ? '\n' : 'x';
		if (write(in_pipe[1], chunk, sizeof chunk) != sizeof chunk)
			exit(1);
	}
	if (fgets(line, sizeof line, pipe_in) == NULL)
		exit(1);
}

/* Drains what the pipe FILE flushed, so the pipe never fills. */
static void pipe_drain(int bytes)
{
	static char sink[65536];

	unflushed += bytes;
	if (unflushed >= 4096) {
		if (fflush(pipe_out) != 0)
			exit(1);
		while (unflushed > 0) {
			ssize_t n = read(out_pipe[0], sink, (size_t)unflushed);

			if (n <= 0)
				exit(1);
			unflushed -= (int)n;
		}
	}
}

static void pipe_fwrite(void)
{
	if (fwrite("0123456789abcdef", 1, 16, pipe_out) != 16)
		exit(1);
	pipe_drain(16);
}

static void pipe_fprintf(void)
{
	if (fprintf(pipe_out, "%d %s\n", 12345, "abc") != 10)
		exit(1);
	pipe_drain(10);
}

static void pipe_putc(void)
{
	if (putc('x', pipe_out) != 'x')
		exit(1);
	pipe_drain(1);
}

/* close_range(100, ~0U): nothing open there, as in a child that closes
 * every fd above the ones it keeps (CPython's subprocess, closefrom). */
static void close_above(void)
{
	if (close_range(100, ~0U, 0) != 0)
		exit(1);
}

static void measure_n(const char *name, void (*fn)(void), int calls_per_iter, int n)
{
	double best = 1e30;

	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (int i = 0; i < n; i++)
			fn();
		double ns = (now_ns() - t0) / n / calls_per_iter;

		if (ns < best)
			best = ns;
	}
	printf("%s %.1f\n", name, best);
}

static void measure(const char *name, void (*fn)(void), int calls_per_iter)
{
	measure_n(name, fn, calls_per_iter, N);
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

	file_in = tmpfile();
	file_out = tmpfile();
	if (file_in == NULL || file_out == NULL || pipe(in_pipe) != 0 || pipe(out_pipe) != 0)
		return 1;
	for (int i = 0; i < 1000; i++)
		fprintf(file_in, "line %d of a regular file, about sixty-four bytes long......\n", i);
	rewind(file_in);
	pipe_in = fdopen(in_pipe[0], "r");
	pipe_out = fdopen(out_pipe[1], "w");
	measure("file-fgets", file_fgets, 1);
	measure("file-fwrite-16B", file_fwrite, 1);
	measure("file-fprintf", file_fprintf, 1);
	measure("pipe-fgets", pipe_fgets, 1);
	measure("pipe-fwrite-16B", pipe_fwrite, 1);
	measure("pipe-fprintf", pipe_fprintf, 1);
	measure("pipe-putc", pipe_putc, 1);
	measure_n("close-range-above", close_above, 1, 2000);
	return 0;
}
