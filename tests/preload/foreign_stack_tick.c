/* Erlang's way with stacks, in C: the main thread sets an alternate signal
 * stack as its first act (before anything gives it a hub), and a worker
 * that set one of its own runs code on a small stack of the program's
 * (swapcontext onto 2 KiB at the top of a buffer whose rest is data, as
 * BEAM runs Erlang code on a process's stack just above its heap) while
 * another thread computes, long enough for many preemption ticks. The
 * data below that small stack must come out untouched, as natively,
 * where no signal comes at all. (Until 2026-12-07, on one hub, the tick's
 * frame went below the small stack's pointer, into the data: the main
 * thread's alternate stack was the kernel's, so greenshim had none of its
 * own, and Erlang/OTP crashed.)
 *
 *   foreign_stack_tick [raw]
 *
 * With raw, the code on the small stack makes raw system calls (its own
 * syscall instruction, as Go's runtime does on a goroutine's 2 KiB stack),
 * which greenshim catches with SIGSYS: that frame must not go below the
 * small stack's pointer either (until 2026-12-07 it did, and a Go program
 * built with cgo died in its first garbage collection). Prints yes/no
 * answers. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>

enum { BUF = 64 * 1024, SMALL = 2 * 1024 };

static unsigned char buf[BUF] __attribute__((aligned(64)));
static ucontext_t worker_ctx, small_ctx;
static volatile int stop;
static volatile unsigned long sink;
static int raw;

/* getppid by the program's own syscall instruction, not libc's. */
static long raw_getppid(void)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return r;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_small_stack(void)
{
	while (!stop)
		sink += raw ? (unsigned long)raw_getppid() : 1;
}

static void set_altstack(void)
{
	stack_t ss = { .ss_sp = malloc(64 * 1024), .ss_size = 64 * 1024, .ss_flags = 0 };

	if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0)
		abort();
}

static void *worker(void *arg)
{
	set_altstack();
	getcontext(&small_ctx);
	small_ctx.uc_stack.ss_sp = buf + BUF - SMALL;
	small_ctx.uc_stack.ss_size = SMALL;
	small_ctx.uc_link = &worker_ctx;
	makecontext(&small_ctx, on_small_stack, 0);
	swapcontext(&worker_ctx, &small_ctx);
	return arg;
}

static void *compute(void *arg)
{
	double end = now_s() + 0.5;

	while (now_s() < end)
		sink++;
	stop = 1;
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t w, c;
	size_t touched = 0;

	raw = argc > 1 && strcmp(argv[1], "raw") == 0;
	set_altstack();
	memset(buf, 0xA5, BUF - SMALL);
	pthread_create(&w, NULL, worker, NULL);
	pthread_create(&c, NULL, compute, NULL);
	pthread_join(c, NULL);
	pthread_join(w, NULL);
	for (size_t i = 0; i < BUF - SMALL; i++)
		touched += buf[i] != 0xA5;
	printf("the data below the small stack is untouched: %s\n", touched == 0 ? "yes" : "no");
	return 0;
}
