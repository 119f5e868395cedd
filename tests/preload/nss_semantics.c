/* User, group and service lookups (getpwnam, getgrgid_r, getservbyname...).
 * "results" prints what each call returned (fields, return value, errno,
 * ERANGE with a tiny buffer), to be compared with a native run; "threads"
 * looks up a user, then prints the names of the process's threads.
 * An ordinary program: nothing here knows of greenshim. */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"

static void print_pw(const char *what, const struct passwd *p, int err)
{
	if (p == NULL)
		printf("%s: NULL errno=%d\n", what, err);
	else
		printf("%s: %s:%s:%u:%u:%s:%s:%s\n", what, p->pw_name, p->pw_passwd,
		       (unsigned)p->pw_uid, (unsigned)p->pw_gid, p->pw_gecos, p->pw_dir,
		       p->pw_shell);
}

static void print_gr(const char *what, const struct group *g, int err)
{
	if (g == NULL) {
		printf("%s: NULL errno=%d\n", what, err);
		return;
	}
	printf("%s: %s:%s:%u:", what, g->gr_name, g->gr_passwd, (unsigned)g->gr_gid);
	for (char **m = g->gr_mem; *m != NULL; m++)
		printf("%s%s", m == g->gr_mem ? "" : ",", *m);
	printf("\n");
}

static void print_serv(const char *what, const struct servent *s, int err)
{
	if (s == NULL) {
		printf("%s: NULL errno=%d\n", what, err);
		return;
	}
	printf("%s: %s %d/%s", what, s->s_name, ntohs((uint16_t)s->s_port), s->s_proto);
	for (char **a = s->s_aliases; *a != NULL; a++)
		printf(" alias=%s", *a);
	printf("\n");
}

static const char *users[] = { "root", "nobody", "nosuchuser-gs" };
static const char *groups[] = { "root", "nogroup", "nosuchgroup-gs" };
static const unsigned ids[] = { 0, 65534, 54321 };

static void users_results(void)
{
	char what[96], buf[4096], tiny[4];
	struct passwd pw, *res;
	int r;

	for (int i = 0; i < 3; i++) {
		struct passwd *p;

		errno = 0;
		p = getpwnam(users[i]);
		snprintf(what, sizeof what, "getpwnam(%s)", users[i]);
		print_pw(what, p, errno);
		errno = 0;
		p = getpwuid(ids[i]);
		snprintf(what, sizeof what, "getpwuid(%u)", ids[i]);
		print_pw(what, p, errno);

		errno = 0;
		res = &pw;
		r = getpwnam_r(users[i], &pw, buf, sizeof buf, &res);
		snprintf(what, sizeof what, "getpwnam_r(%s) = %d", users[i], r);
		print_pw(what, res, errno);
		errno = 0;
		res = &pw;
		r = getpwuid_r(ids[i], &pw, buf, sizeof buf, &res);
		snprintf(what, sizeof what, "getpwuid_r(%u) = %d", ids[i], r);
		print_pw(what, res, errno);

		errno = 0;
		res = &pw;
		r = getpwnam_r(users[i], &pw, tiny, sizeof tiny, &res);
		snprintf(what, sizeof what, "getpwnam_r(%s, tiny) = %d", users[i], r);
		print_pw(what, res, errno);
		errno = 0;
		res = &pw;
		r = getpwuid_r(ids[i], &pw, tiny, sizeof tiny, &res);
		snprintf(what, sizeof what, "getpwuid_r(%u, tiny) = %d", ids[i], r);
		print_pw(what, res, errno);
	}
	/* errno as the call left it, from whatever the caller had. */
	for (int i = 0; i < 3; i++) {
		errno = EDOM;
		getpwnam(users[i]);
		printf("getpwnam(%s) from EDOM: errno=%d\n", users[i], errno);
		errno = EDOM;
		getgrouplist(users[i], 12345, (gid_t[4]){ 0 }, &(int){ 4 });
		printf("getgrouplist(%s) from EDOM: errno=%d\n", users[i], errno);
	}
	/* The non-_r forms return one static struct per function. */
	printf("getpwnam storage shared: %d\n", getpwnam("root") == getpwnam("nobody"));
}

