/*
 * The CPU bandwidth the process's control groups allow: what
 * GREENSHIM_HUBS=auto takes, beside the affinity mask, for the number of
 * CPUs the program may keep busy (config.c). A container given two CPUs'
 * worth of time on a 64-CPU host (docker --cpus=2, a Kubernetes CPU
 * limit) sees 64 CPUs in its affinity mask; 64 hubs there would be
 * throttled by the kernel as a whole whenever more than two ran at once.
 *
 * The limit of a cgroup is its quota over its period, in CPUs:
 *  - cgroup v2: the file cpu.max, "QUOTA PERIOD" or "max PERIOD";
 *  - cgroup v1, the cpu controller: cpu.cfs_quota_us (-1 for none) over
 *    cpu.cfs_period_us.
 * The kernel enforces every ancestor's limit as well as the process's own
 * cgroup's, so each directory from the process's cgroup up to the
 * hierarchy's mount point is read, and the tightest one counts (Go 1.25's
 * runtime reads the leaf's alone). Both hierarchies are read where both
 * are mounted. A limit is rounded up to whole CPUs (1.5 CPUs give two
 * hubs, which may share the time between them; with one, half a CPU would
 * never be used), as Go and the JVM round theirs.
 *
 * Where the files are: /proc/self/cgroup names the process's cgroup in
 * each hierarchy ("0::PATH" for v2, "ID:CONTROLLERS:PATH" for v1), and
 * /proc/self/mountinfo where each hierarchy is mounted: its fourth field
 * is the mount's root inside the hierarchy (a container's view starts
 * below the host's root), its fifth the mount point, and after the " - "
 * separator the file system type (cgroup2, or cgroup with "cpu" among its
 * options). A cgroup outside a mount's root (a path that is not below it)
 * is not reachable there and counts as no limit.
 *
 * Read once, when the configuration is (config_load): a limit changed
 * later, or a process moved to another cgroup, keeps the hubs it started
 * with (docs/LIMITATIONS.md). Raw system calls, nothing allocated: the
 * program's descriptors and errno stay its own.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "runtime.h"
#include "sys.h"

#define CGROUP_PATH_MAX 1024

/* A file read a line at a time through a fixed buffer; a line longer than
 * the buffer is skipped whole. */
struct lines {
	long fd;
	char buf[2048];
	size_t len, pos;
	bool eof;
};

static bool lines_open(struct lines *l, const char *path)
{
	l->fd = arch_syscall6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	l->len = l->pos = 0;
	l->eof = false;
	return l->fd >= 0;
}

static void lines_close(struct lines *l)
{
	arch_syscall3(SYS_close, l->fd, 0, 0);
}

/* The next line, NUL-terminated without its newline, or NULL at the end. */
static char *lines_next(struct lines *l)
{
	bool skipping = false;

	for (;;) {
		char *nl = memchr(l->buf + l->pos, '\n', l->len - l->pos);
		long n;

		if (nl != NULL) {
			char *line = l->buf + l->pos;

			*nl = '\0';
			l->pos = (size_t)(nl - l->buf) + 1;
			if (!skipping)
				return line;
			skipping = false;
			continue;
		}
		if (l->eof) {
			/* A last line without a newline. */
			if (l->pos < l->len && !skipping && l->len < sizeof l->buf) {
				char *line = l->buf + l->pos;

				l->buf[l->len] = '\0';
				l->pos = l->len;
				return line;
			}
			return NULL;
		}
		memmove(l->buf, l->buf + l->pos, l->len - l->pos);
		l->len -= l->pos;
		l->pos = 0;
		if (l->len == sizeof l->buf - 1) { /* no newline in a full buffer */
			skipping = true;
			l->len = 0;
		}
		do
			n = arch_syscall3(SYS_read, l->fd, (long)(l->buf + l->len),
					  (long)(sizeof l->buf - 1 - l->len));
		while (n == -EINTR);
		if (n <= 0)
			l->eof = true;
		else
			l->len += (size_t)n;
	}
}

/* The whole of a small file into buf (NUL-terminated), or false. */
static bool read_small(const char *path, char *buf, size_t size)
{
	long fd = arch_syscall6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	size_t len = 0;
	long n;

	if (fd < 0)
		return false;
	while (len < size - 1 &&
	       ((n = arch_syscall3(SYS_read, fd, (long)(buf + len), (long)(size - 1 - len))) > 0 ||
		n == -EINTR))
		if (n > 0)
			len += (size_t)n;
	arch_syscall3(SYS_close, fd, 0, 0);
	buf[len] = '\0';
	return len > 0;
}

