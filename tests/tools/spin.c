/* An ordinary program with a thread that computes and never waits, and one
 * that sleeps: what greenctl must still see inside. Prints "spinning" once
 * both run; runs until killed, or with "spin SECONDS STATUS", exits with
 * STATUS after SECONDS (main returns while the others still run). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv)
{
	pthread_t a, b;

	pthread_create(&b, NULL, sleeper, NULL);
	pthread_setname_np(b, "sleeper");
	pthread_create(&a, NULL, spin_forever, NULL);
	pthread_setname_np(a, "spinner");
	if (argc > 2) {
		usleep((useconds_t)(atof(argv[1]) * 1e6));
		return atoi(argv[2]);
	}
	pthread_join(a, NULL);
	return 0;
}
