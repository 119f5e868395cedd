/*
 * An ordinary program (never linked to greenshim) that stops its threads
 * from inside a signal handler, as a collector does (SBCL's stops the
 * world from its SIGTRAP handler): main's own handler sends each worker a
 * stop signal with pthread_kill, waits there until every one has stopped
 * in its handler, then resumes them with another and waits until they are
 * back.
 *
 *   stop_world wait | compute
 *     the workers sleep in a loop (wait) or compute (compute) meanwhile.
 *
 * Each stop handler must run on its own worker (its TLS and pthread_self
 * are the worker's), once per collection. Before 2026-12-06, greenshim ran
 * a signal sent from inside a handler to a thread of the same hub on the
 * handler's own context (main's): the stops never reached the workers and
 * the collection hung.
 *
 * Under greenshim the output and the status must be the native ones.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WORKERS = 4, COLLECTIONS = 3 };

static pthread_t worker[WORKERS];
static __thread int my_index = -1;
static atomic_int stopped, back, done, started;
static volatile sig_atomic_t resumed;
static atomic_int on_own_thread[WORKERS], elsewhere, mask_wrong;
static int timed_out;

static void pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits (5 s at most) until *n reaches want; nanosleep is async-signal-safe. */
static int wait_for(atomic_int *n, int want)
{
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(n) >= want)
			return 1;
		pause_ms(1);
	}
	return 0;
}

static void on_resume(int sig)
{
	(void)sig;
}

static void on_stop(int sig)
{
	sigset_t m;
	int i = my_index;

	(void)sig;
	/* The handler's mask (its sa_mask and itself), as SBCL checks it. */
	pthread_sigmask(SIG_BLOCK, NULL, &m);
	if (!sigismember(&m, SIGUSR2) || !sigismember(&m, SIGHUP) || !sigismember(&m, SIGPIPE))
		atomic_fetch_add(&mask_wrong, 1);
	if (i >= 0 && i < WORKERS && pthread_equal(pthread_self(), worker[i]))
		atomic_fetch_add(&on_own_thread[i], 1);
	else
		atomic_fetch_add(&elsewhere, 1);
	atomic_fetch_add(&stopped, 1);
	sigfillset(&m);
	sigdelset(&m, SIGRTMIN);
	while (!resumed)
		sigsuspend(&m);
	atomic_fetch_add(&back, 1);
}

/* The collector: on main, by main's own pthread_kill. */
static void on_collect(int sig)
{
	(void)sig;
	atomic_store(&stopped, 0);
	atomic_store(&back, 0);
	resumed = 0;
	for (int i = 0; i < WORKERS; i++)
		pthread_kill(worker[i], SIGUSR2);
	if (!wait_for(&stopped, WORKERS))
		timed_out++;
	resumed = 1;
	for (int i = 0; i < WORKERS; i++)
		pthread_kill(worker[i], SIGRTMIN);
	if (!wait_for(&back, WORKERS))
		timed_out++;
}

static int computing;

static void *work(void *arg)
{
	volatile unsigned long x = 0;

	my_index = (int)(long)arg;
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&done)) {
		if (computing)
			for (int i = 0; i < 10000; i++)
				x += (unsigned long)i;
		else
			pause_ms(1);
	}
	return NULL;
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction a;

	memset(&a, 0, sizeof a);
	a.sa_handler = fn;
	sigemptyset(&a.sa_mask);
	if (sig == SIGUSR2) {
		sigaddset(&a.sa_mask, SIGHUP);
		sigaddset(&a.sa_mask, SIGPIPE);
	}
	sigaction(sig, &a, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "wait") != 0 && strcmp(argv[1], "compute") != 0)) {
		fprintf(stderr, "usage: stop_world wait|compute\n");
		return 2;
	}
	computing = strcmp(argv[1], "compute") == 0;
	handle(SIGUSR1, on_collect);
	handle(SIGUSR2, on_stop);
	handle(SIGRTMIN, on_resume);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&worker[i], NULL, work, (void *)i);
	/* Every worker knows its index before its first stop: a stop that
	 * comes before a thread first runs is handled before its start
	 * routine, natively too (under load, on one hub, a computing worker
	 * could wait past 20 ms for its first turn: "stops elsewhere 1"). */
	wait_for(&started, WORKERS);
	pause_ms(20);
	for (int c = 0; c < COLLECTIONS; c++) {
		pthread_kill(pthread_self(), SIGUSR1);
		pause_ms(5);
	}
	atomic_store(&done, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(worker[i], NULL);
	printf("collections %d, timed out %d, stops elsewhere %d, with the wrong mask %d\n",
	       COLLECTIONS, timed_out, atomic_load(&elsewhere), atomic_load(&mask_wrong));
	for (int i = 0; i < WORKERS; i++)
		printf("worker %d stopped on its own thread %d times\n", i,
		       atomic_load(&on_own_thread[i]));
	return 0;
}