/* A decimal number at *p, which moves past it; -1 if none. */
static int64_t number(const char **p)
{
	int64_t v = 0;

	if (**p < '0' || **p > '9')
		return -1;
	for (; **p >= '0' && **p <= '9'; (*p)++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* QUOTA over PERIOD in whole CPUs, rounded up; 0 when either is not a
 * positive number (no limit). */
static unsigned whole_cpus(int64_t quota, int64_t period)
{
	int64_t n;

	if (quota <= 0 || period <= 0)
		return 0;
	n = quota / period + (quota % period != 0);
	return n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
}

/* The limit set in the cgroup directory dir, in whole CPUs, or 0. */
static unsigned dir_limit(char *dir, size_t len, bool v2)
{
	char val[64];
	const char *p;
	int64_t quota, period;

	if (v2) {
		if (len + sizeof "/cpu.max" > CGROUP_PATH_MAX)
			return 0;
		memcpy(dir + len, "/cpu.max", sizeof "/cpu.max");
		if (!read_small(dir, val, sizeof val) || strncmp(val, "max", 3) == 0)
			return 0;
		p = val;
		quota = number(&p);
		if (*p++ != ' ')
			return 0;
		period = number(&p);
		return whole_cpus(quota, period);
	}
	if (len + sizeof "/cpu.cfs_period_us" > CGROUP_PATH_MAX)
		return 0;
	memcpy(dir + len, "/cpu.cfs_quota_us", sizeof "/cpu.cfs_quota_us");
	if (!read_small(dir, val, sizeof val))
		return 0;
	p = val;
	quota = number(&p); /* -1 (no limit) reads as no number */
	memcpy(dir + len, "/cpu.cfs_period_us", sizeof "/cpu.cfs_period_us");
	if (!read_small(dir, val, sizeof val))
		return 0;
	p = val;
	period = number(&p);
	return whole_cpus(quota, period);
}

/* The tightest limit from cgroup path cg (inside the hierarchy) up to the
 * root of a mount at point whose root inside the hierarchy is root. */
static unsigned hierarchy_limit(const char *cg, const char *root, const char *point, bool v2)
{
	char dir[CGROUP_PATH_MAX];
	size_t rlen = strlen(root), plen = strlen(point), len;
	unsigned best = 0, n;

	if (strcmp(root, "/") == 0)
		rlen = 0;
	else if (strncmp(cg, root, rlen) != 0 || (cg[rlen] != '\0' && cg[rlen] != '/'))
		return 0; /* the process's cgroup is not below this mount */
	cg += rlen;
	if (strcmp(cg, "/") == 0)
		cg = "";
	len = plen + strlen(cg);
	if (len >= CGROUP_PATH_MAX - 32)
		return 0;
	memcpy(dir, point, plen);
	memcpy(dir + plen, cg, strlen(cg) + 1);
	for (;;) {
		n = dir_limit(dir, len, v2);
		if (n != 0 && (best == 0 || n < best))
			best = n;
		if (len <= plen)
			return best;
		while (len > plen && dir[len - 1] != '/')
			len--;
		if (len > plen)
			len--; /* the slash */
		dir[len] = '\0';
	}
}

/* Whether the comma-separated list s (up to end) holds word. */
static bool has_word(const char *s, const char *end, const char *word)
{
	size_t w = strlen(word);

	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));

		if (c == NULL)
			c = end;
		if ((size_t)(c - s) == w && memcmp(s, word, w) == 0)
			return true;
		s = c + 1;
	}
	return false;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

unsigned cgroup_cpu_limit(const char *cgroup_file, const char *mountinfo_file)
{
	char v1[CGROUP_PATH_MAX] = "", v2[CGROUP_PATH_MAX] = "";
	bool have_v1 = false, have_v2 = false;
	struct lines l;
	unsigned best = 0, n;
	char *line;

	if (!lines_open(&l, cgroup_file))
		return 0;
	while ((line = lines_next(&l)) != NULL) {
		char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		char *path = c2 != NULL ? c2 + 1 : NULL;

		if (path == NULL || *path != '/' || strlen(path) >= CGROUP_PATH_MAX)
			continue;
		if (c2 == c1 + 1 && c1 - line == 1 && line[0] == '0') {
			strcpy(v2, path);
			have_v2 = true;
		} else if (has_word(c1 + 1, c2, "cpu")) {
			strcpy(v1, path);
			have_v1 = true;
		}
	}
	lines_close(&l);
	if ((!have_v1 && !have_v2) || !lines_open(&l, mountinfo_file))
		return 0;
	while ((line = lines_next(&l)) != NULL) {
		char *field[6], *sep, *type, *super, *end;
		int i;

		/* id parent major:minor root point options [optional...] - type source super */
		for (i = 0; i < 6 && line != NULL; i++) {
			field[i] = line;
			line = strchr(line, ' ');
			if (line != NULL)
				*line++ = '\0';
		}
		if (i < 6 || line == NULL || (sep = strstr(line, "- ")) == NULL ||
		    (sep != line && sep[-1] != ' '))
			continue;
		type = sep + 2;
		if ((super = strchr(type, ' ')) == NULL || (super = strchr(super + 1, ' ')) == NULL)
			continue;
		*strchr(type, ' ') = '\0';
		super++;
		unescape(field[3]);
		unescape(field[4]);
		n = 0;
		if (have_v2 && strcmp(type, "cgroup2") == 0) {
			n = hierarchy_limit(v2, field[3], field[4], true);
		} else if (have_v1 && strcmp(type, "cgroup") == 0) {
			end = super + strlen(super);
			if (has_word(super, end, "cpu"))
				n = hierarchy_limit(v1, field[3], field[4], false);
		}
		if (n != 0 && (best == 0 || n < best))
			best = n;
	}
	lines_close(&l);
	return best;
}
