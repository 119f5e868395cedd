/*
 * The other NSS lookups on the worker pool: users and groups (getpwnam,
 * getpwuid, getgrnam, getgrgid, their _r forms, getgrouplist) and
 * services (getservbyname, getservbyport and their _r forms).
 *
 * glibc asks the NSS modules nsswitch.conf names from inside libc, past
 * every wrapper; "files" is quick, but ldap, nis or sss ask a server and
 * block the OS thread for as long as it takes. As in dns.c, the whole call
 * runs on a worker of the pool (src/pool.c) while the calling green thread
 * waits and the others run.
 *
 * What must look as if the caller made the call itself:
 *  - the return value and everything written through the program's
 *    pointers (the _r forms' struct, buffer and result pointer): the
 *    worker writes them, in the program's memory;
 *  - errno, per OS thread: the worker starts with the caller's value and
 *    the caller gets the worker's back (the non-_r forms report through
 *    it; the _r forms may touch it too);
 *  - the non-_r forms return glibc's static storage, one per process and
 *    function (nss/getXXbyYY.c, guarded by a lock of its own): the
 *    worker's call returns that same storage, so the pointer and its
 *    lifetime (until the next call of the same function, from any thread)
 *    are native.
 *
 * Not here: the enumerations (setpwent/getpwent/endpwent, getgrent,
 * getservent...) keep their position in per-process state that one call
 * after another moves; initgroups, getprotoby*, getnetby*, gethostent.
 * They stay the plain call (docs/LIMITATIONS.md).
 */
#include <grp.h>
#include <netdb.h>
#include <pwd.h>

#include "preload.h"

struct nss_call {
	void (*fn)(struct nss_call *);
	int err; /* errno: the caller's in, the worker's out */
	long ret;
	void *ptr;
	const void *a[5]; /* the call's pointer arguments */
	unsigned id;      /* its uid, gid or port */
	size_t len;       /* its buffer length (_r forms) */
};

static void nss_job(void *arg)
{
	struct nss_call *c = arg;

	errno = c->err;
	c->fn(c);
	c->err = errno;
}

/* Runs c->fn on the pool and gives the caller the worker's errno. */
static void nss_run(struct nss_call *c)
{
	c->err = errno;
	preload_pool_call(nss_job, c);
	errno = c->err;
}

/* ---- users ------------------------------------------------------------ */

static void do_getpwnam(struct nss_call *c)
{
	c->ptr = REAL(getpwnam)(c->a[0]);
}

GS_WRAP struct passwd *getpwnam(const char *name)
{
	struct nss_call c = { .fn = do_getpwnam, .a = { name } };

	nss_run(&c);
	return c.ptr;
}

static void do_getpwuid(struct nss_call *c)
{
	c->ptr = REAL(getpwuid)((uid_t)c->id);
}

GS_WRAP struct passwd *getpwuid(uid_t uid)
{
	struct nss_call c = { .fn = do_getpwuid, .id = uid };

	nss_run(&c);
	return c.ptr;
}

static void do_getpwnam_r(struct nss_call *c)
{
	c->ret = REAL(getpwnam_r)(c->a[0], (struct passwd *)c->a[1], (char *)c->a[2], c->len,
				  (struct passwd **)c->a[3]);
}

GS_WRAP int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen,
		       struct passwd **result)
{
	struct nss_call c = { .fn = do_getpwnam_r, .len = buflen,
			      .a = { name, pwd, buf, result } };

	nss_run(&c);
	return (int)c.ret;
}

static void do_getpwuid_r(struct nss_call *c)
{
	c->ret = REAL(getpwuid_r)((uid_t)c->id, (struct passwd *)c->a[1], (char *)c->a[2],
				  c->len, (struct passwd **)c->a[3]);
}

GS_WRAP int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen,
		       struct passwd **result)
{
	struct nss_call c = { .fn = do_getpwuid_r, .id = uid, .len = buflen,
			      .a = { NULL, pwd, buf, result } };

	nss_run(&c);
	return (int)c.ret;
}

/* ---- groups ----------------------------------------------------------- */

