/*
 * Name lookups on the worker pool: getaddrinfo, getnameinfo, the
 * gethostby* family and the resolver's res_* calls.
 *
 * glibc resolves names inside libc (NSS "files" and "dns" live there since
 * 2.34) with system calls that no wrapper sees, and has no non-blocking
 * form of these calls. So the whole call runs on a worker of the pool
 * (src/pool.c) while the calling green thread waits and the others run,
 * as gevent's default resolver does.
 *
 * What must look as if the caller made the call itself:
 *  - the return value and everything written through the program's
 *    pointers: the worker writes them, in the program's memory;
 *  - errno and h_errno, both per OS thread: the worker starts with the
 *    caller's values and the caller gets the worker's values back;
 *  - gethostbyname, gethostbyname2, gethostbyaddr return glibc's static
 *    storage, one per process (nss/getXXbyYY.c): the worker's call
 *    returns that same storage, so the pointer and its lifetime (until
 *    the next call of the same function, from any thread) are native;
 *  - res_query, res_search, res_querydomain, res_send use the calling
 *    thread's resolver state (_res, per OS thread: __res_state()). The
 *    worker points its own __resp (glibc's per-thread pointer behind
 *    _res, GLIBC_PRIVATE) at the caller's state for the call, so the
 *    state is initialised, reloaded when resolv.conf changes, and its
 *    options honoured exactly as natively. Green threads of one OS thread
 *    share that state (as they share every __thread variable), so these
 *    calls run one at a time per state; without __resp (another libc)
 *    they run in the caller. res_n* calls name their state and need
 *    nothing of the sort.
 *  - getaddrinfo, getnameinfo and gethostby* use the worker's own
 *    resolver state, which glibc sets up from /etc/resolv.conf and
 *    RES_OPTIONS/LOCALDOMAIN as it does for any new thread
 *    (docs/LIMITATIONS.md: changes a program makes to _res by hand are
 *    not seen by them).
 *
 * Fast path: a numeric host (of the family asked for) and a numeric (or
 * no) service cannot block (no NSS module is asked): getaddrinfo and
 * getnameinfo run in the caller.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <resolv.h>
#include <string.h>

#include "preload.h"

struct dns_call {
	void (*fn)(struct dns_call *);
	void (*real)(struct dns_call *); /* res_*: the call, for with_callers_res */
	int err;  /* errno: the caller's in, the worker's out */
	int herr; /* h_errno, likewise */
	struct __res_state *res; /* the caller's _res (res_* without n) */
	long ret;
	void *ptr;
	const void *a[6]; /* the call's pointer arguments */
	int i[4];         /* its int arguments */
	size_t len;       /* its buffer length (gethostby*_r) */
};

static void dns_job(void *arg)
{
	struct dns_call *c = arg;

	errno = c->err;
	h_errno = c->herr;
	c->fn(c);
	c->err = errno;
	c->herr = h_errno;
}

/* Runs c->fn on the pool and gives the caller the worker's errno and
 * h_errno. */
static void dns_run(struct dns_call *c)
{
	c->err = errno;
	c->herr = h_errno;
	preload_pool_call(dns_job, c);
	errno = c->err;
	h_errno = c->herr;
}

/* ---- getaddrinfo, getnameinfo ----------------------------------------- */

/* A literal address of the family asked for: glibc answers it without
 * NSS. (Of another family, it asks NSS "hosts" for it as a name.) */
static bool numeric_host(const char *node, int family)
{
	unsigned char a[sizeof(struct in6_addr)];

	return node == NULL ||
	       ((family == AF_UNSPEC || family == AF_INET) && inet_pton(AF_INET, node, a) == 1) ||
	       ((family == AF_UNSPEC || family == AF_INET6) && inet_pton(AF_INET6, node, a) == 1);
}

