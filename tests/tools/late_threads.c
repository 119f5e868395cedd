/* Threads that compute only in a library the program loaded with dlopen
 * (libgs_late_loop.so, beside it), as a JVM's compiler threads compute in
 * libjvm.so, which the java launcher loads; placed unevenly: the even ones
 * SHORT_MS of the loop, the odd ones LONG_MS, each in one call. Natively
 * the kernel spreads them over the CPUs as the short ones end; under
 * greenshim a long one the preemption tick stops in that library moves to
 * the hub the short ones left idle (docs/ARCHITECTURE.md, *Many hubs*).
 * After its loop each thread checks that it is still itself: its __thread
 * variables, errno, pthread_self and gettid. Prints "ok" last. An ordinary
 * program: nothing here knows of greenshim.
 *   late_threads [THREADS] [SHORT_MS] [LONG_MS]  (default 4 10 1500)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS_MAX 64

static uint64_t (*late_loop)(uint64_t n);
static volatile uint64_t sink;
static double per_ms; /* iterations of the loop a millisecond */

static __thread int my_id = -1;
static __thread long my_mark;
static int failed;
static pthread_mutex_t say = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(int id, const char *what, long got, long want)
{
	pthread_mutex_lock(&say);
	printf("FAIL thread %d: %s %ld, not %ld\n", id, what, got, want);
	failed = 1;
	pthread_mutex_unlock(&say);
}

struct job {
	int id;
	long ms;
};

static void *work(void *arg)
{
	const struct job *j = arg;
	pthread_t me = pthread_self();
	pid_t tid = gettid();
	int err = 4000 + j->id;

	my_id = j->id;
	my_mark = 7L * j->id + 1;
	errno = err;
	sink = late_loop((uint64_t)(per_ms * (double)j->ms) + 1);
	if (my_id != j->id)
		fail(j->id, "__thread id", my_id, j->id);
	if (my_mark != 7L * j->id + 1)
		fail(j->id, "__thread mark", my_mark, 7L * j->id + 1);
	if (errno != err)
		fail(j->id, "errno", errno, err);
	if (!pthread_equal(pthread_self(), me))
		fail(j->id, "pthread_self the same", 0, 1);
	if (gettid() != tid)
		fail(j->id, "gettid", gettid(), tid);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	long short_ms = argc > 2 ? atol(argv[2]) : 10, long_ms = argc > 3 ? atol(argv[3]) : 1500;
	static pthread_t t[THREADS_MAX];
	static struct job jobs[THREADS_MAX];
	char path[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", path, sizeof path - 32);
	char *slash;
	void *lib;
	double t0;

	if (n < 1 || n > THREADS_MAX || short_ms < 0 || long_ms < 0) {
		fprintf(stderr, "usage: late_threads [THREADS (1-%d)] [SHORT_MS] [LONG_MS]\n",
			THREADS_MAX);
		return 2;
	}
	if (len <= 0 || (path[len] = '\0', slash = strrchr(path, '/')) == NULL) {
		perror("readlink /proc/self/exe");
		return 1;
	}
	strcpy(slash + 1, "libgs_late_loop.so");
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL || (late_loop = (uint64_t(*)(uint64_t))dlsym(lib, "gs_late_loop")) == NULL) {
		fprintf(stderr, "late_threads: %s\n", dlerror());
		return 1;
	}
	t0 = now_ms();
	sink = late_loop(20000000);
	t0 = now_ms() - t0;
	per_ms = 20000000.0 / (t0 > 0.01 ? t0 : 0.01);

	t0 = now_ms();
	for (int i = 0; i < n; i++) {
		jobs[i].id = i;
		jobs[i].ms = i % 2 ? long_ms : short_ms;
		if (pthread_create(&t[i], NULL, work, &jobs[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("wall_ms %.0f\n", now_ms() - t0);
	if (failed)
		return 1;
	puts("ok");
	return 0;
}
