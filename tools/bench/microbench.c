/*
 * gs-microbench: the runtime's basic costs beside native threads', from one
 * run, pinned to one CPU. A benchmark, not a test: it measures and prints.
 *
 *   switch           two threads handing the CPU back and forth:
 *                    (and the green switch again with the tools' stats on,
 *                    as while greenctl is attached: a clock read per switch)
 *                    green yield vs. a semaphore ping-pong (futex)
 *   spawn+join       create a thread that returns at once, join it
 *   mutex+cond       hand-off between two threads through a mutex and a
 *                    condition variable (the pattern of a work queue)
 *   sleeping threads N threads that all sleep at once: time to create them
 *                    (each runs until it sleeps) and memory per thread
 *
 * Each timed figure is the median of five runs. Every measurement runs in
 * a child process of its own so that its memory and threads start clean.
 *
 *                    with the default stack size and with small stacks, beside
 *                    the kernel's own cost of one fresh page per stack
 *
 * The TLS mode is GREENSHIM_TLS's (green: a TLS per thread, loaded as
 * GREENSHIM_TLS_LOAD says; shared).
 * -F loads it with WRFSBASE even where the kernel does not keep the value:
 * the fast path's cost on a kernel that does (the benchmark's threads
 * read no per-thread state that a lost value would break).
 *
 * Usage: gs-microbench [-F] [-n SLEEPERS] [-N NATIVE_SLEEPERS] [-s SMALL_STACK] [-c CPU]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/runtime.h"
#include "../../src/tools.h"

#define RUNS 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

/* Runs fn in a child process and returns the doubles it reports. */
static int in_child(void (*fn)(double *out, long arg), long arg, double *out, int nout)
{
	int p[2], status;
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		double res[4] = { 0 };

		close(p[0]);
		fn(res, arg);
		if (write(p[1], res, sizeof res) != (ssize_t)sizeof res)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	double res[4];
	ssize_t n = read(p[0], res, sizeof res);

	close(p[0]);
	waitpid(pid, &status, 0);
	if (n != (ssize_t)sizeof res || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	memcpy(out, res, (size_t)nout * sizeof *out);
	return 0;
}

/* ---- /proc/self/status ---- */

static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t len = strlen(field);
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Memory at a starting point, to report the growth per thread from. */
struct mem_mark {
	long rss_kib, pte_kib;
	double t0;
};

static void mem_mark(struct mem_mark *m)
{
	m->rss_kib = status_kib("VmRSS");
	m->pte_kib = status_kib("VmPTE");
	m->t0 = now_s();
}

/* out: seconds since the mark, RSS KiB and page-table KiB per thread, count */
static void mem_report(const struct mem_mark *m, long n, double *out)
{
	out[0] = now_s() - m->t0;
	out[1] = (double)(status_kib("VmRSS") - m->rss_kib) / (double)n;
	out[2] = (double)(status_kib("VmPTE") - m->pte_kib) / (double)n;
	out[3] = (double)n;
}

/* ---- switch ---- */

#define SWITCH_ITERS 2000000L

static void *green_yielder(void *arg)
{
	long n = (long)(intptr_t)arg;

	for (long i = 0; i < n; i++)
		green_yield();
	return NULL;
}

static void bench_green_switch(double *out, long iters)
{
	double v[RUNS];

	for (int r = 0; r < RUNS; r++) {
		struct green *a, *b;
		double t0 = now_s();

		green_spawn(NULL, green_yielder, (void *)(intptr_t)iters, &a);
		green_spawn(NULL, green_yielder, (void *)(intptr_t)iters, &b);
		green_join(a, NULL, GS_NO_DEADLINE);
		green_join(b, NULL, GS_NO_DEADLINE);
		/* Each yield is one switch: 2 * iters switches (plus a few). */
		v[r] = (now_s() - t0) / (2.0 * (double)iters) * 1e9;
	}
	out[0] = median(v, RUNS);
}

/* The same with per-switch accounting on (src/introspect.c). */
static void bench_green_switch_stats(double *out, long iters)
{
	introspect_set_stats(true);
	bench_green_switch(out, iters);
	introspect_set_stats(false);
}

static sem_t ping, pong;

static void *native_ponger(void *arg)
{
	long n = (long)(intptr_t)arg;

	for (long i = 0; i < n; i++) {
		sem_wait(&ping);
		sem_post(&pong);
	}
	return NULL;
}

static void bench_native_switch(double *out, long iters)
{
	double v[RUNS];

	for (int r = 0; r < RUNS; r++) {
		pthread_t t;
		double t0;

		sem_init(&ping, 0, 0);
		sem_init(&pong, 0, 0);
		pthread_create(&t, NULL, native_ponger, (void *)(intptr_t)iters);
		t0 = now_s();
		for (long i = 0; i < iters; i++) {
			sem_post(&ping);
			sem_wait(&pong);
		}
		v[r] = (now_s() - t0) / (2.0 * (double)iters) * 1e9;
		pthread_join(t, NULL);
	}
	out[0] = median(v, RUNS);
}

/* ---- switch among many threads ---- */

/* Threads that take turns: each one's state has left the caches by its
 * next turn, as in a server with a thread per connection. */
#define CROWD 1000

static void bench_green_crowd(double *out, long iters)
{
	static struct green *gs[CROWD];
	double v[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s();

		for (int i = 0; i < CROWD; i++)
			green_spawn(NULL, green_yielder, (void *)(intptr_t)iters, &gs[i]);
		for (int i = 0; i < CROWD; i++)
			green_join(gs[i], NULL, GS_NO_DEADLINE);
		v[r] = (now_s() - t0) / ((double)CROWD * (double)iters) * 1e9;
	}
	out[0] = median(v, RUNS);
}

static void *native_yielder(void *arg)
{
	long n = (long)(intptr_t)arg;

	for (long i = 0; i < n; i++)
		sched_yield();
	return NULL;
}

static void bench_native_crowd(double *out, long iters)
{
	static pthread_t ts[CROWD];
	double v[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s();

		for (int i = 0; i < CROWD; i++)
			pthread_create(&ts[i], NULL, native_yielder, (void *)(intptr_t)iters);
		for (int i = 0; i < CROWD; i++)
			pthread_join(ts[i], NULL);
		v[r] = (now_s() - t0) / ((double)CROWD * (double)iters) * 1e9;
	}
	out[0] = median(v, RUNS);
}

/* ---- spawn + join ---- */

static void *nothing(void *arg)
{
	return arg;
}

static void bench_green_spawn(double *out, long iters)
{
	double v[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s();

		for (long i = 0; i < iters; i++) {
			struct green *g;

			green_spawn(NULL, nothing, NULL, &g);
			green_join(g, NULL, GS_NO_DEADLINE);
		}
		v[r] = (now_s() - t0) / (double)iters * 1e9;
	}
	out[0] = median(v, RUNS);
}

static void bench_native_spawn(double *out, long iters)
{
	double v[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s();

		for (long i = 0; i < iters; i++) {
			pthread_t t;

			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
		}
		v[r] = (now_s() - t0) / (double)iters * 1e9;
	}
	out[0] = median(v, RUNS);
}

/* ---- mutex + cond hand-off ---- */

#define HANDOFF_ITERS 1000000L

static struct gsync_mutex gm;
static struct gsync_cond gc;
static long gturn;

static void *green_handoff(void *arg)
{
	long me = (long)(intptr_t)arg;

	gsync_mutex_lock(&gm, GS_NO_DEADLINE);
	for (long i = 0; i < HANDOFF_ITERS; i++) {
		while ((gturn & 1) != me)
			gsync_cond_wait(&gc, &gm, GS_NO_DEADLINE);
		gturn++;
		gsync_cond_signal(&gc);
	}
	gsync_mutex_unlock(&gm);
	return NULL;
}

static void bench_green_handoff(double *out, long unused)
{
	double v[RUNS];

	(void)unused;
	for (int r = 0; r < RUNS; r++) {
		struct green *a, *b;
		double t0 = now_s();

		gsync_mutex_init(&gm);
		gsync_cond_init(&gc);
		gturn = 0;
		green_spawn(NULL, green_handoff, (void *)0, &a);
		green_spawn(NULL, green_handoff, (void *)1, &b);
		green_join(a, NULL, GS_NO_DEADLINE);
		green_join(b, NULL, GS_NO_DEADLINE);
		v[r] = (now_s() - t0) / (2.0 * HANDOFF_ITERS) * 1e9;
	}
	out[0] = median(v, RUNS);
}

static pthread_mutex_t nm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nc = PTHREAD_COND_INITIALIZER;
static long nturn, native_handoff_iters;

static void *native_handoff(void *arg)
{
	long me = (long)(intptr_t)arg;

	pthread_mutex_lock(&nm);
	for (long i = 0; i < native_handoff_iters; i++) {
		while ((nturn & 1) != me)
			pthread_cond_wait(&nc, &nm);
		nturn++;
		pthread_cond_signal(&nc);
	}
	pthread_mutex_unlock(&nm);
	return NULL;
}

static void bench_native_handoff(double *out, long iters)
{
	double v[RUNS];

	native_handoff_iters = iters;
	for (int r = 0; r < RUNS; r++) {
		pthread_t a, b;
		double t0 = now_s();

		nturn = 0;
		pthread_create(&a, NULL, native_handoff, (void *)0);
		pthread_create(&b, NULL, native_handoff, (void *)1);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		v[r] = (now_s() - t0) / (2.0 * (double)iters) * 1e9;
	}
	out[0] = median(v, RUNS);
}

/* ---- many sleeping threads ---- */

static size_t sleeper_stack; /* 0: the default */

static void *green_sleeper(void *arg)
{
	(void)arg;
	green_sleep_until(gs_deadline_after(3600LL * 1000000000));
	return NULL;
}

/* Creates n threads that each run until they sleep: see mem_report. */
static void bench_green_sleepers(double *out, long n)
{
	struct green_attr a = { .detached = true, .stack_size = sleeper_stack };
	struct mem_mark m;

	hub_get();
	mem_mark(&m);
	for (long i = 0; i < n; i++) {
		if (green_spawn(&a, green_sleeper, NULL, NULL) != 0) {
			fprintf(stderr, "gs-microbench: spawn %ld failed\n", i);
			_exit(1);
		}
	}
	green_yield(); /* every one runs and goes to sleep */
	mem_report(&m, n, out);
}

static void *native_sleeper(void *arg)
{
	sem_t *started = arg;

	sem_post(started);
	sleep(3600);
	return NULL;
}

static void bench_native_sleepers(double *out, long n)
{
	static sem_t started;
	struct mem_mark m;
	long made = 0;

	mem_mark(&m);
	sem_init(&started, 0, 0);
	for (; made < n; made++) {
		pthread_t t;

		if (pthread_create(&t, NULL, native_sleeper, &started) != 0)
			break;
	}
	for (long i = 0; i < made; i++)
		sem_wait(&started);
	mem_report(&m, made, out);
}

/* What the kernel charges for the memory any design must touch: one fresh
 * page at the top of each of n regions as far apart as green stacks are
 * (stack + guard), written once, as a new thread writes its first frame. */
static void bench_fresh_pages(double *out, long n)
{
	size_t stride = stack_round(sleeper_stack ? sleeper_stack : gs_config.stack_size) +
			STACK_GUARD_SIZE;
	char *p = mmap(NULL, stride * (size_t)n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct mem_mark m;

	if (p == MAP_FAILED)
		_exit(1);
	mem_mark(&m);
	for (long i = 0; i < n; i++)
		p[(size_t)(i + 1) * stride - 64] = 1;
	mem_report(&m, n, out);
}

static void sleeper_row(const char *what, const double *r)
{
	printf("  %-40s %10.0f %10.2f %10.2f %8.2f %8.2f\n", what, r[3], r[0], r[0] / r[3] * 1e6,
	       r[1], r[2]);
}

static int pin_cpu = -1;

static void pin(void)
{
	cpu_set_t set;

	if (pin_cpu < 0) {
		/* the last CPU we may use: the load generators take the first */
		sched_getaffinity(0, sizeof set, &set);
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &set)) {
				pin_cpu = c;
				break;
			}
	}
	CPU_ZERO(&set);
	CPU_SET(pin_cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		perror("gs-microbench: sched_setaffinity");
}

static void row(const char *what, double native, double green, const char *unit)
{
	printf("%-34s %14.1f %14.1f   %-8s %9.1fx\n", what, native, green, unit,
	       green > 0 ? native / green : 0.0);
}

int main(int argc, char **argv)
{
	long sleepers = 1000000, native_sleepers = 10000;
	size_t small_stack = 64 * 1024;
	double n[4], g[4];
	char label[80];
	int opt;
	bool force_fast = false;

	while ((opt = getopt(argc, argv, "Fn:N:c:s:")) != -1) {
		switch (opt) {
		case 'F':
			force_fast = true;
			break;
		case 's':
			if (config_parse_size(optarg, &small_stack) != 0) {
				fprintf(stderr, "gs-microbench: -s takes a size such as 64k\n");
				return 2;
			}
			break;
		case 'n':
			sleepers = atol(optarg);
			break;
		case 'N':
			native_sleepers = atol(optarg);
			break;
		case 'c':
			pin_cpu = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-F] [-n SLEEPERS] [-N NATIVE_SLEEPERS] [-s SMALL_STACK] [-c CPU]\n",
				argv[0]);
			return 2;
		}
	}
	if (sleepers <= 0 || native_sleepers <= 0) {
		fprintf(stderr, "gs-microbench: -n and -N take a positive count\n");
		return 2;
	}
	pin();
	config_load();
	tls_init();
	if (force_fast && gs_tls_mode >= TLS_LDT)
		gs_tls_mode = TLS_FAST;
	printf("greenshim micro-benchmark: pinned to CPU %d, median of %d runs, "
	       "default green stack %zu KiB, TLS %s\n\n",
	       pin_cpu, RUNS, gs_config.stack_size / 1024,
	       gs_tls_mode == TLS_SHARED ? "shared"
	       : gs_tls_mode == TLS_FAST ? "per thread, WRFSBASE"
	       : gs_tls_mode == TLS_LDT  ? "per thread, a selector of the LDT"
					 : "per thread, arch_prctl");
	printf("%-34s %14s %14s   %-8s %10s\n", "", "native", "greenshim", "unit", "native/green");

	if (in_child(bench_native_switch, 200000, n, 1) || in_child(bench_green_switch, SWITCH_ITERS, g, 1))
		return 1;
	row("switch (hand the CPU over)", n[0], g[0], "ns");
	if (in_child(bench_green_switch_stats, SWITCH_ITERS, g, 1))
		return 1;
	row("  the same, tools' stats on", n[0], g[0], "ns");
	if (in_child(bench_native_crowd, 200, n, 1) || in_child(bench_green_crowd, 2000, g, 1))
		return 1;
	row("switch among 1,000 threads (yield)", n[0], g[0], "ns");
	if (in_child(bench_native_spawn, 20000, n, 1) || in_child(bench_green_spawn, 1000000, g, 1))
		return 1;
	row("spawn + join", n[0], g[0], "ns");
	if (in_child(bench_native_handoff, 100000, n, 1) || in_child(bench_green_handoff, 0, g, 1))
		return 1;
	row("mutex + cond hand-off", n[0], g[0], "ns");

	printf("\nsleeping threads, all asleep at once %14s %10s %10s %8s %8s\n", "threads", "create s",
	       "us each", "RSS KiB", "PT KiB");
	if (in_child(bench_native_sleepers, native_sleepers, n, 4))
		return 1;
	sleeper_row("native pthreads, default stacks", n);
	/* The first process to touch fresh memory pays more on a virtual
	 * machine (the host backs the pages then): warm it up unmeasured. */
	if (in_child(bench_fresh_pages, sleepers, g, 4))
		return 1;
	/* The default stack size, then small stacks: ours, then the floor. */
	for (int pass = 0; pass < 2; pass++) {
		sleeper_stack = pass == 0 ? 0 : small_stack;
		snprintf(label, sizeof label, pass == 0 ? "greenshim, default stacks (%zu KiB)"
							: "greenshim, %zu KiB stacks",
			 (pass == 0 ? gs_config.stack_size : small_stack) / 1024);
		if (in_child(bench_green_sleepers, sleepers, g, 4))
			return 1;
		sleeper_row(label, g);
		if (in_child(bench_fresh_pages, sleepers, g, 4))
			return 1;
		sleeper_row("  kernel floor: a fresh page per stack", g);
	}
	printf("\nRSS and PT (page tables) are per thread. The kernel floor is the cost of the\n"
	       "memory itself: one page written per stack-sized region, nothing else.\n");
	return 0;
}
