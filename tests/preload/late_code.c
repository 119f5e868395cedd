/* Code the program was not started with: a library loaded with dlopen,
 * and machine code it writes into memory itself (as a JIT compiler does),
 * each computing for 300 ms while a ticker thread counts its 2 ms sleeps.
 * Natively the two run side by side; on one OS thread the ticker runs only
 * if the computing thread is preempted there. And a library whose
 * constructor computes for 200 ms, counting the ticker meanwhile. And
 * threads that compute deep in made code, each checking that it is still
 * itself afterwards.
 *
 *   late_code dlopen_loop | made_code_loop | made_code_main | made_code_deep |
 *             constructor
 *
 * The libraries are libgs_late.so and libgs_late_ctor.so, beside this
 * program. x86-64 only (the code it writes). */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "case.h"
#include "ticker.h"

#define LOOP_MS 300
#define MIN_TICKS 10

static char lib_dir[PATH_MAX];

static void find_dir(void)
{
	ssize_t n = readlink("/proc/self/exe", lib_dir, sizeof lib_dir - 1);
	char *slash;

	CHECK(n > 0, "readlink /proc/self/exe");
	lib_dir[n] = '\0';
	slash = strrchr(lib_dir, '/');
	CHECK(slash != NULL, "no directory in %s", lib_dir);
	*slash = '\0';
}

static void *open_lib(const char *name)
{
	char path[PATH_MAX + 64];
	void *h;

	snprintf(path, sizeof path, "%s/%s", lib_dir, name);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
	return h;
}

static int (*late_spin)(int ms);

static void *spin_thread(void *arg)
{
	(void)arg;
	late_spin(LOOP_MS);
	return NULL;
}

/* fn computes on a thread of its own while the ticker (started by the
 * caller) counts. */
static int ticks_while(void *(*fn)(void *))
{
	int before = atomic_load(&ticks);
	pthread_t t;

	CHECK(pthread_create(&t, NULL, fn, NULL) == 0, "pthread_create");
	pthread_join(t, NULL);
	return atomic_load(&ticks) - before;
}

/* The library's loop, twice, with a dlclose and a new dlopen between
 * (its code may come back at other addresses). The ticker runs before
 * the first dlopen: the process has threads before the library comes. */
static void case_dlopen_loop(void)
{
	pthread_t ticker_t = start_ticker();

	for (int round = 0; round < 2; round++) {
		void *h = open_lib("libgs_late.so");
		int n;

		late_spin = (int (*)(int))dlsym(h, "gs_late_spin");
		CHECK(late_spin != NULL, "dlsym: %s", dlerror());
		n = ticks_while(spin_thread);
		CHECK(n >= MIN_TICKS, "round %d: the ticker ran %d times in %d ms of the library's loop",
		      round, n, LOOP_MS);
		CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
	}
	stop_ticker(ticker_t);
}

/* mov %rdi,%rax; 1: dec %rax; jnz 1b; ret */
static const unsigned char loop_code[] = { 0x48, 0x89, 0xf8, 0x48, 0xff, 0xc8, 0x75, 0xfb, 0xc3 };
static uint64_t (*made_loop)(uint64_t n);
static uint64_t made_iterations;

/* code, written into anonymous memory made executable. */
static void *write_code(const unsigned char *code, size_t size)
{
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap");
	memcpy(p, code, size);
	CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0, "mprotect");
	return p;
}

/* The loop, written into memory (write_code); and the count that keeps
 * it busy for LOOP_MS. */
static void make_code(void)
{
	double t0, ms;

	made_loop = (uint64_t(*)(uint64_t))write_code(loop_code, sizeof loop_code);
	t0 = now_ms();
	made_loop(20000000);
	ms = now_ms() - t0;
	made_iterations = (uint64_t)(20000000.0 * LOOP_MS / (ms > 0.01 ? ms : 0.01));
}

static void *made_thread(void *arg)
{
	(void)arg;
	made_loop(made_iterations);
	return NULL;
}

