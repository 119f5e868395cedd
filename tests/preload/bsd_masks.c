/*
 * An ordinary program (never linked to greenshim) that changes its signal
 * mask and dispositions with the BSD and System V calls (sigsetmask,
 * sigblock, siggetmask, sighold, sigrelse, sigset, sigignore), which glibc
 * makes through its own internal sigprocmask and sigaction, and reads each
 * result back with pthread_sigmask and sigaction, as dash does around its
 * forks. Then, as dash's `wait`: block everything, then sigsuspend with
 * the mask from before, until a child's SIGCHLD is handled. A second
 * thread is alive throughout. The output must be the native one.
 */
#define _GNU_SOURCE
/* The calls under test are the deprecated ones. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile sig_atomic_t chld;

static void on_chld(int sig)
{
	(void)sig;
	chld = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static void show(const char *what)
{
	sigset_t now;
	struct sigaction a;

	pthread_sigmask(SIG_BLOCK, NULL, &now);
	sigaction(SIGUSR1, NULL, &a);
	printf("%-28s usr1 %s, usr2 %s, chld %s; usr1 %s\n", what,
	       sigismember(&now, SIGUSR1) ? "blocked" : "open",
	       sigismember(&now, SIGUSR2) ? "blocked" : "open",
	       sigismember(&now, SIGCHLD) ? "blocked" : "open",
	       a.sa_handler == SIG_IGN ? "ignored" : a.sa_handler == SIG_DFL ? "default" : "handled");
}

int main(void)
{
	struct sigaction sa;
	sigset_t all, before;
	pthread_t t;
	int old;
	pid_t child;

	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_create(&t, NULL, idle, NULL);
	old = sigblock((1 << (SIGUSR1 - 1)) | (1 << (SIGUSR2 - 1)));
	printf("sigblock old %#x\n", (unsigned)old);
	show("after sigblock");
	printf("siggetmask %#x\n", (unsigned)siggetmask());
	old = sigsetmask(0);
	printf("sigsetmask old %#x\n", (unsigned)old);
	show("after sigsetmask(0)");
	sighold(SIGCHLD);
	show("after sighold(SIGCHLD)");
	sigrelse(SIGCHLD);
	show("after sigrelse(SIGCHLD)");
	printf("sigset returned %s\n", sigset(SIGUSR1, on_usr1) == SIG_DFL ? "SIG_DFL" : "other");
	show("after sigset(handler)");
	printf("sigset returned %s\n", sigset(SIGUSR1, SIG_HOLD) == on_usr1 ? "the handler" : "other");
	show("after sigset(SIG_HOLD)");
	printf("sigset returned %s\n", sigset(SIGUSR1, SIG_DFL) == SIG_HOLD ? "SIG_HOLD" : "other");
	show("after sigset(SIG_DFL)");
	sigignore(SIGUSR1);
	show("after sigignore");

	/* dash's wait: all blocked around a fork, cleared by sigsetmask(0);
	 * then all blocked, and sigsuspend with the mask from before. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sigfillset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	child = fork();
	if (child == 0) {
		usleep(100000);
		_exit(3);
	}
	sigsetmask(0);
	sigprocmask(SIG_SETMASK, &all, &before);
	while (!chld)
		sigsuspend(&before);
	sigsetmask(0);
	{
		int status;

		waitpid(child, &status, 0);
		printf("child ended %d, SIGCHLD handled %d\n", WEXITSTATUS(status), (int)chld);
	}
	return 0;
}
