/*
 * An ordinary program (never linked to greenshim) that sends itself one of
 * the signals greenshim takes for its own work (SIGSEGV for stack
 * overflows, SIGSYS for raw system calls, SIGRTMAX-1 for preemption and
 * sampling), the way the test names, with a second thread alive:
 *
 *   sent_signals SIGNAL HOW [handled] [raw]
 *     SIGNAL: segv | sys | rtmax1
 *     HOW:    raise | pthread_kill | sigqueue | kill (from a child process)
 *     handled: the program installs a handler first
 *     raw: the second thread makes system calls by its own syscall
 *          instruction meanwhile (greenshim catches them with SIGSYS, so
 *          a sent signal often comes while that handler runs)
 *
 * Natively an unhandled one kills the process (139 for SIGSEGV, 159 for
 * SIGSYS, 191 for SIGRTMAX-1 as the shell reports them); a handled one
 * runs the handler once and the program prints "handled 1" and exits 0.
 * Under greenshim the status must be the same.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

static volatile sig_atomic_t done;

/* getppid by the program's own syscall instruction, not libc's. */
static long raw_getppid(void)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return r;
}

static void *raw_calls(void *arg)
{
	(void)arg;
	while (!done)
		raw_getppid();
	return NULL;
}

static void *idle(void *arg)
{
	int fds[2];
	char c;

	(void)arg;
	if (pipe(fds) == 0)
		(void)!read(fds[0], &c, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int sig, handle = 0, raw = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: sent_signals segv|sys|rtmax1 raise|pthread_kill|sigqueue|kill [handled] [raw]\n");
		return 2;
	}
	sig = strcmp(argv[1], "segv") == 0 ? SIGSEGV : strcmp(argv[1], "sys") == 0 ? SIGSYS
										   : SIGRTMAX - 1;
	for (int i = 3; i < argc; i++) {
		handle |= strcmp(argv[i], "handled") == 0;
		raw |= strcmp(argv[i], "raw") == 0;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	pthread_create(&t, NULL, raw ? raw_calls : idle, NULL);
	usleep(1000); /* the other thread waits (or calls) by now */
	if (handle)
		signal(sig, on_signal);
	if (strcmp(argv[2], "raise") == 0) {
		raise(sig);
	} else if (strcmp(argv[2], "pthread_kill") == 0) {
		pthread_kill(pthread_self(), sig);
	} else if (strcmp(argv[2], "sigqueue") == 0) {
		union sigval v = { .sival_int = 7 };

		sigqueue(getpid(), sig, v);
	} else {
		pid_t parent = getpid(), child = fork();

		if (child == 0) {
			kill(parent, sig);
			_exit(0);
		}
		waitpid(child, NULL, 0);
		/* A process-directed signal: some thread takes it soon. */
		for (int i = 0; i < 100 && handled == 0; i++)
			usleep(1000);
	}
	done = 1;
	if (raw)
		pthread_join(t, NULL);
	printf("handled %d\n", (int)handled);
	return 0;
}
