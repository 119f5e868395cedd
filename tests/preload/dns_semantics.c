/* Name lookups under threads, against tests/preload/slow_dns.py (every
 * answer 500 ms late; run through tests/preload/dns_ns.sh). "results"
 * prints what each call returned, to be compared with a native run; the
 * other cases print "ok CASE" natively and under greenshim.
 * An ordinary program: nothing here knows of greenshim. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case.h"
#include "ticker.h"

#define SLOW "slow.greenshim.test"
#define MISSING "nosuch.greenshim.test"
#define DELAY_MS 500

static void print_hostent(const char *what, const struct hostent *h, int herr)
{
	char a[INET6_ADDRSTRLEN];

	if (h == NULL) {
		printf("%s: NULL h_errno=%d\n", what, herr);
		return;
	}
	printf("%s: name=%s type=%d len=%d", what, h->h_name, h->h_addrtype, h->h_length);
	for (char **p = h->h_aliases; *p != NULL; p++)
		printf(" alias=%s", *p);
	for (char **p = h->h_addr_list; *p != NULL; p++)
		printf(" addr=%s", inet_ntop(h->h_addrtype, *p, a, sizeof a));
	printf("\n");
}

static void print_gai(const char *node, const char *service, int family, int flags)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM,
				  .ai_flags = flags };
	struct addrinfo *res = NULL;
	char a[INET6_ADDRSTRLEN];
	int r;

	errno = 0;
	r = getaddrinfo(node, service, &hints, &res);
	printf("getaddrinfo(%s, %s, %d, %#x) = %d (%s)", node, service ? service : "NULL",
	       family, flags, r, gai_strerror(r));
	if (r == EAI_SYSTEM)
		printf(" errno=%d", errno);
	for (struct addrinfo *p = res; p != NULL; p = p->ai_next) {
		void *addr = p->ai_family == AF_INET
				     ? (void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
				     : (void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;

		printf(" [%d %d %d %s %s port %d]", p->ai_family, p->ai_socktype, p->ai_protocol,
		       inet_ntop(p->ai_family, addr, a, sizeof a),
		       p->ai_canonname ? p->ai_canonname : "-",
		       ntohs(((struct sockaddr_in *)p->ai_addr)->sin_port));
	}
	printf("\n");
	if (r == 0)
		freeaddrinfo(res);
}

/* A resolver answer, its random id left out. */
static void print_answer(const char *what, int r, const unsigned char *ans)
{
	printf("%s = %d h_errno=%d", what, r, h_errno);
	for (int i = 2; i < r; i++)
		printf("%s%02x", i == 2 ? " " : "", ans[i]);
	printf("\n");
}

