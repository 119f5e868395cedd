/*
 * greenctl: looks inside a program running under greenshim.
 *
 *   greenctl PID ps | stacks | stats | top [-n N] | ping
 *   greenctl PID profile -d SECONDS -o FILE [-k KINDS] [--all-frames]
 *   greenctl flame FOLDED -o OUT.svg [-k KIND]
 *   greenctl diff BEFORE AFTER -o OUT.svg
 *
 * It connects to the program's control socket (the abstract unix socket
 * "greenshim-PID", src/control.c), sends one request line and lays out the
 * tab-separated records that come back. The program checks that greenctl
 * runs as its own user or as root. top asks again every second.
 *
 * Exit status: 0; 1 when the process cannot be asked (none, not under
 * greenshim, no control socket, permission) or refused the request; 2 for
 * a usage error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../src/runtime.h"
#include "flame.h"

static const char *prog = "greenctl";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: greenctl PID COMMAND\n"
		"       greenctl flame FOLDED -o OUT.svg [-k cpu|wait|lock]\n"
		"       greenctl diff BEFORE AFTER -o OUT.svg\n"
		"Commands:\n"
		"  ps             every green thread: id, name, state, time in it, CPU, switches, start\n"
		"  stacks         a symbolized backtrace of every green thread\n"
		"  stats          the hubs' counters: switches/s, loop iterations, calls, waits\n"
		"  top [-n N]     ps sorted by CPU, refreshed every second (q or Ctrl-C quits;\n"
		"                 -n N: N refreshes, then exit)\n"
		"  profile -d SECONDS -o FILE [-k KINDS] [--all-frames]\n"
		"                 KINDS: cpu (the default: on-CPU samples every ms), wait\n"
		"                 (off-CPU time by what threads wait on), lock (time waited\n"
		"                 for mutexes, rwlocks, semaphores, with the holder's stack),\n"
		"                 a comma-separated list, or all. Folded stacks in FILE\n"
		"                 (FILE.KIND for several kinds), an interactive flame graph\n"
		"                 in FILE.svg, speedscope's format in FILE.json.\n"
		"                 --all-frames: keep greenshim's own frames\n"
		"  ping           is the control socket there?\n"
		"PID's control socket answers only its own user and root.\n"
		"flame: the flame graph of any folded stacks (-k: that kind's colours).\n"
		"diff: a differential flame graph of two folded profiles (AFTER's stacks,\n"
		"      red where a frame's share grew, blue where it shrank).\n");
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- talking to the process ------------------------------------------------ */

/* Why no control socket answers: no such process, not under greenshim, or
 * under greenshim without the socket. */
static _Noreturn void explain(int pid, int err)
{
	char path[64], line[512];
	bool mapped = false, readable;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d", pid);
	if (access(path, F_OK) != 0)
		die("no process %d", pid);
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	f = fopen(path, "r");
	readable = f != NULL;
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strstr(line, "/libgreenshim.so") != NULL)
			mapped = true;
	if (f != NULL)
		fclose(f);
	if (readable && !mapped)
		die("process %d is not running under greenshim (libgreenshim.so is not loaded "
		    "in it; start it with greenrun)", pid);
	if (mapped)
		die("process %d runs greenshim but has no control socket (%s): started with "
		    "GREENSHIM_CONTROL=off, set-ID, or in another network namespace", pid,
		    strerror(err));
	die("process %d: no greenshim control socket (%s); it is not under greenshim, or "
	    "not yours to inspect", pid, strerror(err));
}