static bool numeric_service(const char *s)
{
	if (s == NULL)
		return true;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void do_getaddrinfo(struct dns_call *c)
{
	c->ret = REAL(getaddrinfo)(c->a[0], c->a[1], c->a[2], (struct addrinfo **)c->a[3]);
}

GS_WRAP int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			struct addrinfo **res)
{
	int flags = hints != NULL ? hints->ai_flags : 0;
	int family = hints != NULL ? hints->ai_family : AF_UNSPEC;
	struct dns_call c = { .fn = do_getaddrinfo, .a = { node, service, hints, res } };

	if (!(flags & AI_CANONNAME) && ((flags & AI_NUMERICHOST) || numeric_host(node, family)) &&
	    ((flags & AI_NUMERICSERV) || numeric_service(service)))
		return REAL(getaddrinfo)(node, service, hints, res);
	dns_run(&c);
	return (int)c.ret;
}

static void do_getnameinfo(struct dns_call *c)
{
	c->ret = REAL(getnameinfo)(c->a[0], (socklen_t)c->i[0], (char *)c->a[1],
				   (socklen_t)c->i[1], (char *)c->a[2], (socklen_t)c->i[2], c->i[3]);
}

GS_WRAP int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	struct dns_call c = { .fn = do_getnameinfo,
			      .a = { sa, host, serv },
			      .i = { (int)salen, (int)hostlen, (int)servlen, flags } };

	if ((host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST)) &&
	    (serv == NULL || servlen == 0 || (flags & NI_NUMERICSERV)))
		return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	dns_run(&c);
	return (int)c.ret;
}

/* ---- gethostby* --------------------------------------------------------- */

static void do_gethostbyname(struct dns_call *c)
{
	c->ptr = REAL(gethostbyname)(c->a[0]);
}

GS_WRAP struct hostent *gethostbyname(const char *name)
{
	struct dns_call c = { .fn = do_gethostbyname, .a = { name } };

	dns_run(&c);
	return c.ptr;
}

static void do_gethostbyname2(struct dns_call *c)
{
	c->ptr = REAL(gethostbyname2)(c->a[0], c->i[0]);
}

GS_WRAP struct hostent *gethostbyname2(const char *name, int af)
{
	struct dns_call c = { .fn = do_gethostbyname2, .a = { name }, .i = { af } };

	dns_run(&c);
	return c.ptr;
}

static void do_gethostbyaddr(struct dns_call *c)
{
	c->ptr = REAL(gethostbyaddr)(c->a[0], (socklen_t)c->i[0], c->i[1]);
}

GS_WRAP struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	struct dns_call c = { .fn = do_gethostbyaddr, .a = { addr }, .i = { (int)len, type } };

	dns_run(&c);
	return c.ptr;
}

static void do_gethostbyname_r(struct dns_call *c)
{
	c->ret = REAL(gethostbyname_r)(c->a[0], (struct hostent *)c->a[1], (char *)c->a[2],
				       c->len, (struct hostent **)c->a[3], (int *)c->a[4]);
}

GS_WRAP int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			    struct hostent **result, int *h_errnop)
{
	struct dns_call c = { .fn = do_gethostbyname_r,
			      .len = buflen,
			      .a = { name, ret, buf, result, h_errnop } };

	dns_run(&c);
	return (int)c.ret;
}

static void do_gethostbyname2_r(struct dns_call *c)
{
	c->ret = REAL(gethostbyname2_r)(c->a[0], c->i[0], (struct hostent *)c->a[1],
					(char *)c->a[2], c->len,
					(struct hostent **)c->a[3], (int *)c->a[4]);
}

GS_WRAP int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
			     size_t buflen, struct hostent **result, int *h_errnop)
{
	struct dns_call c = { .fn = do_gethostbyname2_r,
			      .len = buflen,
			      .a = { name, ret, buf, result, h_errnop },
			      .i = { af } };

	dns_run(&c);
	return (int)c.ret;
}

static void do_gethostbyaddr_r(struct dns_call *c)
{
	c->ret = REAL(gethostbyaddr_r)(c->a[0], (socklen_t)c->i[0], c->i[1],
				       (struct hostent *)c->a[1], (char *)c->a[2], c->len,
				       (struct hostent **)c->a[3], (int *)c->a[4]);
}

