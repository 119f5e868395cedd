/*
 * An ordinary program (never linked to greenshim) with one-shot handlers
 * (SA_RESETHAND), as GHC's runtime has for SIGINT: the first signal runs
 * the handler, the disposition reads back as SIG_DFL after it, and a
 * second signal takes the default action (here SIGUSR1 ends the process:
 * status 138 as the shell reports it). A second thread is alive
 * throughout.
 *
 *   oneshot kill | thread
 *     kill: the first SIGUSR1 comes from a child process while main
 *           sleeps; thread: from another thread, by pthread_kill of main
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile sig_atomic_t handled;
static pthread_t main_thread;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	usleep(50000);
	pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa, now;
	pthread_t t, s;

	if (argc != 2 || (strcmp(argv[1], "kill") != 0 && strcmp(argv[1], "thread") != 0)) {
		fprintf(stderr, "usage: oneshot kill|thread\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	main_thread = pthread_self();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&t, NULL, idle, NULL);
	if (strcmp(argv[1], "kill") == 0) {
		pid_t me = getpid(), child = fork();

		if (child == 0) {
			usleep(50000);
			kill(me, SIGUSR1);
			_exit(0);
		}
		sleep(1);
		waitpid(child, NULL, 0);
	} else {
		pthread_create(&s, NULL, sender, NULL);
		sleep(1);
		pthread_join(s, NULL);
	}
	printf("handled %d\n", (int)handled);
	sigaction(SIGUSR1, NULL, &now);
	printf("now %s\n", now.sa_handler == SIG_DFL ? "SIG_DFL" : "a handler");
	raise(SIGUSR1);
	printf("still here\n");
	return 0;
}
