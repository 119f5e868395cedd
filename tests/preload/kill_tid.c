/*
 * An ordinary program (never linked to greenshim) that names its own
 * process by one of its threads' ids (gettid), as kill(2) allows: kill,
 * syscall(SYS_kill) and sigqueue with a live thread's id signal the
 * process (its handler runs once, sigqueue's value arrives); signal 0
 * says the thread exists. Once the thread has ended and been joined, its
 * id names nothing: ESRCH. Under greenshim, where a thread's id is a
 * green one, the output must be the native one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static atomic_int tid_ready, handled, last_value, stop;
static pid_t thread_tid;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	atomic_fetch_add(&handled, 1);
	if (si->si_code == SI_QUEUE)
		atomic_store(&last_value, si->si_value.sival_int);
}

static void *lives(void *arg)
{
	(void)arg;
	thread_tid = gettid();
	atomic_store(&tid_ready, 1);
	while (!atomic_load(&stop))
		usleep(1000);
	return NULL;
}

static void wait_handled(int n)
{
	for (int i = 0; i < 2000 && atomic_load(&handled) < n; i++)
		usleep(1000);
}

static void report(const char *what, long r)
{
	printf("%s: %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
}

int main(void)
{
	struct sigaction sa;
	union sigval v = { .sival_int = 42 };
	pthread_t t;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&t, NULL, lives, NULL);
	while (!atomic_load(&tid_ready))
		usleep(1000);
	report("kill(tid, 0)", kill(thread_tid, 0));
	report("syscall kill(tid, 0)", syscall(SYS_kill, thread_tid, 0));
	report("kill(tid, SIGUSR1)", kill(thread_tid, SIGUSR1));
	wait_handled(1);
	report("syscall kill(tid, SIGUSR1)", syscall(SYS_kill, thread_tid, SIGUSR1));
	wait_handled(2);
	report("sigqueue(tid, SIGUSR1, 42)", sigqueue(thread_tid, SIGUSR1, v));
	wait_handled(3);
	printf("handled %d, value %d\n", atomic_load(&handled), atomic_load(&last_value));
	report("kill(own tid, 0)", kill(gettid(), 0));
	report("kill(0, 0)", kill(0, 0));
	report("kill(-pgrp, 0)", kill(-getpgrp(), 0));
	report("sigqueue(0, 0)", sigqueue(0, 0, v));
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	report("kill(ended tid, 0)", kill(thread_tid, 0));
	report("sigqueue(ended tid, 0)", sigqueue(thread_tid, 0, v));
	return 0;
}
