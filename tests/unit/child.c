/* Running a piece of a test in a child process of its own, for what must
 * end a process (a stack overflow, exit(2) on a bad variable). */
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

int run_in_child(void (*fn)(void *), void *arg, char *err, size_t errlen)
{
	int p[2], status;
	ssize_t n, len = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], err + len, errlen - 1 - (size_t)len)) > 0)
		len += n;
	err[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}
