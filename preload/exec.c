/*
 * exec: execve and the rest of its family, each the libc call, with the
 * runtime's signals quiet around it (preempt_exec_begin: a sample or a
 * tick pending across exec would end the new program, whose disposition
 * for the signal is the default). glibc's execv, execvp, execl... call
 * execve inside libc, past any wrapper: each is wrapped here. The variadic
 * ones collect their arguments into an array, as glibc's do, and call the
 * wrapper of their array form. The new program starts on the caller's
 * CPU affinity, not its hub's (preload/affinity.c), and on its signal
 * mask, without the signals blocked for other threads' sigwaits
 * (sigmask_exec_begin).
 *
 * dlclose, here too as what changes the program's code: once it returns,
 * the code the preemption tick learnt since the start (preempt.c, late
 * code) may be unmapped, and its addresses another object's.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <unistd.h>

#include "preload.h"

/* The exec call, with the runtime's signals quiet; if it fails and
 * returns, they resume, and errno is the exec's. */
#define EXEC_QUIETLY(call)                          \
	do {                                        \
		int r_, err_;                       \
		bool begun_ = preempt_exec_begin(); \
		bool own_ = affinity_exec_begin();  \
		bool mask_ = sigmask_exec_begin();  \
		r_ = (call);                        \
		err_ = errno;                       \
		sigmask_exec_end(mask_);            \
		affinity_exec_end(own_);            \
		preempt_exec_end(begun_);           \
		errno = err_;                       \
		return r_;                          \
	} while (0)

GS_WRAP int execve(const char *path, char *const argv[], char *const envp[])
{
	EXEC_QUIETLY(REAL(execve)(path, argv, envp));
}

GS_WRAP int execv(const char *path, char *const argv[])
{
	EXEC_QUIETLY(REAL(execv)(path, argv));
}

GS_WRAP int execvp(const char *file, char *const argv[])
{
	EXEC_QUIETLY(REAL(execvp)(file, argv));
}

GS_WRAP int execvpe(const char *file, char *const argv[], char *const envp[])
{
	EXEC_QUIETLY(REAL(execvpe)(file, argv, envp));
}

GS_WRAP int fexecve(int fd, char *const argv[], char *const envp[])
{
	EXEC_QUIETLY(REAL(fexecve)(fd, argv, envp));
}

GS_WRAP int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		     int flags)
{
	EXEC_QUIETLY(REAL(execveat)(dirfd, path, argv, envp, flags));
}

/* posix_spawn and posix_spawnp (system and popen use them): libc's, with
 * the kernel's disposition of the runtime's signal the program's SIG_IGN
 * around them when the program ignores it (preempt_spawn_begin), for the
 * child to keep, and the caller's own CPU affinity on its OS thread, for
 * the child to start on. */
#define SPAWN_KEEPING_IGNORED(call)                         \
	do {                                                \
		bool begun_ = preempt_spawn_begin();        \
		bool own_ = affinity_exec_begin();          \
		bool mask_ = sigmask_exec_begin();          \
		int r_ = (call);                            \
		sigmask_exec_end(mask_);                    \
		affinity_exec_end(own_);                    \
		preempt_spawn_end(begun_);                  \
		return r_;                                  \
	} while (0)

GS_WRAP int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	SPAWN_KEEPING_IGNORED(REAL(posix_spawn)(pid, path, fa, attr, argv, envp));
}

GS_WRAP int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	SPAWN_KEEPING_IGNORED(REAL(posix_spawnp)(pid, file, fa, attr, argv, envp));
}

/* The arguments after arg0 up to and with the NULL, counted on a copy of
 * ap; then filled into argv (n + 1 entries, on the caller's stack, as
 * glibc does it: async-signal-safe, as POSIX has exec be). */
static size_t count_args(va_list ap)
{
	va_list count;
	size_t n = 1;

	va_copy(count, ap);
	while (va_arg(count, char *) != NULL)
		n++;
	va_end(count);
	return n;
}

#define FILL_ARGS(argv, n, arg0, ap)                          \
	do {                                                  \
		(argv)[0] = (char *)(arg0);                   \
		for (size_t k_ = 1; k_ <= (n); k_++)          \
			(argv)[k_] = va_arg(ap, char *);      \
	} while (0)

GS_WRAP int execl(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(ap);
	{
		char *argv[n + 1];

		FILL_ARGS(argv, n, arg0, ap);
		va_end(ap);
		return execv(path, argv);
	}
}

GS_WRAP int execlp(const char *file, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(ap);
	{
		char *argv[n + 1];

		FILL_ARGS(argv, n, arg0, ap);
		va_end(ap);
		return execvp(file, argv);
	}
}

GS_WRAP int execle(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg0);
	n = count_args(ap);
	{
		char *argv[n + 1], **envp;

		FILL_ARGS(argv, n, arg0, ap);
		envp = va_arg(ap, char **);
		va_end(ap);
		return execve(path, argv, envp);
	}
}

GS_WRAP int dlclose(void *handle)
{
	int r = REAL(dlclose)(handle);

	preempt_code_unloaded();
	return r;
}
