/*
 * The process's own fds and RSS, from /proc/self, for the soak programs
 * that measure themselves (forks, signals, close). fds_snap records which
 * numbers are open; fds_new prints the ones open now that were not then,
 * with what they are, so that a report can tell a leak from a runtime's
 * descriptor opened on the way.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNAP_MAX 65536

static long fds_snap(unsigned char *open_now)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;
	int self = dirfd(d);

	if (open_now)
		memset(open_now, 0, SNAP_MAX);
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.' || (fd = atoi(e->d_name)) == self)
			continue;
		n++;
		if (open_now && fd < SNAP_MAX)
			open_now[fd] = 1;
	}
	closedir(d);
	return n;
}

/* Writes "fd:target,fd:target" of the fds open now and not in before;
 * ":hidden" follows the ones the program cannot use. */
static void fds_new(const unsigned char *before, char *out, size_t len)
{
	static unsigned char now[SNAP_MAX];
	size_t used = 0;

	fds_snap(now);
	out[0] = '\0';
	for (int fd = 0; fd < SNAP_MAX && used + 1 < len; fd++) {
		char path[64], target[256];
		ssize_t n;

		if (!now[fd] || before[fd])
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		for (char *p = target; *p; p++)
			if (*p == ' ')
				*p = '_';
		/* An fd that /proc lists and fcntl calls closed is hidden from
		 * the program: a runtime's own (greenshim's, docs/LIMITATIONS.md). */
		used += snprintf(out + used, len - used, "%s%d:%s%s", used ? "," : "", fd, target,
				 fcntl(fd, F_GETFD) < 0 ? ":hidden" : "");
	}
	if (!out[0])
		snprintf(out, len, "none");
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}