static void case_results(void)
{
	struct hostent he, *res;
	struct in_addr a4;
	char buf[1024], host[256], serv[64];
	unsigned char ans[512];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct __res_state st;
	int r, herr;

	print_gai(SLOW, NULL, AF_INET, 0);
	print_gai(SLOW, "80", AF_UNSPEC, AI_CANONNAME);
	print_gai(MISSING, NULL, AF_INET, 0);
	print_gai("127.0.0.1", "8080", AF_INET, 0);
	print_gai("10.1.2.3", NULL, AF_UNSPEC, AI_NUMERICHOST);
	print_gai("not numeric", NULL, AF_INET, AI_NUMERICHOST);
	print_gai("::1", "80", AF_INET, 0);
	print_gai("::1", "http", AF_INET6, 0);

	h_errno = 0;
	res = gethostbyname(SLOW);
	print_hostent("gethostbyname(slow)", res, h_errno);
	res = gethostbyname(MISSING);
	print_hostent("gethostbyname(missing)", res, h_errno);
	res = gethostbyname2(SLOW, AF_INET);
	print_hostent("gethostbyname2(slow)", res, h_errno);
	r = gethostbyname_r(SLOW, &he, buf, sizeof buf, &res, &herr);
	printf("gethostbyname_r(slow) = %d\n", r);
	print_hostent("  result", res, herr);
	r = gethostbyname_r(MISSING, &he, buf, sizeof buf, &res, &herr);
	printf("gethostbyname_r(missing) = %d h_errno=%d\n", r, h_errno);
	print_hostent("  result", res, herr);
	r = gethostbyname_r(SLOW, &he, buf, 8, &res, &herr);
	printf("gethostbyname_r(slow, 8 bytes) = %d (%s)\n", r, strerror(r));
	r = gethostbyname2_r(SLOW, AF_INET, &he, buf, sizeof buf, &res, &herr);
	printf("gethostbyname2_r(slow) = %d\n", r);
	print_hostent("  result", res, herr);

	inet_pton(AF_INET, "10.1.2.3", &a4);
	res = gethostbyaddr(&a4, sizeof a4, AF_INET);
	print_hostent("gethostbyaddr(10.1.2.3)", res, h_errno);
	r = gethostbyaddr_r(&a4, sizeof a4, AF_INET, &he, buf, sizeof buf, &res, &herr);
	printf("gethostbyaddr_r(10.1.2.3) = %d\n", r);
	print_hostent("  result", res, herr);
	inet_pton(AF_INET, "10.9.9.9", &a4);
	res = gethostbyaddr(&a4, sizeof a4, AF_INET);
	print_hostent("gethostbyaddr(10.9.9.9)", res, h_errno);

	sa.sin_addr.s_addr = inet_addr("10.1.2.3");
	r = getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, serv, sizeof serv,
			NI_NAMEREQD);
	printf("getnameinfo(10.1.2.3) = %d %s %s\n", r, r == 0 ? host : "-", r == 0 ? serv : "-");
	sa.sin_addr.s_addr = inet_addr("10.9.9.9");
	r = getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, NULL, 0,
			NI_NAMEREQD);
	printf("getnameinfo(10.9.9.9, NAMEREQD) = %d (%s)\n", r, gai_strerror(r));
	r = getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV);
	printf("getnameinfo(numeric) = %d %s %s\n", r, host, serv);

	r = res_query(SLOW, ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_query(slow)", r, ans);
	r = res_query(MISSING, ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_query(missing)", r, ans);
	r = res_search("slow", ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_search(slow)", r, ans);
	r = res_querydomain("slow", "greenshim.test", ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_querydomain(slow, greenshim.test)", r, ans);
	memset(&st, 0, sizeof st);
	printf("res_ninit = %d\n", res_ninit(&st));
	r = res_nquery(&st, SLOW, ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_nquery(slow)", r, ans);
	r = res_nsearch(&st, "nosuch", ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_nsearch(nosuch)", r, ans);
	r = res_nquerydomain(&st, "slow", "greenshim.test", ns_c_in, ns_t_a, ans, sizeof ans);
	print_answer("res_nquerydomain(slow, greenshim.test)", r, ans);
	res_nclose(&st);
}

/* res_query and res_search use the calling thread's _res: options the
 * program set there decide the outcome. */
static void case_res_state(void)
{
	unsigned char ans[512];
	int r;

	CHECK(res_init() == 0, "res_init");
	r = res_search("slow", ns_c_in, ns_t_a, ans, sizeof ans);
	CHECK(r > 0, "res_search(slow) with the search list: %d h_errno %d", r, h_errno);
	_res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	r = res_search("slow", ns_c_in, ns_t_a, ans, sizeof ans);
	CHECK(r == -1 && h_errno == HOST_NOT_FOUND,
	      "res_search(slow) without the search list: %d h_errno %d", r, h_errno);
	CHECK(_res.res_h_errno == HOST_NOT_FOUND, "_res.res_h_errno %d", _res.res_h_errno);
}

/* Another thread keeps running while one waits for a slow answer. */
static void case_ticker(void)
{
	pthread_t t;
	struct hostent *h;
	double t0, ms;
	int n;

	t = start_ticker();
	n = atomic_load(&ticks);
	t0 = now_ms();
	h = gethostbyname(SLOW);
	ms = now_ms() - t0;
	n = atomic_load(&ticks) - n;
	stop_ticker(t);
	CHECK(h != NULL, "gethostbyname: h_errno %d", h_errno);
	CHECK(ms >= DELAY_MS * 0.9, "the lookup took %.0f ms: not the slow server?", ms);
	/* 2 ms sleeps through 500 ms: 250 at best; 50 proves it ran. */
	CHECK(n >= 50, "the ticker ran %d times during a %.0f ms lookup", n, ms);
}

#define LOOKUPS 8
static atomic_int succeeded;

static void *lookup(void *arg)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;

	(void)arg;
	if (getaddrinfo(SLOW, "80", &hints, &res) == 0) {
		if (((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == inet_addr("10.1.2.3"))
			atomic_fetch_add(&succeeded, 1);
		freeaddrinfo(res);
	}
	return NULL;
}

/* Lookups of several threads overlap: eight take about one delay. */
static void case_overlap(void)
{
	pthread_t t[LOOKUPS];
	double t0 = now_ms(), ms;

	for (int i = 0; i < LOOKUPS; i++)
		CHECK(pthread_create(&t[i], NULL, lookup, NULL) == 0, "thread %d", i);
	for (int i = 0; i < LOOKUPS; i++)
		pthread_join(t[i], NULL);
	ms = now_ms() - t0;
	CHECK(atomic_load(&succeeded) == LOOKUPS, "%d of %d lookups succeeded",
	      atomic_load(&succeeded), LOOKUPS);
	CHECK(ms < LOOKUPS * DELAY_MS / 2, "%d lookups took %.0f ms", LOOKUPS, ms);
}

/* A child forked after lookups (so with the pool's workers running in
 * the parent) looks names up too. */
static void case_fork(void)
{
	struct hostent *h = gethostbyname(SLOW);
	int status;
	pid_t pid;

	CHECK(h != NULL, "parent lookup: h_errno %d", h_errno);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct addrinfo hints = { .ai_family = AF_INET }, *res;

		h = gethostbyname(SLOW);
		if (h == NULL || getaddrinfo(SLOW, NULL, &hints, &res) != 0)
			_exit(3);
		freeaddrinfo(res);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	CHECK(gethostbyname(SLOW) != NULL, "parent lookup after fork");
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "results", case_results },   { "res_state", case_res_state },
		{ "ticker", case_ticker },     { "overlap", case_overlap },
		{ "fork", case_fork },
	};

	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
