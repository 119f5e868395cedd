/*
 * An ordinary program (never linked to greenshim) that looks at its file
 * descriptors the way programs do: the number each open gets, fstat and
 * fcntl over every number, closing and replacing its standard ones, and
 * the fds a child it execs finds open. greenshim's own descriptors (the
 * hub's epoll fd and eventfd, the control socket) must not show, nor take
 * a number the program would get natively; the output must be the native
 * run's.
 *
 *   own_fds            the whole run
 *   own_fds --list     (the exec'd child) prints the fds open in it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* The open fds below 1024 that the test did not inherit. */
static void list(const char *who, int inherited_max)
{
	struct stat st;

	printf("%s:", who);
	for (int fd = 0; fd < 1024; fd++)
		if ((fd <= 2 || fd > inherited_max) && fstat(fd, &st) == 0)
			printf(" %d", fd);
	printf("\n");
}

static void *sleeper(void *arg)
{
	usleep(20000);
	return arg;
}

int main(int argc, char **argv)
{
	int inherited_max = 2, fd, fds[2], status;
	pthread_t t;
	pid_t pid;

	/* The fds the test runner left open (a shell's 10 or 255): the
	 * highest, so that only what this program opens is listed. */
	for (int i = 3; i < 1024; i++)
		if (fcntl(i, F_GETFD) >= 0 && i < 1000)
			inherited_max = i;
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		list("child", inherited_max);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_create(&t, NULL, sleeper, NULL); /* a hub and its loop */
	fd = open("/dev/null", O_RDONLY);
	printf("first open %d\n", fd);
	close(fd);
	list("parent", inherited_max);
	/* Nothing answers as open in the top numbers either. */
	errno = 0;
	fd = fcntl(1023, F_GETFD);
	printf("fcntl 1023 %d errno %d\n", fd, errno);
	/* A standard fd closed, then the lowest number taken again. */
	fd = dup(0);
	close(0);
	printf("reopen 0 -> %d\n", open("/dev/null", O_RDONLY));
	printf("dup2 back %d\n", dup2(fd, 0));
	close(fd);
	pthread_join(t, NULL);
	/* A child that rearranges its standard fds, then execs: it finds
	 * only them (the runtime's are close-on-exec). */
	if (pipe(fds) != 0)
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(0);
		dup2(fds[1], 0);
		dup2(fds[1], 3);
		close(fds[0]);
		close(fds[1]);
		close(3);
		execl("/proc/self/exe", argv[0], "--list", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	close(fds[1]);
	waitpid(pid, &status, 0);
	printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
