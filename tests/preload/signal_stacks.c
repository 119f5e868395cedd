/*
 * An ordinary program (never linked to greenshim) whose signal handlers
 * have SA_ONSTACK, and whose threads set alternate stacks of their own, as
 * Go's runtime, Ruby's and GNU libsigsegv's users do:
 *
 *   signal_stacks wait | fpu | fault
 *     wait:  four threads with an alternate stack each and one without
 *            take SIGUSR1 in turn, and each handler waits on a semaphore
 *            of its own before it returns, as a collector's stop handler
 *            waits for the world to go on, while the next thread's signal
 *            comes; main lets them go in reverse order. Each handler
 *            reports whether it ran on its thread's alternate stack (the
 *            thread without one: on its own stack), what sigaltstack says
 *            there (SS_ONSTACK; changing it: EPERM), whether the locals
 *            it filled before the wait are intact after it, and whether
 *            its stack unwinds through the signal frame into the thread's
 *            function;
 *     fpu:   a thread with an alternate stack computes with doubles kept
 *            in registers while main sends it 300 signals whose handler
 *            computes with doubles too: the result is the one computed
 *            without signals (the handler's frame keeps the interrupted
 *            FPU state, and rt_sigreturn restores it);
 *     fault: a thread with an alternate stack loads from address 0; its
 *            SIGSEGV handler (SA_ONSTACK) checks it runs on that stack and
 *            sets the frame's rip past the load and rax to 42: the thread
 *            goes on there with 42 (rt_sigreturn reads the frame the
 *            handler changed); the handler's stack unwinds through the
 *            signal frame into the thread's function.
 *
 * Under greenshim the output and the status must be the native ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#define ALT_SIZE (64 * 1024)
#define WAITERS 5 /* the last has no alternate stack */

struct seen {
	int ran, on_right_stack, says_onstack, change_refused, locals_kept, unwinds;
};

static __thread int me = -1;
static __thread char *alt;
static __thread char *stack_lo, *stack_hi;
static struct seen seen[WAITERS];
static sem_t stopped, ready, go[WAITERS];
static volatile int done;

static void own_altstack(void)
{
	stack_t ss = { .ss_size = ALT_SIZE };

	alt = malloc(ALT_SIZE);
	ss.ss_sp = alt;
	if (alt == NULL || sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		exit(2);
	}
}

static void own_stack(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;

	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &lo, &size);
	pthread_attr_destroy(&a);
	stack_lo = lo;
	stack_hi = (char *)lo + size;
}

static void *waiter(void *arg);

/* Does the stack unwind, through the signal frame, into fn? Its code is
 * within a few KiB of its entry. */
struct unwind_find {
	uintptr_t fn;
	int found;
};

static _Unwind_Reason_Code unwind_find(struct _Unwind_Context *c, void *arg)
{
	struct unwind_find *u = arg;
	uintptr_t ip = _Unwind_GetIP(c);

	if (ip > u->fn && ip < u->fn + 4096)
		u->found = 1;
	return _URC_NO_REASON;
}

static int unwinds_into(void *(*fn)(void *))
{
	struct unwind_find u = { (uintptr_t)fn, 0 };

	_Unwind_Backtrace(unwind_find, &u);
	return u.found;
}

static void on_usr1(int sig)
{
	volatile long canary[64];
	struct seen *s = &seen[me];
	stack_t now, other = { .ss_size = ALT_SIZE };
	char here;

	(void)sig;
	for (int k = 0; k < 64; k++)
		canary[k] = 1000 * me + k;
	if (alt != NULL)
		s->on_right_stack = &here >= alt && &here < alt + ALT_SIZE;
	else
		s->on_right_stack = &here >= stack_lo && &here < stack_hi;
	if (sigaltstack(NULL, &now) == 0)
		s->says_onstack = alt != NULL ? (now.ss_flags & SS_ONSTACK) != 0 : now.ss_flags == SS_DISABLE;
	other.ss_sp = malloc(ALT_SIZE);
	if (alt != NULL)
		s->change_refused = sigaltstack(&other, NULL) == -1 && errno == EPERM;
	else
		s->change_refused = 1;
	s->unwinds = unwinds_into(waiter);
	sem_post(&stopped);
	while (sem_wait(&go[me]) != 0)
		;
	s->locals_kept = 1;
	for (int k = 0; k < 64; k++)
		if (canary[k] != 1000 * me + k)
			s->locals_kept = 0;
	s->ran++;
	free(other.ss_sp);
}

