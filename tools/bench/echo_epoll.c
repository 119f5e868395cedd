/*
 * gs-echo-epoll: the hand-written bound for gs-echo-threads: one thread,
 * one epoll set, non-blocking sockets, level-triggered. What a server
 * costs when nobody pays for threads of any colour.
 *
 * Usage: gs-echo-epoll [-p PORT]; prints "port N", runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 16384

struct conn {
	int fd;
	size_t len, off; /* bytes read but not yet written back */
	char buf[BUF];
};

static int ep;

static void drop(struct conn *c)
{
	close(c->fd);
	free(c);
}

/* Writes what is pending; returns 0 when all of it went. */
static int flush(struct conn *c)
{
	while (c->off < c->len) {
		ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);

		if (w < 0)
			return errno == EAGAIN ? 1 : -1;
		c->off += (size_t)w;
	}
	c->len = c->off = 0;
	return 0;
}

static void on_event(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .data.ptr = c };
	int r;

	if (c->len > 0) { /* waiting for room to write */
		r = flush(c);
		if (r < 0) {
			drop(c);
			return;
		}
		if (r == 0) {
			ev.events = EPOLLIN;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(c->fd, c->buf, BUF);

		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			drop(c);
			return;
		}
		c->len = (size_t)n;
		r = flush(c);
		if (r < 0) {
			drop(c);
		} else if (r > 0) {
			ev.events = EPOLLOUT;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	struct epoll_event ev, evs[256];
	int opt, one = 1, lfd;

	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p') {
			fprintf(stderr, "usage: %s [-p PORT]\n", argv[0]);
			return 2;
		}
		sa.sin_port = htons((uint16_t)atoi(optarg));
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) != 0) {
		perror("gs-echo-epoll: listen");
		return 1;
	}
	printf("port %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				on_event(evs[i].data.ptr, evs[i].events);
				continue;
			}
			for (;;) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				struct conn *c;

				if (fd < 0)
					break;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				c = calloc(1, sizeof *c);
				c->fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
		}
	}
}
