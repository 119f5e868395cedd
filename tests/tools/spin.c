/* An ordinary program with a thread that computes and never waits, and one
 * that sleeps: what greenctl must still see inside. Prints "spinning" once
 * both run; runs until killed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static volatile unsigned long counter;

static void *spin_forever(void *arg)
{
	(void)arg;
	puts("spinning");
	fflush(stdout);
	for (;;)
		counter++;
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		sleep(1);
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	pthread_create(&b, NULL, sleeper, NULL);
	pthread_setname_np(b, "sleeper");
	pthread_create(&a, NULL, spin_forever, NULL);
	pthread_setname_np(a, "spinner");
	pthread_join(a, NULL);
	return 0;
}
