/*
 * pthread_cancel, deferred: a thread blocked in read on an empty pipe, one
 * in pthread_cond_wait, one in sleep, one in clock_nanosleep, each with a
 * cleanup handler pushed;
 * a thread that disables cancellation across a wait and is cancelled only
 * when it enables it again and reaches pthread_testcancel; pthread_exit
 * from a nested call running the cleanup handlers. Each join must give
 * PTHREAD_CANCELED (or the exit value) and each handler must have run,
 * the condition waiter's with its mutex held.
 * And asynchronous: a thread that computes, calling nothing, ended by
 * another's pthread_cancel; a thread that cancels itself, deferred (no
 * effect until a cancellation point), then turns asynchronous and ends in
 * pthread_setcanceltype; one that does the same with cancellation disabled
 * and ends when it enables it. Prints "ok", exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int pipefd[2];
static int cleaned[9];
static int held_in_cleanup = -1;
static int reached; /* how far disabled_for_a_while got */
static int reached_async[8]; /* how far the asynchronous ones got */
static volatile int spinning;
static int failures;

static void check(int cond, const char *what)
{
	if (!cond) {
		printf("%s\n", what);
		failures++;
	}
}

static void mark(void *arg)
{
	cleaned[(long)arg]++;
}

static void unlock_and_mark(void *arg)
{
	held_in_cleanup = pthread_mutex_trylock(&m) == EBUSY;
	pthread_mutex_unlock(&m);
	mark(arg);
}

static void *in_read(void *arg)
{
	char b;

	pthread_cleanup_push(mark, arg);
	read(pipefd[0], &b, 1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_cond_wait(void *arg)
{
	pthread_mutex_lock(&m);
	pthread_cleanup_push(unlock_and_mark, arg);
	for (;;)
		pthread_cond_wait(&c, &m);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_sleep(void *arg)
{
	pthread_cleanup_push(mark, arg);
	sleep(100);
	pthread_cleanup_pop(0);
	return NULL;
}

/* clock_nanosleep returns its error rather than setting errno: a
 * cancellation must still end the thread there (until 2026-12-07 greenshim
 * returned ECANCELED from it, and the thread went on). */
static void *in_clock_nanosleep(void *arg)
{
	struct timespec ts = { 100, 0 };

	pthread_cleanup_push(mark, arg);
	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *disabled_for_a_while(void *arg)
{
	int old;

	pthread_cleanup_push(mark, arg);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	usleep(20000); /* cancelled meanwhile: no effect yet */
	reached = 1;
	pthread_setcancelstate(old, NULL);
	pthread_testcancel();
	reached = 2; /* not reached */
	pthread_cleanup_pop(0);
	return NULL;
}

static void leave(void)
{
	pthread_exit((void *)42);
}

static void *exits_from_a_nested_call(void *arg)
{
	pthread_cleanup_push(mark, arg);
	leave();
	pthread_cleanup_pop(0);
	return NULL;
}

static void *computes_asynchronously(void *arg)
{
	volatile unsigned long n = 0;

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	pthread_cleanup_push(mark, arg);
	spinning = 1;
	for (;;)
		n++;
	pthread_cleanup_pop(0);
	return NULL;
}

static void *turns_asynchronous(void *arg)
{
	pthread_cleanup_push(mark, arg);
	pthread_cancel(pthread_self());
	reached_async[(long)arg] = 1; /* deferred: no cancellation point yet */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	reached_async[(long)arg] = 2; /* not reached */
	pthread_cleanup_pop(0);
	return NULL;
}

static void *enables_asynchronously(void *arg)
{
	pthread_cleanup_push(mark, arg);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	pthread_cancel(pthread_self());
	reached_async[(long)arg] = 1; /* disabled: no effect */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	reached_async[(long)arg] = 2; /* not reached */
	pthread_cleanup_pop(0);
	return NULL;
}

int main(void)
{
	pthread_t t[9];
	void *r;

	if (pipe(pipefd) != 0)
		return 2;
	pthread_create(&t[0], NULL, in_read, (void *)0);
	pthread_create(&t[1], NULL, in_cond_wait, (void *)1);
	pthread_create(&t[2], NULL, in_sleep, (void *)2);
	pthread_create(&t[3], NULL, disabled_for_a_while, (void *)3);
	pthread_create(&t[4], NULL, exits_from_a_nested_call, (void *)4);
	pthread_create(&t[8], NULL, in_clock_nanosleep, (void *)8);
	usleep(10000); /* all of them wait now */
	for (int i = 0; i < 4; i++)
		check(pthread_cancel(t[i]) == 0, "pthread_cancel failed");
	check(pthread_cancel(t[8]) == 0, "pthread_cancel failed");
	check(pthread_join(t[8], &r) == 0 && r == PTHREAD_CANCELED,
	      "clock_nanosleep: join not PTHREAD_CANCELED");
	check(cleaned[8] == 1, "clock_nanosleep: the cleanup handler did not run once");
	for (int i = 0; i < 4; i++) {
		check(pthread_join(t[i], &r) == 0 && r == PTHREAD_CANCELED, "join: not PTHREAD_CANCELED");
		check(cleaned[i] == 1, "a cleanup handler did not run once");
	}
	check(held_in_cleanup == 1, "the condition waiter's handler ran without the mutex");
	check(reached == 1, "cancellation acted while disabled, or not at pthread_testcancel");
	check(pthread_join(t[4], &r) == 0 && r == (void *)42, "pthread_exit's value lost");
	check(cleaned[4] == 1, "pthread_exit ran no cleanup handler");

	pthread_create(&t[5], NULL, computes_asynchronously, (void *)5);
	while (!spinning)
		usleep(1000);
	check(pthread_cancel(t[5]) == 0, "pthread_cancel failed");
	check(pthread_join(t[5], &r) == 0 && r == PTHREAD_CANCELED,
	      "asynchronous: join not PTHREAD_CANCELED");
	check(cleaned[5] == 1, "asynchronous: the cleanup handler did not run once");
	pthread_create(&t[6], NULL, turns_asynchronous, (void *)6);
	pthread_create(&t[7], NULL, enables_asynchronously, (void *)7);
	for (int i = 6; i < 8; i++) {
		check(pthread_join(t[i], &r) == 0 && r == PTHREAD_CANCELED,
		      "turned asynchronous: join not PTHREAD_CANCELED");
		check(cleaned[i] == 1, "turned asynchronous: the cleanup handler did not run once");
		check(reached_async[i] == 1, "turned asynchronous: did not end there and then");
	}
	if (failures == 0)
		printf("ok\n");
	return failures != 0;
}
