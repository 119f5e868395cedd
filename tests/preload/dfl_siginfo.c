/*
 * An ordinary program (never linked to greenshim) that gives a signal
 * SIG_IGN and then SIG_DFL with SA_SIGINFO set, as Go's runtime does
 * before it raises a signal to die of it (a handler was installed first):
 * the ignored one is ignored, the other ends the process (status 143 for
 * SIGTERM, as the shell reports it). A second thread is alive throughout.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	printf("handled\n");
}

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t t;

	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_create(&t, NULL, idle, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_flags = SA_SIGINFO;
	sa.sa_sigaction = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	raise(SIGTERM);
	sa.sa_handler = SIG_IGN; /* SA_SIGINFO stays */
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("SIGUSR1 ignored\n");
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	raise(SIGTERM);
	printf("still here\n");
	return 0;
}
