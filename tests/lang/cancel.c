/*
 * pthread_cancel, deferred: a thread blocked in read on an empty pipe, one
 * in pthread_cond_wait, one in sleep, each with a cleanup handler pushed;
 * a thread that disables cancellation across a wait and is cancelled only
 * when it enables it again and reaches pthread_testcancel; pthread_exit
 * from a nested call running the cleanup handlers. Each join must give
 * PTHREAD_CANCELED (or the exit value) and each handler must have run,
 * the condition waiter's with its mutex held. Prints "ok", exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int pipefd[2];
static int cleaned[5];
static int held_in_cleanup = -1;
static int reached; /* how far disabled_for_a_while got */
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

int main(void)
{
	pthread_t t[5];
	void *r;

	if (pipe(pipefd) != 0)
		return 2;
	pthread_create(&t[0], NULL, in_read, (void *)0);
	pthread_create(&t[1], NULL, in_cond_wait, (void *)1);
	pthread_create(&t[2], NULL, in_sleep, (void *)2);
	pthread_create(&t[3], NULL, disabled_for_a_while, (void *)3);
	pthread_create(&t[4], NULL, exits_from_a_nested_call, (void *)4);
	usleep(10000); /* all of them wait now */
	for (int i = 0; i < 4; i++)
		check(pthread_cancel(t[i]) == 0, "pthread_cancel failed");
	for (int i = 0; i < 4; i++) {
		check(pthread_join(t[i], &r) == 0 && r == PTHREAD_CANCELED, "join: not PTHREAD_CANCELED");
		check(cleaned[i] == 1, "a cleanup handler did not run once");
	}
	check(held_in_cleanup == 1, "the condition waiter's handler ran without the mutex");
	check(reached == 1, "cancellation acted while disabled, or not at pthread_testcancel");
	check(pthread_join(t[4], &r) == 0 && r == (void *)42, "pthread_exit's value lost");
	check(cleaned[4] == 1, "pthread_exit ran no cleanup handler");
	if (failures == 0)
		printf("ok\n");
	return failures != 0;
}
