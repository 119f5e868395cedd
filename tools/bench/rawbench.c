/*
 * gs-rawbench: what system calls made with a program's own syscall
 * instruction cost (liburing, libgomp and statically linked libraries make
 * theirs so), beside the same calls through libc. Run natively and under
 * LD_PRELOAD=libgreenshim.so (tools/bench/sidebyside.sh does both, pinned
 * to one CPU, side by side); under greenshim the raw ones are caught by
 * Syscall User Dispatch (src/trap.c).
 *
 *   raw-getppid          a call that never blocks, raw: carried out as asked
 *   libc-getppid         the same through libc: never caught
 *   raw-pipe-handoff     two threads take turns through two pipes with raw
 *                        read and write: each blocking read parks its thread
 *   libc-pipe-handoff    the same through libc's read and write
 *
 * A third thread waits for ever: under greenshim, calls are caught once a
 * program has a second thread. Prints "NAME NS" lines: ns per call or per
 * hand-off, best of five runs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long raw3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long raw_rw(int write_it, int fd, void *buf, long n)
{
	return raw3(write_it ? SYS_write : SYS_read, fd, (long)buf, n);
}

static long libc_rw(int write_it, int fd, void *buf, long n)
{
	return write_it ? write(fd, buf, (size_t)n) : read(fd, buf, (size_t)n);
}

static long (*rw)(int write_it, int fd, void *buf, long n);
static int to_b[2], to_a[2];
enum { ROUNDS = 20000 };

static void *player_b(void *arg)
{
	char c;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++)
		if (rw(0, to_b[0], &c, 1) != 1 || rw(1, to_a[1], &c, 1) != 1)
			break;
	return NULL;
}

static double handoff(long (*how)(int, int, void *, long))
{
	double best = 1e30;

	rw = how;
	for (int r = 0; r < 5; r++) {
		pthread_t b;
		char c = 'x';
		double t0 = now_ns(), ns;

		pthread_create(&b, NULL, player_b, NULL);
		for (int i = 0; i < ROUNDS; i++)
			if (rw(1, to_b[1], &c, 1) != 1 || rw(0, to_a[0], &c, 1) != 1)
				break;
		pthread_join(b, NULL);
		ns = (now_ns() - t0) / (2.0 * ROUNDS);
		if (ns < best)
			best = ns;
	}
	return best;
}

static void *idle(void *arg)
{
	int fds[2];
	char c;

	(void)arg;
	if (pipe(fds) == 0)
		(void)!read(fds[0], &c, 1);
	return NULL;
}

int main(void)
{
	enum { N = 100000 };
	double best_raw = 1e30, best_libc = 1e30;
	pthread_t t;

	pthread_create(&t, NULL, idle, NULL);
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns(), ns;

		for (int i = 0; i < N; i++)
			raw3(SYS_getppid, 0, 0, 0);
		ns = (now_ns() - t0) / N;
		if (ns < best_raw)
			best_raw = ns;
		t0 = now_ns();
		for (int i = 0; i < N; i++)
			getppid();
		ns = (now_ns() - t0) / N;
		if (ns < best_libc)
			best_libc = ns;
	}
	printf("raw-getppid %.1f\n", best_raw);
	printf("libc-getppid %.1f\n", best_libc);
	if (pipe(to_b) != 0 || pipe(to_a) != 0)
		return 1;
	printf("raw-pipe-handoff %.1f\n", handoff(raw_rw));
	printf("libc-pipe-handoff %.1f\n", handoff(libc_rw));
	return 0;
}
