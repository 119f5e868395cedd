/* An ordinary program that deadlocks: two threads each hold a mutex and
 * wait for the other's, and main joins the first; it never ends, natively
 * or under greenshim. Prints the addresses of its two mutexes first, and
 * "locked" once both threads hold their first mutex. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t second = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;

static __attribute__((noinline)) void lock_one_then_the_other(pthread_mutex_t *mine,
							      pthread_mutex_t *other)
{
	pthread_mutex_lock(mine);
	if (pthread_barrier_wait(&both_hold_one) == PTHREAD_BARRIER_SERIAL_THREAD) {
		printf("locked\n");
		fflush(stdout);
	}
	pthread_mutex_lock(other); /* never returns */
	__asm__ volatile("" ::: "memory");
}

static void *left(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "left");
	lock_one_then_the_other(&first, &second);
	return NULL;
}

static void *right(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "right");
	lock_one_then_the_other(&second, &first);
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	printf("first %p second %p\n", (void *)&first, (void *)&second);
	fflush(stdout);
	pthread_barrier_init(&both_hold_one, NULL, 2);
	if (pthread_create(&a, NULL, left, NULL) != 0 || pthread_create(&b, NULL, right, NULL) != 0)
		return 1;
	pthread_join(a, NULL);
	return 0;
}