/* Sends one request; returns the whole answer (NUL-terminated). */
static char *ask(int pid, const char *request)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "greenshim-%d", pid);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t cap = 65536, got = 0;
	char *buf = malloc(cap);

	if (fd < 0 || buf == NULL)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, len) != 0)
		explain(pid, errno);
	/* A refusal may come before the request is read: read it anyway. */
	(void)!send(fd, request, strlen(request), MSG_NOSIGNAL);
	(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
	for (;;) {
		ssize_t r;

		if (got + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				die("out of memory");
		}
		r = read(fd, buf + got, cap - got - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("process %d: %s", pid, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	if (strncmp(buf, "error\t", 6) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		die("process %d: %s", pid, buf + 6);
	}
	if (strncmp(buf, "error: ", 7) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		die("process %d: %s", pid, buf + 7);
	}
	return buf;
}

/* Splits a record in place at tabs: the field count. */
static int fields(char *line, char **f, int max)
{
	int n = 0;

	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (line == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

/* Walks the records of an answer: fn(fields, count, arg) per line. */
static void records(char *answer, void (*fn)(char **f, int n, void *arg), void *arg)
{
	char *line = answer, *next;

	for (; *line != '\0'; line = next) {
		char *f[16];

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		fn(f, fields(line, f, 16), arg);
	}
}

/* ---- formatting ----------------------------------------------------------- */

static void duration(char *out, size_t len, double ns)
{
	if (ns < 0)
		snprintf(out, len, "-");
	else if (ns < 1e6)
		snprintf(out, len, "%.0fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(out, len, "%.1fms", ns / 1e6);
	else if (ns < 600e9)
		snprintf(out, len, "%.2fs", ns / 1e9);
	else
		snprintf(out, len, "%.0fm", ns / 60e9);
}

/* "g" records: hub tid, id, name, state, what, age ns, cpu ns, switches,
 * start. */
struct thread {
	long tid;
	unsigned long long id, switches;
	char name[16], state[16], what[96], start[64];
	double age, cpu, pct;
};

struct table {
	struct thread *t;
	size_t n, cap;
	char notes[4096];
	size_t nlen;
};

static void note(struct table *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct table *tb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (tb->nlen >= sizeof tb->notes - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tb->notes + tb->nlen, sizeof tb->notes - tb->nlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		tb->nlen += (size_t)n;
	if (tb->nlen > sizeof tb->notes - 1)
		tb->nlen = sizeof tb->notes - 1;
}

static void collect(char **f, int n, void *arg)
{
	struct table *tb = arg;
	struct thread *t;

	if (n >= 10 && strcmp(f[0], "g") == 0) {
		if (tb->n == tb->cap) {
			tb->cap = tb->cap != 0 ? tb->cap * 2 : 256;
			tb->t = realloc(tb->t, tb->cap * sizeof *tb->t);
			if (tb->t == NULL)
				die("out of memory");
		}
		t = &tb->t[tb->n++];
		memset(t, 0, sizeof *t);
		t->tid = atol(f[1]);
		t->id = strtoull(f[2], NULL, 10);
		snprintf(t->name, sizeof t->name, "%s", f[3]);
		snprintf(t->state, sizeof t->state, "%s", f[4]);
		snprintf(t->what, sizeof t->what, "%s", f[5]);
		t->age = strtod(f[6], NULL);
		t->cpu = strtod(f[7], NULL);
		t->switches = strtoull(f[8], NULL, 10);
		snprintf(t->start, sizeof t->start, "%s", f[9]);
	} else if (n >= 3 && strcmp(f[0], "hub") == 0) {
		note(tb, "hub of OS thread %s: %s green threads%s%s\n", f[1], f[2],
		     n >= 4 && *f[3] != '\0' ? "; " : "", n >= 4 ? f[3] : "");
	} else if (n >= 2 && strcmp(f[0], "note") == 0) {
		note(tb, "%s\n", f[1]);
	}
}

static void print_threads(const struct table *tb, bool with_pct)
{
	char age[16], cpu[16];

	if (with_pct)
		printf("%8s %-15s %5s %8s %9s %10s %-30s %s\n", "ID", "NAME", "CPU%", "TIME",
		       "CPU", "SWITCHES", "STATE", "START");
	else
		printf("%8s %-15s %8s %9s %10s %-30s %s\n", "ID", "NAME", "TIME", "CPU",
		       "SWITCHES", "STATE", "START");
	for (size_t i = 0; i < tb->n; i++) {
		const struct thread *t = &tb->t[i];

		duration(age, sizeof age, t->age);
		duration(cpu, sizeof cpu, t->cpu);
		if (with_pct)
			printf("%8llu %-15s %5.1f %8s %9s %10llu %-30s %s\n", t->id,
			       *t->name ? t->name : "-", t->pct, age, cpu, t->switches, t->what,
			       t->start);
		else
			printf("%8llu %-15s %8s %9s %10llu %-30s %s\n", t->id,
			       *t->name ? t->name : "-", age, cpu, t->switches, t->what, t->start);
	}
}

static int by_id(const void *pa, const void *pb)
{
	const struct thread *a = pa, *b = pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

static void cmd_ps(int pid)
{
	char *a = ask(pid, "ps");
	struct table tb = { 0 };

	records(a, collect, &tb);
	qsort(tb.t, tb.n, sizeof *tb.t, by_id);
	fputs(tb.notes, stdout);
	print_threads(&tb, false);
	free(tb.t);
	free(a);
}

/* stacks: "g" records as for ps, each followed by its "f" records (frame
 * number, pc, function+offset, object). */
static void stack_line(char **f, int n, void *arg)
{
	(void)arg;
	if (n >= 10 && strcmp(f[0], "g") == 0) {
		char age[16];

		duration(age, sizeof age, strtod(f[6], NULL));
		printf("\nthread %s%s%s%s (%s, %s) start %s\n", f[2], *f[3] ? " \"" : "", f[3],
		       *f[3] ? "\"" : "", f[5], age, f[9]);
	} else if (n >= 5 && strcmp(f[0], "f") == 0) {
		printf("    #%-2s %s %s%s%s\n", f[1], f[2], f[3], *f[4] ? " in " : "", f[4]);
	} else if (n >= 3 && strcmp(f[0], "hub") == 0) {
		printf("hub of OS thread %s: %s green threads%s%s\n", f[1], f[2],
		       n >= 4 && *f[3] != '\0' ? "; " : "", n >= 4 ? f[3] : "");
	} else if (n >= 2 && strcmp(f[0], "note") == 0) {
		printf("%s\n", f[1]);
	}
}

static void cmd_stacks(int pid)
{
	char *a = ask(pid, "stacks");

	records(a, stack_line, NULL);
	free(a);
}

/* stats: "stat" records: scope (a hub's tid, or "all"), key, value. Asked
 * twice, a second apart, for the rates. */
struct stat_set {
	char key[64][48];
	char scope[64][16];
	double v[64];
	int n;
};

static void stat_collect(char **f, int n, void *arg)
{
	struct stat_set *s = arg;

	if (n >= 4 && strcmp(f[0], "stat") == 0 && s->n < 64) {
		snprintf(s->scope[s->n], sizeof s->scope[0], "%s", f[1]);
		snprintf(s->key[s->n], sizeof s->key[0], "%s", f[2]);
		s->v[s->n] = strtod(f[3], NULL);
		s->n++;
	}
}

static void cmd_stats(int pid)
{
	struct stat_set a = { 0 }, b = { 0 };
	struct timespec t0, t1;
	char *r;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ask(pid, "stats");
	records(r, stat_collect, &a);
	free(r);
	usleep(1000000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r = ask(pid, "stats");
	records(r, stat_collect, &b);
	free(r);
	dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%-8s %-36s %16s %14s\n", "HUB", "COUNTER", "TOTAL", "PER SECOND");
	for (int i = 0; i < b.n; i++) {
		/* A counter absent the first time had not counted anything:
		 * the first request turns the counting on. */
		double before = 0;

		for (int j = 0; j < a.n; j++)
			if (strcmp(a.key[j], b.key[i]) == 0 && strcmp(a.scope[j], b.scope[i]) == 0)
				before = a.v[j];
		/* Gauges (a now, not a count) have no rate. */
		if (strncmp(b.key[i], "threads", 7) == 0 ||
		    strstr(b.key[i], "_ns") != NULL)
			printf("%-8s %-36s %16.0f %14s\n", b.scope[i], b.key[i], b.v[i], "");
		else
			printf("%-8s %-36s %16.0f %14.0f\n", b.scope[i], b.key[i], b.v[i],
			       (b.v[i] - before) / dt);
	}
}

/* ---- profile ---------------------------------------------------------------- */

/* Kind k is the PROF_* bit 1 << k (src/runtime.h); names and the
 * parser are the library's own (src/config.c, linked in). */
#define NKINDS 3
#define KIND_NAME(k) config_profile_kind_name(1u << (k))

/* What each kind's graph says, for its title. */
static const char *const kind_titles[] = {
	"on-CPU samples", "off-CPU time of the threads that wait, by what they wait on",
	"time waited for green mutexes, rwlocks and semaphores, with the holder's stack"
};

struct prof_out {
	FILE *f[NKINDS];
	unsigned long long us[NKINDS];
	unsigned long cpu, wait, lock, lost, lock_recorded;
	bool answered;
};

static void prof_line(char **f, int n, void *arg)
{
	struct prof_out *p = arg;

	if (n >= 4 && strcmp(f[0], "folded") == 0) {
		for (int k = 0; k < NKINDS; k++)
			if (strcmp(f[1], KIND_NAME(k)) == 0 && p->f[k] != NULL) {
				unsigned long long us = strtoull(f[3], NULL, 10);

				fprintf(p->f[k], "%s %llu\n", f[2], us);
				p->us[k] += us;
			}
	} else if (n >= 5 && strcmp(f[0], "profile") == 0) {
		p->answered = true;
		p->cpu = strtoul(f[1], NULL, 10);
		p->wait = strtoul(f[2], NULL, 10);
		p->lock = strtoul(f[3], NULL, 10);
		p->lost = strtoul(f[4], NULL, 10);
		p->lock_recorded = n >= 6 ? strtoul(f[5], NULL, 10) : p->lock;
	}
}

/* FILE for one kind, FILE.KIND for several, as GREENSHIM_PROFILE's files;
 * with room for ".svg" and ".json" after it. */
static void kind_file(char *buf, size_t size, const char *file, int k, unsigned kinds)
{
	if (config_profile_file(buf, size, file, 1u << k, kinds) != 0 ||
	    strlen(buf) + 16 >= size)
		die("%s: name too long", file);
}

/* FILE.svg and FILE.json beside the folded stacks in FILE. */
static void draw_files(const char *folded, const char *title, const char *palette)
{
	char svg[4096], json[4096];
	FILE *in = fopen(folded, "r"), *out;

	if (in == NULL)
		die("%s: %s", folded, strerror(errno));
	snprintf(svg, sizeof svg, "%s.svg", folded);
	snprintf(json, sizeof json, "%s.json", folded);
	out = fopen(svg, "w");
	if (out == NULL)
		die("%s: %s", svg, strerror(errno));
	if (flame_svg(in, out, title, "us", palette) != 0 || fclose(out) != 0)
		die("%s: write error", svg);
	rewind(in);
	out = fopen(json, "w");
	if (out == NULL)
		die("%s: %s", json, strerror(errno));
	if (flame_speedscope(in, out, title, "microseconds") != 0 || fclose(out) != 0)
		die("%s: write error", json);
	fclose(in);
}

static void cmd_profile(int pid, double seconds, const char *file, unsigned kinds, bool all_frames)
{
	char req[128], kinds_s[32] = "", path[NKINDS][4096];
	struct prof_out p = { 0 };
	char *a;

	for (int k = 0; k < NKINDS; k++) {
		if (!(kinds & (1u << k)))
			continue;
		snprintf(kinds_s + strlen(kinds_s), sizeof kinds_s - strlen(kinds_s), "%s%s",
			 kinds_s[0] ? "," : "", KIND_NAME(k));
		kind_file(path[k], sizeof path[k], file, k, kinds);
		p.f[k] = fopen(path[k], "w");
		if (p.f[k] == NULL)
			die("%s: %s", path[k], strerror(errno));
	}
	snprintf(req, sizeof req, "profile %g %s %s", seconds, kinds_s,
		 all_frames ? "all" : "program");
	a = ask(pid, req);
	records(a, prof_line, &p);
	free(a);
	if (!p.answered)
		die("process %d: no profile in the answer", pid);
	printf("process %d, %g s:", pid, seconds);
	if (kinds & 1)
		printf(" %lu on-CPU samples (%.3f s)", p.cpu, (double)p.us[0] / 1e6);
	if (kinds & 2)
		printf("%s %lu waiting-thread samples (%.3f s waited)", kinds & 1 ? "," : "",
		       p.wait, (double)p.us[1] / 1e6);
	if (kinds & 4)
		printf("%s %lu contended lock hand-overs (%.3f s waited; %lu with their stacks)",
		       kinds & 3 ? "," : "", p.lock, (double)p.us[2] / 1e6, p.lock_recorded);
	printf("%s\n", p.lost ? " (some stacks did not fit the table)" : "");
	for (int k = 0; k < NKINDS; k++) {
		char title[512];

		if (p.f[k] == NULL)
			continue;
		if (fclose(p.f[k]) != 0)
			die("%s: %s", path[k], strerror(errno));
		snprintf(title, sizeof title, "greenshim process %d, %g s, %s: %s, %.3f s (us)", pid,
			 seconds, KIND_NAME(k), kind_titles[k], (double)p.us[k] / 1e6);
		draw_files(path[k], title, KIND_NAME(k));
		printf("%s: folded stacks %s, flame graph %s.svg, speedscope %s.json\n",
		       KIND_NAME(k), path[k], path[k], path[k]);
	}
}

/* ---- flame, diff ---------------------------------------------------------- */

static void cmd_flame(const char *folded, const char *svg, const char *palette)
{
	FILE *in = fopen(folded, "r"), *out;

	if (in == NULL)
		die("%s: %s", folded, strerror(errno));
	out = fopen(svg, "w");
	if (out == NULL)
		die("%s: %s", svg, strerror(errno));
	if (flame_svg(in, out, folded, "us", palette) != 0 || fclose(out) != 0)
		die("%s: write error", svg);
	fclose(in);
	printf("flame graph: %s\n", svg);
}


static void cmd_diff(const char *before, const char *after, const char *svg)
{
	FILE *b = fopen(before, "r"), *a = fopen(after, "r"), *out;
	char title[512];

	if (b == NULL || a == NULL)
		die("%s: %s", b == NULL ? before : after, strerror(errno));
	out = fopen(svg, "w");
	if (out == NULL)
		die("%s: %s", svg, strerror(errno));
	snprintf(title, sizeof title, "%s against %s: red grew, blue shrank (share of the whole)",
		 after, before);
	if (flame_diff_svg(b, a, out, title, "us") != 0 || fclose(out) != 0)
		die("%s: write error", svg);
	fclose(a);
	fclose(b);
	printf("differential flame graph: %s\n", svg);
}

/* ---- top ------------------------------------------------------------------- */

static volatile sig_atomic_t stop;
static struct termios saved_tty;
static bool tty_raw;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void restore_tty(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
}

static int by_cpu(const void *pa, const void *pb)
{
	const struct thread *a = pa, *b = pb;

	if (a->pct != b->pct)
		return a->pct < b->pct ? 1 : -1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void cmd_top(int pid, int iterations)
{
	struct table prev = { 0 };
	struct timespec tp = { 0 }, tn;
	bool tty = isatty(STDOUT_FILENO);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
		struct termios raw = saved_tty;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tty_raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		atexit(restore_tty);
	}
	for (int it = 0; !stop && (iterations <= 0 || it < iterations); it++) {
		char *a = ask(pid, "ps");
		struct table tb = { 0 };
		double dt;
		double total = 0;

		clock_gettime(CLOCK_MONOTONIC, &tn);
		records(a, collect, &tb);
		free(a);
		dt = (double)(tn.tv_sec - tp.tv_sec) * 1e9 + (double)(tn.tv_nsec - tp.tv_nsec);
		for (size_t i = 0; i < tb.n; i++) {
			struct thread *t = &tb.t[i];

			t->pct = 0;
			for (size_t j = 0; it > 0 && j < prev.n; j++)
				if (prev.t[j].id == t->id && t->cpu >= prev.t[j].cpu)
					t->pct = 100.0 * (t->cpu - prev.t[j].cpu) / dt;
			total += t->pct;
		}
		qsort(tb.t, tb.n, sizeof *tb.t, by_cpu);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		printf("greenctl top: process %d, %zu green threads, %.1f%% CPU in green threads "
		       "(refresh %d%s)\n",
		       pid, tb.n, total, it + 1, iterations > 0 ? "" : "; q quits");
		fputs(tb.notes, stdout);
		print_threads(&tb, true);
		fflush(stdout);
		free(prev.t);
		prev = tb;
		tp = tn;
		if (iterations > 0 && it + 1 >= iterations)
			break;
		/* A second, or a key. */
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int64_t end = (int64_t)tn.tv_sec * 1000 + tn.tv_nsec / 1000000 + 1000;

		for (;;) {
			struct timespec now;
			int64_t left;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = end - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
			if (left <= 0 || stop)
				break;
			if (tty_raw && poll(&p, 1, (int)left) > 0) {
				char c;

				if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
					stop = 1;
			} else if (!tty_raw) {
				poll(NULL, 0, (int)left);
			}
		}
	}
	free(prev.t);
}

int main(int argc, char **argv)
{
	const char *cmd;
	char *end;
	long pid;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "flame") == 0) {
		const char *palette = "cpu";
		int one = argc == 7 ? config_parse_profile_kinds(argv[6]) : 0;

		/* -k names exactly one kind */
		if (argc == 7 && strcmp(argv[5], "-k") == 0 && one > 0 && (one & (one - 1)) == 0)
			palette = argv[6];
		else if (argc != 5)
			palette = NULL;
		if (palette == NULL || strcmp(argv[3], "-o") != 0) {
			usage(stderr);
			return 2;
		}
		cmd_flame(argv[2], argv[4], palette);
		return 0;
	}
	if (strcmp(argv[1], "diff") == 0) {
		if (argc != 6 || strcmp(argv[4], "-o") != 0) {
			usage(stderr);
			return 2;
		}
		cmd_diff(argv[2], argv[3], argv[5]);
		return 0;
	}
	pid = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || pid <= 0 || pid > INT32_MAX) {
		fprintf(stderr, "%s: %s: not a process id\n", prog, argv[1]);
		return 2;
	}
	cmd = argv[2];
	if (strcmp(cmd, "ps") == 0 && argc == 3) {
		cmd_ps((int)pid);
	} else if (strcmp(cmd, "stacks") == 0 && argc == 3) {
		cmd_stacks((int)pid);
	} else if (strcmp(cmd, "stats") == 0 && argc == 3) {
		cmd_stats((int)pid);
	} else if (strcmp(cmd, "ping") == 0 && argc == 3) {
		char *a = ask((int)pid, "ping");

		printf("process %d: greenshim control socket answers\n", (int)pid);
		free(a);
	} else if (strcmp(cmd, "profile") == 0) {
		double secs = 0;
		const char *file = NULL;
		unsigned kinds = 1;
		bool all_frames = false, bad = false;

		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--all-frames") == 0)
				all_frames = true;
			else if (i + 1 >= argc)
				bad = true;
			else if (strcmp(argv[i], "-d") == 0)
				secs = strtod(argv[++i], NULL);
			else if (strcmp(argv[i], "-o") == 0)
				file = argv[++i];
			else if (strcmp(argv[i], "-k") == 0) {
				int k = config_parse_profile_kinds(argv[++i]);

				if (k <= 0)
					bad = true;
				else
					kinds = (unsigned)k;
			}
			else
				bad = true;
		}
		if (bad || secs <= 0 || secs > 3600 || file == NULL) {
			usage(stderr);
			return 2;
		}
		cmd_profile((int)pid, secs, file, kinds, all_frames);
	} else if (strcmp(cmd, "top") == 0) {
		int n = 0;

		if (argc == 5 && strcmp(argv[3], "-n") == 0 && (n = atoi(argv[4])) > 0)
			;
		else if (argc != 3) {
			usage(stderr);
			return 2;
		}
		cmd_top((int)pid, n);
	} else {
		usage(stderr);
		return 2;
	}
	return 0;
}