static void *waiter(void *arg)
{
	me = (int)(intptr_t)arg;
	own_stack();
	if (me < WAITERS - 1)
		own_altstack();
	sem_post(&ready);
	while (!done)
		usleep(1000);
	return NULL;
}

static int mode_wait(void)
{
	pthread_t t[WAITERS];
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sem_init(&stopped, 0, 0);
	sem_init(&ready, 0, 0);
	for (int i = 0; i < WAITERS; i++) {
		sem_init(&go[i], 0, 0);
		pthread_create(&t[i], NULL, waiter, (void *)(intptr_t)i);
	}
	for (int i = 0; i < WAITERS; i++)
		while (sem_wait(&ready) != 0)
			;
	for (int i = 0; i < WAITERS; i++) {
		pthread_kill(t[i], SIGUSR1);
		while (sem_wait(&stopped) != 0)
			;
	}
	for (int i = WAITERS - 1; i >= 0; i--) {
		sem_post(&go[i]);
		usleep(10000);
	}
	done = 1;
	for (int i = 0; i < WAITERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < WAITERS; i++)
		printf("thread %d (%s alternate stack): ran %d, on its stack %d, sigaltstack says so %d, "
		       "change refused %d, locals kept %d, unwinds into its function %d\n",
		       i, i < WAITERS - 1 ? "an" : "no", seen[i].ran, seen[i].on_right_stack,
		       seen[i].says_onstack, seen[i].change_refused, seen[i].locals_kept, seen[i].unwinds);
	return 0;
}

static volatile int fpu_signals, fpu_on_alt;

static void on_usr2(int sig)
{
	volatile double x = sig;
	char here;

	for (int i = 0; i < 100; i++)
		x = x * 1.5 - 0.25;
	fpu_on_alt &= &here >= alt && &here < alt + ALT_SIZE;
	fpu_signals++;
}

static double compute(long n)
{
	double a = 1.0, b = 0.5, c = 0.25;

	for (long i = 0; i < n; i++) {
		a = a * 1.0000001 + b;
		b = b * 0.9999999 + c;
		c = c * 0.5 + 0.125;
		if (a > 1e6)
			a -= 1e6;
	}
	return a + b + c;
}

static volatile double fpu_result;
static volatile int fpu_started;

static void *fpu_thread(void *arg)
{
	(void)arg;
	own_altstack();
	fpu_started = 1;
	fpu_result = compute(60000000);
	return NULL;
}

static int mode_fpu(void)
{
	struct sigaction sa;
	pthread_t t;
	double expect = compute(60000000);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	fpu_on_alt = 1;
	pthread_create(&t, NULL, fpu_thread, NULL);
	while (!fpu_started)
		usleep(100);
	for (int i = 0; i < 300; i++) {
		if (pthread_kill(t, SIGUSR2) != 0)
			break;
		usleep(500);
	}
	pthread_join(t, NULL);
	printf("result as without signals %d, handlers on the alternate stack %d (some ran %d)\n",
	       fpu_result == expect, fpu_on_alt, fpu_signals > 0);
	return 0;
}

static void *resume_at;
static volatile int fault_on_alt, fault_unwinds;

static void *fault_thread(void *arg);

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	char here;

	(void)sig;
	(void)si;
	fault_unwinds = unwinds_into(fault_thread);
	fault_on_alt = &here >= alt && &here < alt + ALT_SIZE;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)resume_at;
	uc->uc_mcontext.gregs[REG_RAX] = 42;
}

static void *fault_thread(void *arg)
{
	long v;

	(void)arg;
	own_altstack();
	__asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
			 "mov %%rcx, %1\n\t"
			 "xor %%eax, %%eax\n\t"
			 "mov (%%rax), %%rax\n"
			 "1:"
			 : "=a"(v), "=m"(resume_at)
			 :
			 : "rcx", "memory");
	return (void *)v;
}

static int mode_fault(void)
{
	struct sigaction sa;
	pthread_t t;
	void *v;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	pthread_create(&t, NULL, fault_thread, NULL);
	pthread_join(t, &v);
	printf("went on with %ld, handler on the alternate stack %d, unwinds into the thread's function %d\n",
	       (long)v, fault_on_alt, fault_unwinds);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "wait") == 0)
		return mode_wait();
	if (argc == 2 && strcmp(argv[1], "fpu") == 0)
		return mode_fpu();
	if (argc == 2 && strcmp(argv[1], "fault") == 0)
		return mode_fault();
	fprintf(stderr, "usage: signal_stacks wait|fpu|fault\n");
	return 2;
}
