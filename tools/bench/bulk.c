/*
 * gs-bulk: bulk transfer over loopback TCP into a thread-per-stream
 * server, an ordinary program that knows nothing of greenshim
 * (tools/bench/bulk.sh runs it natively and under LD_PRELOAD).
 *
 *   gs-bulk serve [-b BYTES]       listens on 127.0.0.1, prints "port N";
 *                                  one thread per connection reads with
 *                                  recv(BYTES, default 64 KiB) until EOF.
 *                                  After the client's "end" connection it
 *                                  prints "bytes B recvs R cpu_us C" and
 *                                  waits on stdin (for greenctl) until EOF.
 *   gs-bulk send -p PORT [-s STREAMS] [-m MIB]
 *                                  STREAMS threads (8) each write MIB MiB
 *                                  (256) in 64 KiB writes, then one more
 *                                  connection says "end".
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

static atomic_llong total_bytes, total_recvs;
static atomic_int open_streams;
static size_t chunk = 65536;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void *reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(chunk);
	long long bytes = 0, recvs = 0;
	ssize_t n;

	if (buf == NULL)
		die("malloc");
	while ((n = recv(fd, buf, chunk, 0)) > 0) {
		bytes += n;
		recvs++;
	}
	if (n < 0)
		die("recv");
	atomic_fetch_add(&total_bytes, bytes);
	atomic_fetch_add(&total_recvs, recvs + 1);
	atomic_fetch_sub(&open_streams, 1);
	free(buf);
	close(fd);
	return NULL;
}

static int serve(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	struct rusage ru;
	int lfd, one = 1;
	char c;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) != 0)
		die("listen");
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			die("accept");
		if (recv(fd, &c, 1, MSG_PEEK) == 1 && c == 'E') {
			/* The client's last word: every stream was written and closed. */
			close(fd);
			break;
		}
		atomic_fetch_add(&open_streams, 1);
		if (pthread_create(&t, NULL, reader, (void *)(intptr_t)fd) != 0)
			die("pthread_create");
		pthread_detach(t);
	}
	while (atomic_load(&open_streams) > 0)
		usleep(1000);
	getrusage(RUSAGE_SELF, &ru);
	printf("bytes %lld recvs %lld cpu_us %lld\n", (long long)atomic_load(&total_bytes),
	       (long long)atomic_load(&total_recvs),
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
		       ru.ru_stime.tv_usec);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

static int port;
static long long per_stream;

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die("connect");
	return fd;
}

static void *writer(void *arg)
{
	static char buf[65536];
	int fd = dial();
	long long left = per_stream;

	(void)arg;
	while (left > 0) {
		ssize_t n = write(fd, buf, left < (long long)sizeof buf ? (size_t)left : sizeof buf);

		if (n <= 0)
			die("write");
		left -= n;
	}
	close(fd);
	return NULL;
}

static int send_all(int streams)
{
	pthread_t t[256];
	int i, fd;

	for (i = 0; i < streams; i++)
		if (pthread_create(&t[i], NULL, writer, NULL) != 0)
			die("pthread_create");
	for (i = 0; i < streams; i++)
		pthread_join(t[i], NULL);
	fd = dial();
	if (write(fd, "E", 1) != 1)
		die("write");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int streams = 8, opt;
	long long mib = 256;

	if (argc < 2 || (strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "send") != 0)) {
		fprintf(stderr, "usage: gs-bulk serve [-b BYTES] | send -p PORT [-s STREAMS] [-m MIB]\n");
		return 2;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "b:p:s:m:")) != -1) {
		switch (opt) {
		case 'b': chunk = (size_t)atol(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 's': streams = atoi(optarg); break;
		case 'm': mib = atoll(optarg); break;
		default: return 2;
		}
	}
	if (chunk == 0 || streams < 1 || streams > 256 || mib < 1) {
		fprintf(stderr, "gs-bulk: bad option\n");
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve();
	per_stream = mib << 20;
	return send_all(streams);
}