static void do_getgrnam(struct nss_call *c)
{
	c->ptr = REAL(getgrnam)(c->a[0]);
}

GS_WRAP struct group *getgrnam(const char *name)
{
	struct nss_call c = { .fn = do_getgrnam, .a = { name } };

	nss_run(&c);
	return c.ptr;
}

static void do_getgrgid(struct nss_call *c)
{
	c->ptr = REAL(getgrgid)((gid_t)c->id);
}

GS_WRAP struct group *getgrgid(gid_t gid)
{
	struct nss_call c = { .fn = do_getgrgid, .id = gid };

	nss_run(&c);
	return c.ptr;
}

static void do_getgrnam_r(struct nss_call *c)
{
	c->ret = REAL(getgrnam_r)(c->a[0], (struct group *)c->a[1], (char *)c->a[2], c->len,
				  (struct group **)c->a[3]);
}

GS_WRAP int getgrnam_r(const char *name, struct group *grp, char *buf, size_t buflen,
		       struct group **result)
{
	struct nss_call c = { .fn = do_getgrnam_r, .len = buflen,
			      .a = { name, grp, buf, result } };

	nss_run(&c);
	return (int)c.ret;
}

static void do_getgrgid_r(struct nss_call *c)
{
	c->ret = REAL(getgrgid_r)((gid_t)c->id, (struct group *)c->a[1], (char *)c->a[2],
				  c->len, (struct group **)c->a[3]);
}

GS_WRAP int getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t buflen,
		       struct group **result)
{
	struct nss_call c = { .fn = do_getgrgid_r, .id = gid, .len = buflen,
			      .a = { NULL, grp, buf, result } };

	nss_run(&c);
	return (int)c.ret;
}

static void do_getgrouplist(struct nss_call *c)
{
	c->ret = REAL(getgrouplist)(c->a[0], (gid_t)c->id, (gid_t *)c->a[1], (int *)c->a[2]);
}

GS_WRAP int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	struct nss_call c = { .fn = do_getgrouplist, .id = group,
			      .a = { user, groups, ngroups } };

	nss_run(&c);
	return (int)c.ret;
}

/* ---- services --------------------------------------------------------- */

static void do_getservbyname(struct nss_call *c)
{
	c->ptr = REAL(getservbyname)(c->a[0], c->a[1]);
}

GS_WRAP struct servent *getservbyname(const char *name, const char *proto)
{
	struct nss_call c = { .fn = do_getservbyname, .a = { name, proto } };

	nss_run(&c);
	return c.ptr;
}

static void do_getservbyport(struct nss_call *c)
{
	c->ptr = REAL(getservbyport)((int)c->id, c->a[1]);
}

GS_WRAP struct servent *getservbyport(int port, const char *proto)
{
	struct nss_call c = { .fn = do_getservbyport, .id = (unsigned)port,
			      .a = { NULL, proto } };

	nss_run(&c);
	return c.ptr;
}

static void do_getservbyname_r(struct nss_call *c)
{
	c->ret = REAL(getservbyname_r)(c->a[0], c->a[1], (struct servent *)c->a[2],
				       (char *)c->a[3], c->len, (struct servent **)c->a[4]);
}

GS_WRAP int getservbyname_r(const char *name, const char *proto, struct servent *ret, char *buf,
			    size_t buflen, struct servent **result)
{
	struct nss_call c = { .fn = do_getservbyname_r, .len = buflen,
			      .a = { name, proto, ret, buf, result } };

	nss_run(&c);
	return (int)c.ret;
}

static void do_getservbyport_r(struct nss_call *c)
{
	c->ret = REAL(getservbyport_r)((int)c->id, c->a[1], (struct servent *)c->a[2],
				       (char *)c->a[3], c->len, (struct servent **)c->a[4]);
}

GS_WRAP int getservbyport_r(int port, const char *proto, struct servent *ret, char *buf,
			    size_t buflen, struct servent **result)
{
	struct nss_call c = { .fn = do_getservbyport_r, .id = (unsigned)port, .len = buflen,
			      .a = { NULL, proto, ret, buf, result } };

	nss_run(&c);
	return (int)c.ret;
}