GS_WRAP int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret,
			    char *buf, size_t buflen, struct hostent **result, int *h_errnop)
{
	struct dns_call c = { .fn = do_gethostbyaddr_r,
			      .len = buflen,
			      .a = { addr, ret, buf, result, h_errnop },
			      .i = { (int)len, type } };

	dns_run(&c);
	return (int)c.ret;
}

/* ---- res_*: the calling thread's resolver state ---------------------- */

/* Calls on one state run one at a time: a lock per state, from a small
 * table (two states sharing a lock only wait for each other). */
#define RES_LOCKS 16
static pthread_mutex_t res_locks[RES_LOCKS] = {
	[0 ... RES_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t *res_lock(const void *state)
{
	return &res_locks[((uintptr_t)state >> 4) % RES_LOCKS];
}

/* fork: a worker may have held a lock; it does not exist in the child. */
void dns_fork_child(void)
{
	for (int i = 0; i < RES_LOCKS; i++)
		res_locks[i] = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
}

/* The calling thread's __resp, the pointer behind its _res (glibc's
 * thread-local, GLIBC_PRIVATE; dlsym gives the caller's own instance);
 * NULL when libc has none. */
static struct __res_state **own_resp(void)
{
	return dlvsym(RTLD_NEXT, "__resp", "GLIBC_PRIVATE");
}

static int have_resp = -1; /* does libc have __resp? once per process */

/* May res_* run on a worker? Only if the worker can take the caller's
 * state; otherwise the plain call, in the caller. */
static bool res_on_pool(void)
{
	if (GS_UNLIKELY(have_resp < 0))
		have_resp = own_resp() != NULL;
	return have_resp;
}

/* On the worker: c's real call with the worker's _res being the caller's
 * state, one call per state at a time. */
static void with_callers_res(struct dns_call *c)
{
	static __thread struct __res_state **resp;
	struct __res_state *own;
	pthread_mutex_t *mu;

	if (resp == NULL)
		resp = own_resp();
	if (resp == NULL || *resp == c->res) {
		/* Run by the caller itself (pool_call ran it inline). */
		c->real(c);
		return;
	}
	mu = res_lock(c->res);
	os_ops.mutex_lock(mu);
	own = *resp;
	*resp = c->res;
	c->real(c);
	*resp = own;
	os_ops.mutex_unlock(mu);
}

/* res_query and its kin: on the pool with the caller's _res. */
static long res_run(struct dns_call *c)
{
	c->res = __res_state();
	c->fn = with_callers_res;
	dns_run(c);
	return c->ret;
}

static void real_res_query(struct dns_call *c)
{
	c->ret = REAL(res_query)(c->a[0], c->i[0], c->i[1], (unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_query(const char *dname, int class, int type, unsigned char *answer, int anslen)
{
	struct dns_call c = { .real = real_res_query,
			      .a = { dname, answer },
			      .i = { class, type, anslen } };

	if (!res_on_pool())
		return REAL(res_query)(dname, class, type, answer, anslen);
	return (int)res_run(&c);
}

static void real_res_search(struct dns_call *c)
{
	c->ret = REAL(res_search)(c->a[0], c->i[0], c->i[1], (unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_search(const char *dname, int class, int type, unsigned char *answer, int anslen)
{
	struct dns_call c = { .real = real_res_search,
			      .a = { dname, answer },
			      .i = { class, type, anslen } };

	if (!res_on_pool())
		return REAL(res_search)(dname, class, type, answer, anslen);
	return (int)res_run(&c);
}

static void real_res_querydomain(struct dns_call *c)
{
	c->ret = REAL(res_querydomain)(c->a[0], c->a[2], c->i[0], c->i[1],
				       (unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_querydomain(const char *name, const char *domain, int class, int type,
			    unsigned char *answer, int anslen)
{
	struct dns_call c = { .real = real_res_querydomain,
			      .a = { name, answer, domain },
			      .i = { class, type, anslen } };

	if (!res_on_pool())
		return REAL(res_querydomain)(name, domain, class, type, answer, anslen);
	return (int)res_run(&c);
}

static void real_res_send(struct dns_call *c)
{
	c->ret = REAL(res_send)(c->a[0], c->i[0], (unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_send(const unsigned char *msg, int msglen, unsigned char *answer, int anslen)
{
	struct dns_call c = { .real = real_res_send,
			      .a = { msg, answer },
			      .i = { msglen, 0, anslen } };

	if (!res_on_pool())
		return REAL(res_send)(msg, msglen, answer, anslen);
	return (int)res_run(&c);
}

/* res_n*: the state is the program's own argument; the worker uses it. */

static void do_res_nquery(struct dns_call *c)
{
	c->ret = REAL(res_nquery)((res_state)c->a[3], c->a[0], c->i[0], c->i[1],
				  (unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_nquery(res_state statp, const char *dname, int class, int type,
		       unsigned char *answer, int anslen)
{
	struct dns_call c = { .fn = do_res_nquery,
			      .a = { dname, answer, NULL, statp },
			      .i = { class, type, anslen } };

	dns_run(&c);
	return (int)c.ret;
}

static void do_res_nsearch(struct dns_call *c)
{
	c->ret = REAL(res_nsearch)((res_state)c->a[3], c->a[0], c->i[0], c->i[1],
				   (unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_nsearch(res_state statp, const char *dname, int class, int type,
			unsigned char *answer, int anslen)
{
	struct dns_call c = { .fn = do_res_nsearch,
			      .a = { dname, answer, NULL, statp },
			      .i = { class, type, anslen } };

	dns_run(&c);
	return (int)c.ret;
}

static void do_res_nquerydomain(struct dns_call *c)
{
	c->ret = REAL(res_nquerydomain)((res_state)c->a[3], c->a[0], c->a[2], c->i[0], c->i[1],
					(unsigned char *)c->a[1], c->i[2]);
}

GS_WRAP int res_nquerydomain(res_state statp, const char *name, const char *domain, int class,
			     int type, unsigned char *answer, int anslen)
{
	struct dns_call c = { .fn = do_res_nquerydomain,
			      .a = { name, answer, domain, statp },
			      .i = { class, type, anslen } };

	dns_run(&c);
	return (int)c.ret;
}

static void do_res_nsend(struct dns_call *c)
{
	c->ret = REAL(res_nsend)((res_state)c->a[3], c->a[0], c->i[0], (unsigned char *)c->a[1],
				 c->i[2]);
}

GS_WRAP int res_nsend(res_state statp, const unsigned char *msg, int msglen,
		      unsigned char *answer, int anslen)
{
	struct dns_call c = { .fn = do_res_nsend,
			      .a = { msg, answer, NULL, statp },
			      .i = { msglen, 0, anslen } };

	dns_run(&c);
	return (int)c.ret;
}

/* The names programs linked before glibc 2.34 bind to (resolv.h defined
 * res_query as __res_query...). */
GS_WRAP int __res_query(const char *, int, int, unsigned char *, int) __THROW
	__attribute__((alias("res_query")));
GS_WRAP int __res_search(const char *, int, int, unsigned char *, int)
	__THROW __attribute__((alias("res_search")));
GS_WRAP int __res_querydomain(const char *, const char *, int, int, unsigned char *, int)
	__THROW __attribute__((alias("res_querydomain")));
GS_WRAP int __res_send(const unsigned char *, int, unsigned char *, int)
	__THROW __attribute__((alias("res_send")));
GS_WRAP int __res_nquery(res_state, const char *, int, int, unsigned char *, int)
	__THROW __attribute__((alias("res_nquery")));
GS_WRAP int __res_nsearch(res_state, const char *, int, int, unsigned char *, int)
	__THROW __attribute__((alias("res_nsearch")));
GS_WRAP int __res_nquerydomain(res_state, const char *, const char *, int, int, unsigned char *,
			       int) __THROW __attribute__((alias("res_nquerydomain")));
GS_WRAP int __res_nsend(res_state, const unsigned char *, int, unsigned char *, int)
	__THROW __attribute__((alias("res_nsend")));
