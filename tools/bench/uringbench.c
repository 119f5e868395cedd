/*
 * gs-uringbench: one request at a time through io_uring (liburing), in an
 * ordinary program. Run natively and under LD_PRELOAD=libgreenshim.so
 * (tools/bench/sidebyside.sh build gs-uringbench does both, pinned to one
 * CPU, side by side).
 *
 *   uring-pipe-roundtrip   a thread reads a pipe through the ring and
 *                          answers on another pipe; the other thread
 *                          writes the first pipe and reads the answer
 *                          with read(2): ns per round trip
 *
 * Prints "NAME NS" lines: best of five runs.
 */
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum { ROUNDS = 2000 };

static int ping[2], pong[2];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *ring_side(void *arg)
{
	struct io_uring ring;
	char b;

	(void)arg;
	if (io_uring_queue_init(4, &ring, 0) != 0)
		return (void *)1;
	for (int i = 0; i < ROUNDS; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		struct io_uring_cqe *cqe;

		io_uring_prep_read(sqe, ping[0], &b, 1, 0);
		io_uring_submit(&ring);
		if (io_uring_wait_cqe(&ring, &cqe) != 0 || cqe->res != 1)
			return (void *)1;
		io_uring_cqe_seen(&ring, cqe);
		if (write(pong[1], &b, 1) != 1)
			return (void *)1;
	}
	io_uring_queue_exit(&ring);
	return NULL;
}

int main(void)
{
	double best = 1e30;

	if (pipe(ping) != 0 || pipe(pong) != 0)
		return 1;
	for (int r = 0; r < 5; r++) {
		pthread_t t;
		void *res;
		double t0 = now_ns();
		char b = 'x';

		pthread_create(&t, NULL, ring_side, NULL);
		for (int i = 0; i < ROUNDS; i++)
			if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1)
				return 1;
		pthread_join(t, &res);
		if (res != NULL)
			return 1;
		if ((now_ns() - t0) / ROUNDS < best)
			best = (now_ns() - t0) / ROUNDS;
	}
	printf("uring-pipe-roundtrip %.1f\n", best);
	return 0;
}
