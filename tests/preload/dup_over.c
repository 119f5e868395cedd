/*
 * An ordinary program (never linked to greenshim) that dup2s and dup3s
 * /dev/null over every number from 1023 down to 990 while its threads
 * hand bytes to each other through pipes, sleep, look up a host name, and
 * wait in poll for a pipe's hang-up alone (events 0: the runtime watches
 * that through an epoll set of its own), then checks each number is what
 * it put there, and that the threads still finish; then closes every fd
 * from 3 up with closefrom and hands a byte to a new thread. greenshim keeps its own descriptors at the top
 * of those numbers; the program must see what it sees natively, and the
 * runtime must go on working with them moved, and closed around.
 *
 *   dup_over           the whole run
 *   dup_over --wait    also prints "ready" once every number is replaced
 *                      and waits for standard input to end before the
 *                      threads finish (so that greenctl can be tried)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define TOP 1023
#define BOTTOM 990
#define ROUNDS 300

static int ping[2], pong[2], hup[2];
static volatile int replaced;

static void *player(void *arg)
{
	char c = 'x';

	for (int i = 0; i < ROUNDS; i++) {
		if (arg != NULL) {
			if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
				return "ping";
		} else {
			if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
				return "pong";
		}
		if (i % 50 == 0)
			usleep(1000);
	}
	return NULL;
}

static void *lookup(void *arg)
{
	struct addrinfo *ai;

	(void)arg;
	while (!replaced)
		usleep(1000);
	if (getaddrinfo("localhost", NULL, NULL, &ai) != 0)
		return "getaddrinfo";
	freeaddrinfo(ai);
	return NULL;
}

/* Asks for no event: only the hang-up, once main closes the other end. */
static void *hangup(void *arg)
{
	struct pollfd pf = { .fd = hup[0], .events = 0 };

	(void)arg;
	if (poll(&pf, 1, 10000) != 1 || pf.revents != POLLHUP)
		return "hang-up";
	return NULL;
}

static char got = '?';

static void *read_one(void *arg)
{
	(void)arg;
	if (read(ping[0], &got, 1) != 1)
		got = '!';
	return NULL;
}

int main(int argc, char **argv)
{
	bool wait_stdin = argc > 1 && strcmp(argv[1], "--wait") == 0;
	pthread_t t[4];
	struct stat null_st, st;
	int null_fd, bad = 0;
	char c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(ping) != 0 || pipe(pong) != 0 || pipe(hup) != 0)
		return 1;
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0 || fstat(null_fd, &null_st) != 0)
		return 1;
	pthread_create(&t[0], NULL, player, "ping");
	pthread_create(&t[1], NULL, player, NULL);
	pthread_create(&t[2], NULL, lookup, NULL);
	pthread_create(&t[3], NULL, hangup, NULL);
	usleep(150000); /* the threads wait, sleep, switch meanwhile */
	for (int fd = TOP; fd >= BOTTOM; fd--) {
		int r = fd % 2 ? dup2(null_fd, fd) : dup3(null_fd, fd, O_CLOEXEC);

		if (r != fd) {
			printf("dup onto %d: %d (%s)\n", fd, r, strerror(errno));
			bad++;
		}
	}
	replaced = 1;
	for (int fd = TOP; fd >= BOTTOM; fd--) {
		int want = fd % 2 ? 0 : FD_CLOEXEC;

		if (fstat(fd, &st) != 0 || st.st_rdev != null_st.st_rdev ||
		    st.st_ino != null_st.st_ino || fcntl(fd, F_GETFD) != want ||
		    write(fd, "x", 1) != 1) {
			char path[64], link[256] = "";

			snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
			if (readlink(path, link, sizeof link - 1) < 0)
				strcpy(link, strerror(errno));
			printf("fd %d is not /dev/null as put there: %s, flags %d\n", fd, link,
			       fcntl(fd, F_GETFD));
			bad++;
		}
	}
	printf("replaced %d numbers, %d wrong\n", TOP - BOTTOM + 1, bad);
	if (wait_stdin) {
		printf("ready\n");
		while (read(0, &c, 1) > 0)
			;
	}
	close(hup[1]);
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(t[i], &r);
		printf("thread %d: %s\n", i, r == NULL ? "done" : (char *)r);
	}
	/* Replaced again, now that the runtime's are elsewhere. */
	printf("dup2 again %d\n", dup2(null_fd, TOP));
	printf("close_range %d\n", close_range(BOTTOM, TOP, 0));
	errno = 0;
	bad = fcntl(TOP, F_GETFD);
	printf("fcntl %d after close_range: %d errno %d\n", TOP, bad, errno);
	usleep(20000); /* a sleep still ends */
	printf("slept\n");
	/* closefrom closes every fd of the program from 3 up (glibc's calls
	 * close_range inside libc) and none of the runtime's: a thread then
	 * still waits for a new pipe and gets its byte. */
	closefrom(3);
	errno = 0;
	bad = fcntl(null_fd, F_GETFD);
	printf("fcntl %d after closefrom: %d errno %d\n", null_fd, bad, errno);
	if (pipe(ping) != 0)
		return 1;
	pthread_create(&t[0], NULL, read_one, NULL);
	usleep(20000);
	printf("write after closefrom %zd\n", write(ping[1], "y", 1));
	pthread_join(t[0], NULL);
	printf("read after closefrom: %c\n", got);
	return 0;
}
