/* A single-threaded program that enters a new user namespace (unshare
 * with CLONE_NEWUSER, as util-linux's unshare -r and bubblewrap do), then
 * makes a thread, then tries setns into the user namespace it is in
 * (EINVAL natively: a process cannot join its own). Prints each result,
 * to be compared with a native run, and then the names of the process's
 * threads. An ordinary program: nothing here knows of greenshim. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void result(const char *what, int r)
{
	printf("%s = %d%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
}

static void *ran(void *arg)
{
	return arg;
}

int main(void)
{
	pthread_t t;
	void *got = NULL;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	result("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
	result("pthread_create", -pthread_create(&t, NULL, ran, (void *)"x"));
	result("pthread_join", -pthread_join(t, &got));
	printf("the thread returned %s\n", got != NULL ? (const char *)got : "nothing");
	fd = open("/proc/self/ns/user", O_RDONLY);
	result("setns(its own user namespace)", setns(fd, CLONE_NEWUSER));
	result("setns(its own user namespace, 0)", setns(fd, 0));
	close(fd);
	return 0;
}
