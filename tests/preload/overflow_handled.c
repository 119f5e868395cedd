/*
 * An ordinary program (never linked to greenshim) whose thread overflows
 * its 256 KiB stack, with a SIGSEGV handler of its own, as language
 * runtimes have (Ruby turns the fault into SystemStackError, Rust prints
 * "has overflowed its stack", GNU libsigsegv's users report it):
 *
 *   overflow_handled onstack | plain | freed
 *     onstack: the handler has SA_ONSTACK and the thread an alternate
 *              stack of its own (sigaltstack, which said SS_DISABLE before
 *              and gives back what was set after); the handler checks that
 *              the fault lies just below the stack pthread_getattr_np
 *              gives and that sigaltstack says SS_ONSTACK there, and
 *              siglongjmps back into the thread, which ends normally:
 *              prints "caught 1, joined 42", exits 0;
 *     plain:   the handler has no SA_ONSTACK: natively it has no room on
 *              the full stack and the kernel kills the process with
 *              SIGSEGV (the handler never runs);
 *     freed:   as onstack, but another thread sets an alternate stack of
 *              its own after the overflowing one did, and ends, and its
 *              stack is unmapped before the overflow (Ruby frees each
 *              thread's with the thread): natively each thread's is its
 *              own, and the overflow is caught as in onstack.
 *
 * Under greenshim the output and the status must be the native ones.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024)
#define ALT_SIZE (64 * 1024)

static sigjmp_buf back;
static volatile sig_atomic_t caught, onstack_seen;
static char *stack_lo;
static int go[2]; /* freed: main tells the overflowing thread to go on */

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char *addr = si->si_addr;
	stack_t ss;

	(void)sig;
	(void)uc;
	if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
		onstack_seen = 1;
	/* Below the stack's lowest byte, within a megabyte: an overflow. */
	if (stack_lo != NULL && addr < stack_lo && addr >= stack_lo - (1 << 20)) {
		caught++;
		siglongjmp(back, 1);
	}
	_exit(3); /* another fault: not this test's */
}

static volatile int bottom = 1 << 30; /* never reached */

static __attribute__((noinline)) int deeper(int n)
{
	volatile char frame[1024];

	frame[0] = (char)n;
	if (n == bottom)
		return 0;
	return deeper(n + 1) + frame[0];
}

/* An alternate stack of the calling thread's own, from mmap; NULL if
 * sigaltstack did not say SS_DISABLE before or what was set after. */
static void *own_altstack(void)
{
	void *p = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = { .ss_sp = p, .ss_size = ALT_SIZE }, now;

	if (p == MAP_FAILED)
		return NULL;
	if (sigaltstack(NULL, &now) != 0 || !(now.ss_flags & SS_DISABLE)) {
		printf("a new thread's alternate stack: flags %d\n", now.ss_flags);
		return NULL;
	}
	if (sigaltstack(&ss, NULL) != 0 || sigaltstack(NULL, &now) != 0 || now.ss_sp != p ||
	    now.ss_size != ALT_SIZE || now.ss_flags != 0) {
		printf("sigaltstack did not give back what was set\n");
		return NULL;
	}
	return p;
}

static void *overflows(void *arg)
{
	pthread_attr_t a;
	void *lo;
	size_t size;
	char c;

	if (own_altstack() == NULL || pthread_getattr_np(pthread_self(), &a) != 0 ||
	    pthread_attr_getstack(&a, &lo, &size) != 0)
		return NULL;
	pthread_attr_destroy(&a);
	stack_lo = lo;
	if (arg != NULL && read(go[0], &c, 1) != 1)
		return NULL;
	if (sigsetjmp(back, 1) == 0)
		deeper(0);
	return (void *)42;
}

/* freed: sets an alternate stack, ends; main unmaps it. */
static void *sets_one_and_ends(void *arg)
{
	(void)arg;
	return own_altstack();
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_attr_t a;
	pthread_t t, other;
	void *r = NULL, *alt;
	int freed;

	if (argc != 2 || (strcmp(argv[1], "onstack") != 0 && strcmp(argv[1], "plain") != 0 &&
			  strcmp(argv[1], "freed") != 0)) {
		fprintf(stderr, "usage: overflow_handled onstack|plain|freed\n");
		return 2;
	}
	freed = strcmp(argv[1], "freed") == 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | (strcmp(argv[1], "plain") != 0 ? SA_ONSTACK : 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	if (pipe(go) != 0)
		return 2;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, STACK_SIZE);
	if (pthread_create(&t, &a, overflows, freed ? &go : NULL) != 0)
		return 2;
	if (freed) {
		while (stack_lo == NULL)
			usleep(1000);
		if (pthread_create(&other, NULL, sets_one_and_ends, NULL) != 0 ||
		    pthread_join(other, &alt) != 0 || alt == NULL)
			return 2;
		munmap(alt, ALT_SIZE);
		if (write(go[1], "", 1) != 1)
			return 2;
	}
	pthread_join(t, &r);
	printf("caught %d, joined %ld, on the alternate stack %d\n", (int)caught, (long)(intptr_t)r,
	       (int)onstack_seen);
	return 0;
}
