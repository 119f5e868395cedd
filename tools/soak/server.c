/*
 * gs-soak-server: an ordinary thread-per-connection echo server for the
 * soak and fault runs (tools/soak/run.sh). It knows nothing of greenshim.
 *
 *   gs-soak-server [-s STACK_KIB] [-n NOFILE] [-b BACKLOG]
 *
 * Prints "port N" once it listens on 0.0.0.0 (any loopback address reaches
 * it). One detached pthread per connection (stack of STACK_KIB, 64 KiB by
 * default, as a server with many threads sets it) reads and writes back
 * until EOF or an error. -n lowers RLIMIT_NOFILE once listening, so that
 * accept meets EMFILE; the accept loop then sleeps 1 ms and tries again, as
 * servers do, and accepts again once connections have closed.
 *
 * On SIGTERM it prints one line of counters and exits: connections served,
 * bytes echoed, and every errno seen, by the call that saw it
 * ("accept.EMFILE=12 io.ECONNRESET=3"). The handler only writes to a
 * self-pipe; a reporting thread blocked in read prints.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NERR 160

static atomic_long served, bytes, active;
static atomic_long accept_err[NERR], io_err[NERR], create_err[NERR];
static int report_pipe[2];
static pthread_attr_t attr;

static void count(atomic_long *table, int err)
{
	atomic_fetch_add(&table[err >= 0 && err < NERR ? err : 0], 1);
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[16384];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			count(io_err, errno);
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				count(io_err, errno);
				goto out;
			}
			off += w;
			atomic_fetch_add(&bytes, w);
		}
	}
out:
	close(fd);
	atomic_fetch_add(&served, 1);
	atomic_fetch_sub(&active, 1);
	return NULL;
}

static void print_table(const char *what, atomic_long *table)
{
	for (int e = 0; e < NERR; e++) {
		long n = atomic_load(&table[e]);

		if (n)
			printf(" %s.%s=%ld", what, e ? strerrorname_np(e) : "other", n);
	}
}

static void *reporter(void *arg)
{
	char c;

	(void)arg;
	while (read(report_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	printf("served=%ld bytes=%ld active=%ld", atomic_load(&served), atomic_load(&bytes),
	       atomic_load(&active));
	print_table("accept", accept_err);
	print_table("io", io_err);
	print_table("create", create_err);
	printf("\n");
	fflush(stdout);
	_exit(0);
}

static void on_term(int sig)
{
	int saved = errno;

	(void)sig;
	(void)!write(report_pipe[1], "x", 1);
	errno = saved;
}

int main(int argc, char **argv)
{
	size_t stack_kib = 64;
	long nofile = 0;
	int backlog = 4096, opt;

	while ((opt = getopt(argc, argv, "s:n:b:")) != -1) {
		switch (opt) {
		case 's': stack_kib = strtoul(optarg, NULL, 10); break;
		case 'n': nofile = strtol(optarg, NULL, 10); break;
		case 'b': backlog = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s STACK_KIB] [-n NOFILE] [-b BACKLOG]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe(report_pipe) < 0) {
		perror("pipe");
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_term, .sa_flags = SA_RESTART };
	sigaction(SIGTERM, &sa, NULL);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, stack_kib * 1024);
	pthread_t t;
	if (pthread_create(&t, NULL, reporter, NULL) != 0) {
		fprintf(stderr, "cannot start the reporting thread\n");
		return 1;
	}

	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t alen = sizeof a;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, backlog) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		return 1;
	}
	if (nofile > 0) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			perror("setrlimit");
			return 1;
		}
	}
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);

	for (;;) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0) {
			count(accept_err, errno);
			if (errno == EMFILE || errno == ENFILE) {
				struct timespec ms = { 0, 1000000 };
				nanosleep(&ms, NULL);
			}
			continue;
		}
		atomic_fetch_add(&active, 1);
		int err = pthread_create(&t, &attr, serve, (void *)(long)fd);
		if (err) {
			count(create_err, err);
			close(fd);
			atomic_fetch_sub(&active, 1);
		}
	}
}
