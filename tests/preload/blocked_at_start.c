/*
 * An ordinary program (never linked to greenshim) that blocks SIGUSR1,
 * makes its first thread, which waits for it in sigwait, and at once
 * sends SIGUSR1 to its own process, as a server sets up its signal
 * thread. Every thread blocks the signal, so natively the sigwait takes
 * it: "sigwait got 10", status 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void *waiter(void *arg)
{
	sigset_t s;
	int sig = 0;

	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigwait(&s, &sig);
	return (void *)(long)sig;
}

int main(void)
{
	sigset_t s;
	pthread_t t;
	void *r;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	pthread_create(&t, NULL, waiter, NULL);
	kill(getpid(), SIGUSR1);
	pthread_join(t, &r);
	printf("sigwait got %ld\n", (long)r);
	return 0;
}
