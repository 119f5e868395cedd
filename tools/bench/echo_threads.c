/*
 * gs-echo-threads: a thread-per-connection echo server in plain C, the way
 * such servers are written without greenshim in mind: one pthread per
 * accepted connection, blocking read and write. Run natively it uses one
 * OS thread per connection; under LD_PRELOAD=libgreenshim.so the same
 * binary runs them all as green threads of one OS thread.
 *
 * Usage: gs-echo-threads [-p PORT] [-a ACCEPTERS] [-w PASSES]
 *   -p PORT       port on 127.0.0.1 (default 0: any; the port is printed)
 *   -a ACCEPTERS  threads blocked in accept() on the listening socket at
 *                 once (default 1)
 *   -w PASSES     work per request: PASSES hashes (FNV-1a) of a 16 KiB
 *                 buffer before the echo, some 16 us each here (default 0)
 * Prints "port N" on stdout once listening; runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_fd;
static int work_passes;
static volatile uint32_t work_sink;

/* What a CPU-bound request costs: hashing a buffer of the thread's own. */
static void work(const char *buf)
{
	uint32_t h = 2166136261u;

	for (int p = 0; p < work_passes; p++)
		for (size_t i = 0; i < 16384; i++)
			h = (h ^ (uint8_t)buf[i]) * 16777619u;
	work_sink = h;
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	ssize_t n;

	if (work_passes > 0)
		memset(buf, 0, sizeof buf); /* what work() reads beyond a request */
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		ssize_t off = 0;

		if (work_passes > 0)
			work(buf);
		while (off < n) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0)
				goto out;
			off += w;
		}
	}
out:
	close(fd);
	return NULL;
}

static void *accepter(void *arg)
{
	pthread_attr_t attr;

	(void)arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		int one = 1, fd = accept(listen_fd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("gs-echo-threads: accept");
			exit(1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) {
			fprintf(stderr, "gs-echo-threads: pthread_create failed\n");
			close(fd);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int opt, one = 1, accepters = 1;

	while ((opt = getopt(argc, argv, "p:a:w:")) != -1) {
		switch (opt) {
		case 'p':
			sa.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'a':
			accepters = atoi(optarg);
			break;
		case 'w':
			work_passes = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-p PORT] [-a ACCEPTERS] [-w PASSES]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listen_fd, 4096) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sa, &len) != 0) {
		perror("gs-echo-threads: listen");
		return 1;
	}
	printf("port %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (int i = 1; i < accepters; i++) {
		pthread_t t;

		pthread_create(&t, NULL, accepter, NULL);
	}
	accepter(NULL);
	return 0;
}
