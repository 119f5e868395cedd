/*
 * An ordinary program (never linked to greenshim) whose threads compute on
 * small stacks of their own, as Erlang's JIT runs Erlang code on each
 * process's small stack: each of three threads sets an alternate signal
 * stack for its signals (as Erlang does for every thread, its handlers all
 * SA_ONSTACK), moves its stack pointer into an area of SIZE bytes from
 * mmap with a guard page below it, computes there for a while, and counts
 * the bytes of the area that were written:
 *
 *   small_stack SIZE      (16384, 2048: bytes)
 *
 * Natively nothing but the loop's own frame (under 256 bytes) lands there:
 * prints "thread N: used at most 256 bytes" three times and exits 0.
 * Under greenshim the preemption tick must not write its signal frame
 * there either (before 2026-12-06 it did: 3.5 KiB, and with 2 KiB areas
 * the process died of SIGSEGV).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREADS 3
#define PAGE 4096
#define FILL 0xa5

static size_t size;
static volatile uint64_t sink[THREADS];
static size_t used[THREADS];
static __thread int me;

static __attribute__((noinline)) void compute(void)
{
	uint64_t x = (uint64_t)me + 1;

	for (uint64_t i = 0; i < 150000000; i++)
		x = x * 6364136223846793005ULL + i;
	sink[me] = x;
}

/* Calls fn with the stack pointer at top (16-byte aligned), and back. */
static void call_on(void *top, void (*fn)(void))
{
	__asm__ volatile("mov %%rsp, %%rbx\n\t"
			 "mov %0, %%rsp\n\t"
			 "call *%1\n\t"
			 "mov %%rbx, %%rsp"
			 :
			 : "r"(top), "r"(fn)
			 : "rbx", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory",
			   "cc");
}

static void *thread(void *arg)
{
	stack_t ss = { .ss_size = 64 * 1024 };
	char *area, *lo;

	me = (int)(intptr_t)arg;
	ss.ss_sp = malloc(ss.ss_size);
	if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		exit(2);
	}
	area = mmap(NULL, PAGE + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || mprotect(area, PAGE, PROT_NONE) != 0) {
		perror("mmap");
		exit(2);
	}
	lo = area + PAGE;
	memset(lo, FILL, size);
	call_on(lo + size, compute);
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)lo[i] != FILL) {
			used[me] = size - i;
			break;
		}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];

	if (argc != 2 || (size = strtoul(argv[1], NULL, 10)) < 1024 || size % 16 != 0) {
		fprintf(stderr, "usage: small_stack SIZE (bytes, a multiple of 16, at least 1024)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, thread, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		printf("thread %d: used %s 256 bytes\n", i, used[i] <= 256 ? "at most" : "more than");
	return 0;
}
