/*
 * An ordinary program (never linked to greenshim) that changes its ids
 * with threads about, as servers that drop privileges do (squid calls
 * setresuid at exit), and starts children with vfork, as CPython's
 * subprocess does:
 *
 *   ids_and_vfork setxid | vfork
 *     setxid: four threads sleep while main calls setresuid, setresgid,
 *             setuid and setegid with the ids it has (so any user may),
 *             then joins them and calls setuid again: each call returns 0
 *             (glibc makes every thread carry out the change, by a signal
 *             to each OS thread; before 2026-12-06 the first call hung for
 *             ever with two hubs);
 *     vfork:  with pthread_atfork handlers registered, vfork and exec
 *             /bin/true, then fork: the handlers run for the fork only, as
 *             glibc's vfork runs none (before 2026-12-06 greenshim's, a
 *             fork, ran them: gRPC's child handler ended CPython's
 *             subprocess children before their exec).
 *
 * Under greenshim the output and the status must be the native ones.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;

static void *sleeper(void *arg)
{
	(void)arg;
	while (!stop)
		usleep(2000);
	return NULL;
}

static int mode_setxid(void)
{
	pthread_t t[4];
	uid_t r, e, s;
	gid_t gr, ge, gs;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, sleeper, NULL);
	usleep(20000);
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	printf("setresuid %d\n", setresuid(r, e, s));
	printf("setresgid %d\n", setresgid(gr, ge, gs));
	printf("setuid %d\n", setuid(getuid()));
	printf("setegid %d\n", setegid(getegid()));
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("setuid after the joins %d\n", setuid(getuid()));
	return 0;
}

static int prepared, parented;

static void on_prepare(void)
{
	prepared++;
}

static void on_parent(void)
{
	parented++;
}

static void on_child(void)
{
	static const char msg[] = "child handler ran\n";

	/* Async-signal-safe: a vfork child may do no more. */
	if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0)
		_exit(3);
}

static int mode_vfork(void)
{
	pthread_t t;
	int status;
	pid_t pid;

	pthread_create(&t, NULL, sleeper, NULL);
	pthread_atfork(on_prepare, on_parent, on_child);
	pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	printf("vfork: child status %d, prepare ran %d, parent ran %d\n", WEXITSTATUS(status), prepared,
	       parented);
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	printf("fork: child status %d, prepare ran %d, parent ran %d\n", WEXITSTATUS(status), prepared,
	       parented);
	stop = 1;
	pthread_join(t, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2 && strcmp(argv[1], "setxid") == 0)
		return mode_setxid();
	if (argc == 2 && strcmp(argv[1], "vfork") == 0)
		return mode_vfork();
	fprintf(stderr, "usage: ids_and_vfork setxid|vfork\n");
	return 2;
}