static void case_made_code_loop(void)
{
	pthread_t ticker_t;
	int n;

	make_code();
	ticker_t = start_ticker();
	n = ticks_while(made_thread);
	stop_ticker(ticker_t);
	CHECK(n >= MIN_TICKS, "the ticker ran %d times in %d ms of made code", n, LOOP_MS);
}

/* The same loop on the main thread, whose stack starts in libc
 * (__libc_start_main), as a JavaScript engine's main thread runs. */
static void case_made_code_main(void)
{
	pthread_t ticker_t;
	double t0;
	int before, ran;

	make_code();
	ticker_t = start_ticker();
	before = atomic_load(&ticks);
	t0 = now_ms();
	made_loop(made_iterations);
	ran = atomic_load(&ticks) - before;
	stop_ticker(ticker_t);
	CHECK(ran >= MIN_TICKS, "the ticker ran %d times in %.0f ms of made code", ran,
	      now_ms() - t0);
}

/* f(n, depth): depth frames of itself deep, the loop of n; frame pointers
 * and no unwinding tables, as a JIT's code has them.
 *	push %rbp; mov %rsp,%rbp; test %rsi,%rsi; jz 2f
 *	dec %rsi; call f; pop %rbp; ret; nop
 * 2:	dec %rdi; jnz 2b; mov %rdi,%rax; pop %rbp; ret */
static const unsigned char deep_code[] = {
	0x55, 0x48, 0x89, 0xe5, 0x48, 0x85, 0xf6, 0x74, 0x0b, 0x48, 0xff, 0xce, 0xe8, 0xef, 0xff,
	0xff, 0xff, 0x5d, 0xc3, 0x90, 0x48, 0xff, 0xcf, 0x75, 0xfb, 0x48, 0x89, 0xf8, 0x5d, 0xc3,
};
static uint64_t (*made_deep)(uint64_t n, uint64_t depth);

#define DEEP_THREADS 8
#define DEEP_FRAMES 100

static __thread int deep_id = -1;

static void *deep_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	pthread_t me = pthread_self();

	deep_id = id;
	errno = 1000 + id;
	CHECK(made_deep(made_iterations, DEEP_FRAMES) == 0, "thread %d: the loop's result", id);
	CHECK(deep_id == id, "thread %d: its __thread variable is %d", id, deep_id);
	CHECK(errno == 1000 + id, "thread %d: its errno is %d", id, errno);
	CHECK(pthread_equal(pthread_self(), me), "thread %d: pthread_self changed", id);
	return NULL;
}

/* Threads computing DEEP_FRAMES frames deep in made code: each stop in
 * there reads those frames (greenshim's tick, to tell whether libc or the
 * loader is below; libunwind finds no tables for them), and so do the
 * other hubs' ticks at the same time. */
static void case_made_code_deep(void)
{
	pthread_t t[DEEP_THREADS];

	made_deep = (uint64_t(*)(uint64_t, uint64_t))write_code(deep_code, sizeof deep_code);
	make_code();
	for (int i = 0; i < DEEP_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, deep_thread, (void *)(intptr_t)i) == 0,
		      "pthread_create");
	for (int i = 0; i < DEEP_THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
}

/* A constructor runs inside dlopen, under the loader's lock: greenshim
 * leaves a thread there alone, so on one hub the ticker does not run
 * while it computes (natively it does: run preloaded only). */
static void case_constructor(void)
{
	pthread_t ticker_t = start_ticker();
	char at[32];
	void *h;
	int *n;

	snprintf(at, sizeof at, "%lx", (unsigned long)(uintptr_t)&ticks);
	CHECK(setenv("LATE_TICKS", at, 1) == 0, "setenv");
	h = open_lib("libgs_late_ctor.so");
	stop_ticker(ticker_t);
	n = dlsym(h, "gs_late_ctor_ticks");
	CHECK(n != NULL, "dlsym: %s", dlerror());
	CHECK(*n == 0, "the ticker ran %d times during the constructor's 200 ms", *n);
	dlclose(h);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "dlopen_loop", case_dlopen_loop },
		{ "made_code_loop", case_made_code_loop },
		{ "made_code_main", case_made_code_main },
		{ "made_code_deep", case_made_code_deep },
		{ "constructor", case_constructor },
	};

	find_dir();
	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