static void groups_results(void)
{
	char what[96], buf[4096], tiny[4];
	struct group gr, *res;
	gid_t list[64];
	int r, n;

	for (int i = 0; i < 3; i++) {
		struct group *g;

		errno = 0;
		g = getgrnam(groups[i]);
		snprintf(what, sizeof what, "getgrnam(%s)", groups[i]);
		print_gr(what, g, errno);
		errno = 0;
		g = getgrgid(ids[i]);
		snprintf(what, sizeof what, "getgrgid(%u)", ids[i]);
		print_gr(what, g, errno);

		errno = 0;
		res = &gr;
		r = getgrnam_r(groups[i], &gr, buf, sizeof buf, &res);
		snprintf(what, sizeof what, "getgrnam_r(%s) = %d", groups[i], r);
		print_gr(what, res, errno);
		errno = 0;
		res = &gr;
		r = getgrgid_r(ids[i], &gr, buf, sizeof buf, &res);
		snprintf(what, sizeof what, "getgrgid_r(%u) = %d", ids[i], r);
		print_gr(what, res, errno);

		errno = 0;
		res = &gr;
		r = getgrnam_r(groups[i], &gr, tiny, sizeof tiny, &res);
		snprintf(what, sizeof what, "getgrnam_r(%s, tiny) = %d", groups[i], r);
		print_gr(what, res, errno);
		errno = 0;
		res = &gr;
		r = getgrgid_r(ids[i], &gr, tiny, sizeof tiny, &res);
		snprintf(what, sizeof what, "getgrgid_r(%u, tiny) = %d", ids[i], r);
		print_gr(what, res, errno);

		for (int size = 0; size <= 64; size += 64) {
			n = size;
			errno = 0;
			r = getgrouplist(users[i], 12345, list, &n);
			printf("getgrouplist(%s, 12345, %d) = %d n=%d errno=%d:", users[i], size, r,
			       n, errno);
			for (int k = 0; r > 0 && k < r; k++)
				printf(" %u", (unsigned)list[k]);
			printf("\n");
		}
	}
	printf("getgrnam storage shared: %d\n", getgrnam("root") == getgrnam("nogroup"));
}

static void services_results(void)
{
	static const char *names[][2] = {
		{ "http", "tcp" }, { "ssh", NULL }, { "domain", "udp" }, { "nosuchservice-gs", "tcp" },
		{ "http", "nosuchproto" },
	};
	static const int ports[] = { 80, 22, 53, 1 };
	char what[96], buf[4096], tiny[4];
	struct servent se, *res;
	int r;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *pr = names[i][1];

		errno = 0;
		snprintf(what, sizeof what, "getservbyname(%s, %s)", names[i][0], pr ? pr : "NULL");
		print_serv(what, getservbyname(names[i][0], pr), errno);
		errno = 0;
		res = &se;
		r = getservbyname_r(names[i][0], pr, &se, buf, sizeof buf, &res);
		snprintf(what, sizeof what, "getservbyname_r(%s, %s) = %d", names[i][0],
			 pr ? pr : "NULL", r);
		print_serv(what, res, errno);
		errno = 0;
		res = &se;
		r = getservbyname_r(names[i][0], pr, &se, tiny, sizeof tiny, &res);
		snprintf(what, sizeof what, "getservbyname_r(%s, %s, tiny) = %d", names[i][0],
			 pr ? pr : "NULL", r);
		print_serv(what, res, errno);
	}
	for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
		int port = (int)htons((uint16_t)ports[i]);

		errno = 0;
		snprintf(what, sizeof what, "getservbyport(%d, tcp)", ports[i]);
		print_serv(what, getservbyport(port, "tcp"), errno);
		errno = 0;
		res = &se;
		r = getservbyport_r(port, NULL, &se, buf, sizeof buf, &res);
		snprintf(what, sizeof what, "getservbyport_r(%d, NULL) = %d", ports[i], r);
		print_serv(what, res, errno);
		errno = 0;
		res = &se;
		r = getservbyport_r(port, "tcp", &se, tiny, sizeof tiny, &res);
		snprintf(what, sizeof what, "getservbyport_r(%d, tcp, tiny) = %d", ports[i], r);
		print_serv(what, res, errno);
	}
	printf("getservbyname storage shared: %d\n",
	       getservbyname("http", "tcp") == getservbyname("ssh", "tcp"));
}

/* The same calls from a second thread too: results must not depend on
 * which thread asks. */
static void *results_thread(void *arg)
{
	(void)arg;
	users_results();
	groups_results();
	services_results();
	return NULL;
}

static void case_results(void)
{
	pthread_t t;

	results_thread(NULL);
	CHECK(pthread_create(&t, NULL, results_thread, NULL) == 0, "pthread_create");
	CHECK(pthread_join(t, NULL) == 0, "pthread_join");
}

/* The names of this process's threads, one line, sorted. */
static void print_threads(void)
{
	char names[64][32], path[300];
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;

	CHECK(d != NULL, "opendir");
	while ((de = readdir(d)) != NULL && n < 64) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (f != NULL && fgets(names[n], sizeof names[n], f) != NULL) {
			names[n][strcspn(names[n], "\n")] = '\0';
			n++;
		}
		if (f != NULL)
			fclose(f);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	printf("threads:");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void case_threads(void)
{
	CHECK(getpwnam("root") != NULL, "getpwnam(root)");
	print_threads();
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "results", case_results },
		{ "threads", case_threads },
	};

	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
