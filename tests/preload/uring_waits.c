/*
 * io_uring through liburing while other threads run: a thread reads a
 * file and then a pipe through the ring, waiting with io_uring_wait_cqe,
 * io_uring_wait_cqe_timeout (a timeout first: nothing to read yet) and
 * io_uring_submit_and_wait; another thread writes the pipe after ticking
 * ten times, every millisecond. Prints what it read and "ok" when the
 * bytes are right, the timeout gave -ETIME and the ticker ticked while the
 * reader waited.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pipefd[2];
static volatile int ticks;

static void *ticker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		usleep(1000);
		ticks++;
	}
	if (write(pipefd[1], "from the pipe", 13) != 13)
		exit(2);
	return NULL;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct __kernel_timespec ts = { 0, 2000000 };
	char file_buf[64] = "", pipe_buf[64] = "";
	int fd, failures = 0, r, ticks_before;
	pthread_t t;

	(void)argc;
	if (io_uring_queue_init(8, &ring, 0) != 0 || pipe(pipefd) != 0)
		return 2;
	fd = open(argv[0], O_RDONLY);
	/* A file: its first bytes (an ELF header). */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, file_buf, 4, 0);
	if (io_uring_submit_and_wait(&ring, 1) != 1 || io_uring_wait_cqe(&ring, &cqe) != 0 ||
	    cqe->res != 4 || memcmp(file_buf, "\177ELF", 4) != 0) {
		printf("file read through the ring failed\n");
		failures++;
	} else {
		io_uring_cqe_seen(&ring, cqe);
	}
	/* The pipe: nothing yet, so a short timeout ends first. */
	pthread_create(&t, NULL, ticker, NULL);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, pipefd[0], pipe_buf, sizeof pipe_buf - 1, 0);
	io_uring_submit(&ring);
	r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	if (r != -ETIME) {
		printf("wait_cqe_timeout: %d, not -ETIME\n", r);
		failures++;
	}
	ticks_before = ticks;
	r = io_uring_wait_cqe(&ring, &cqe);
	if (r != 0 || cqe->res != 13 || strcmp(pipe_buf, "from the pipe") != 0) {
		printf("pipe read through the ring: %d, \"%s\"\n", r, pipe_buf);
		failures++;
	} else {
		io_uring_cqe_seen(&ring, cqe);
	}
	if (ticks == ticks_before) {
		printf("nothing else ran while the reader waited\n");
		failures++;
	}
	pthread_join(t, NULL);
	io_uring_queue_exit(&ring);
	printf("%s %s\n", file_buf[1] == 'E' ? "ELF" : "?", pipe_buf);
	if (failures == 0)
		printf("ok\n");
	return failures != 0;
}
