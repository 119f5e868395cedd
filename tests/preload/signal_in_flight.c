/* An ordinary program whose threads all wait while a signal is on its way:
 * a thread sends the process SIGUSR1 and waits on a semaphore that the
 * signal's handler posts; main waits on another for the end. Between the
 * kill and the handler every thread waits, yet nothing is deadlocked: the
 * kernel is delivering the signal (to the main thread, Linux's first
 * choice). Prints "rounds N" and exits 0. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sem_t ack, finish;
static long rounds = 2000;

static void on_usr1(int sig)
{
	(void)sig;
	sem_post(&ack); /* async-signal-safe */
}

static void wait_for(sem_t *s)
{
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			abort();
}

static void *signal_the_process(void *arg)
{
	for (long i = 0; i < rounds; i++) {
		kill(getpid(), SIGUSR1);
		wait_for(&ack);
	}
	sem_post(&finish);
	return arg;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_t t;

	if (argc > 1)
		rounds = atol(argv[1]);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sem_init(&ack, 0, 0);
	sem_init(&finish, 0, 0);
	if (pthread_create(&t, NULL, signal_the_process, NULL) != 0)
		return 1;
	wait_for(&finish);
	pthread_join(t, NULL);
	printf("rounds %ld\n", rounds);
	return 0;
}
