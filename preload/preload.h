/*
 * greenshim interposition: the internal interface of preload/.
 *
 * Every wrapper has the same shape: if the caller may not park (the hub's
 * own context running libev, an OS thread of the runtime's, a process that
 * opted out), or the call cannot block (a regular file, a descriptor the
 * program made nonblocking), it is the real call and nothing else. Otherwise
 * the wrapper tries the call without blocking and, when the kernel says
 * EAGAIN, waits in the runtime (src/) and tries again. The real functions
 * come from one table, resolved once with dlsym(RTLD_NEXT) (real.c).
 *
 * Errors: the runtime returns negative errno values; wrappers turn them into
 * libc's convention (-1 and errno) with preload_fail(), in one place.
 */
#ifndef GS_PRELOAD_H
#define GS_PRELOAD_H

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ptrace.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "../src/runtime.h"

struct __res_state; /* resolv.h */
struct passwd;      /* pwd.h */
struct group;       /* grp.h */
struct sembuf;      /* sys/sem.h */
struct aiocb;       /* aio.h */

#define GS_WRAP GS_API /* an interposed libc symbol */

/* name, return type, parameter types: one line per real function. */
#define PRELOAD_REAL_FUNCS(X)                                                              \
	X(read, ssize_t, (int, void *, size_t))                                            \
	X(write, ssize_t, (int, const void *, size_t))                                     \
	X(readv, ssize_t, (int, const struct iovec *, int))                                \
	X(writev, ssize_t, (int, const struct iovec *, int))                               \
	X(pread, ssize_t, (int, void *, size_t, off_t))                                    \
	X(pwrite, ssize_t, (int, const void *, size_t, off_t))                             \
	X(preadv, ssize_t, (int, const struct iovec *, int, off_t))                        \
	X(pwritev, ssize_t, (int, const struct iovec *, int, off_t))                       \
	X(preadv2, ssize_t, (int, const struct iovec *, int, off_t, int))                  \
	X(pwritev2, ssize_t, (int, const struct iovec *, int, off_t, int))                 \
	X(getaddrinfo, int, (const char *, const char *, const struct addrinfo *,          \
			     struct addrinfo **))                                          \
	X(getnameinfo, int, (const struct sockaddr *, socklen_t, char *, socklen_t, char *, \
			     socklen_t, int))                                              \
	X(gethostbyname, struct hostent *, (const char *))                                 \
	X(gethostbyname2, struct hostent *, (const char *, int))                           \
	X(gethostbyaddr, struct hostent *, (const void *, socklen_t, int))                 \
	X(gethostbyname_r, int, (const char *, struct hostent *, char *, size_t,           \
				 struct hostent **, int *))                                \
	X(gethostbyname2_r, int, (const char *, int, struct hostent *, char *, size_t,     \
				  struct hostent **, int *))                               \
	X(gethostbyaddr_r, int, (const void *, socklen_t, int, struct hostent *, char *,   \
				 size_t, struct hostent **, int *))                        \
	X(res_query, int, (const char *, int, int, unsigned char *, int))                  \
	X(res_search, int, (const char *, int, int, unsigned char *, int))                 \
	X(res_querydomain, int, (const char *, const char *, int, int, unsigned char *, int)) \
	X(res_send, int, (const unsigned char *, int, unsigned char *, int))               \
	X(res_nquery, int, (struct __res_state *, const char *, int, int, unsigned char *, int)) \
	X(res_nsearch, int, (struct __res_state *, const char *, int, int, unsigned char *, int)) \
	X(res_nquerydomain, int, (struct __res_state *, const char *, const char *, int, int, \
				  unsigned char *, int))                                   \
	X(res_nsend, int, (struct __res_state *, const unsigned char *, int, unsigned char *, int)) \
	X(getpwnam, struct passwd *, (const char *))                                       \
	X(getpwuid, struct passwd *, (uid_t))                                              \
	X(getpwnam_r, int, (const char *, struct passwd *, char *, size_t, struct passwd **)) \
	X(getpwuid_r, int, (uid_t, struct passwd *, char *, size_t, struct passwd **))     \
	X(getgrnam, struct group *, (const char *))                                        \
	X(getgrgid, struct group *, (gid_t))                                               \
	X(getgrnam_r, int, (const char *, struct group *, char *, size_t, struct group **)) \
	X(getgrgid_r, int, (gid_t, struct group *, char *, size_t, struct group **))       \
	X(getgrouplist, int, (const char *, gid_t, gid_t *, int *))                        \
	X(getservbyname, struct servent *, (const char *, const char *))                   \
	X(getservbyport, struct servent *, (int, const char *))                            \
	X(getservbyname_r, int, (const char *, const char *, struct servent *, char *,     \
				 size_t, struct servent **))                               \
	X(getservbyport_r, int, (int, const char *, struct servent *, char *, size_t,      \
				 struct servent **))                                       \
	X(open, int, (const char *, int, ...))                                             \
	X(openat, int, (int, const char *, int, ...))                                      \
	X(__open_2, int, (const char *, int))                                              \
	X(__openat_2, int, (int, const char *, int))                                       \
	X(creat, int, (const char *, mode_t))                                              \
	X(fsync, int, (int))                                                               \
	X(fdatasync, int, (int))                                                           \
	X(syncfs, int, (int))                                                              \
	X(sync, void, (void))                                                              \
	X(sync_file_range, int, (int, off64_t, off64_t, unsigned int))                     \
	X(msync, int, (void *, size_t, int))                                               \
	X(socket, int, (int, int, int))                                                    \
	X(socketpair, int, (int, int, int, int *))                                         \
	X(accept, int, (int, struct sockaddr *, socklen_t *))                              \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int))                        \
	X(connect, int, (int, const struct sockaddr *, socklen_t))                         \
	X(recv, ssize_t, (int, void *, size_t, int))                                       \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *))  \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                                   \
	X(recvmmsg, int, (int, struct mmsghdr *, unsigned, int, struct timespec *))        \
	X(send, ssize_t, (int, const void *, size_t, int))                                 \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int))                             \
	X(sendmmsg, int, (int, struct mmsghdr *, unsigned, int))                           \
	X(sendfile, ssize_t, (int, int, off_t *, size_t))                                  \
	X(splice, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned))                 \
	X(shutdown, int, (int, int))                                                       \
	X(setsockopt, int, (int, int, int, const void *, socklen_t))                       \
	X(close, int, (int))                                                               \
	X(close_range, int, (unsigned, unsigned, int))                                     \
	X(dup, int, (int))                                                                 \
	X(dup2, int, (int, int))                                                           \
	X(dup3, int, (int, int, int))                                                      \
	X(fcntl, int, (int, int, ...))                                                     \
	X(flock, int, (int, int))                                                          \
	X(lockf, int, (int, int, off_t))                                                   \
	X(mq_timedreceive, ssize_t, (int, char *, size_t, unsigned *, const struct timespec *)) \
	X(mq_timedsend, int, (int, const char *, size_t, unsigned, const struct timespec *)) \
	X(msgrcv, ssize_t, (int, void *, size_t, long, int))                               \
	X(msgsnd, int, (int, const void *, size_t, int))                                   \
	X(semop, int, (int, struct sembuf *, size_t))                                      \
	X(semtimedop, int, (int, struct sembuf *, size_t, const struct timespec *))        \
	X(aio_suspend, int, (const struct aiocb *const[], int, const struct timespec *))   \
	X(ioctl, int, (int, unsigned long, ...))                                           \
	X(pipe, int, (int *))                                                              \
	X(pipe2, int, (int *, int))                                                        \
	X(eventfd, int, (unsigned, int))                                                   \
	X(epoll_create, int, (int))                                                        \
	X(epoll_create1, int, (int))                                                       \
	X(epoll_ctl, int, (int, int, int, struct epoll_event *))                           \
	X(fstat, int, (int, struct stat *))                                                \
	X(poll, int, (struct pollfd *, nfds_t, int))                                       \
	X(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *))              \
	X(pselect, int, (int, fd_set *, fd_set *, fd_set *, const struct timespec *,       \
			 const sigset_t *))                                                \
	X(epoll_wait, int, (int, struct epoll_event *, int, int))                          \
	X(epoll_pwait, int, (int, struct epoll_event *, int, int, const sigset_t *))       \
	X(epoll_pwait2, int, (int, struct epoll_event *, int, const struct timespec *,     \
			      const sigset_t *))                                           \
	X(nanosleep, int, (const struct timespec *, struct timespec *))                    \
	X(clock_gettime, int, (clockid_t, struct timespec *))                              \
	X(clock_getres, int, (clockid_t, struct timespec *))                               \
	X(getrusage, int, (__rusage_who_t, struct rusage *))                               \
	X(clock_nanosleep, int, (clockid_t, int, const struct timespec *, struct timespec *)) \
	X(sleep, unsigned, (unsigned))                                                     \
	X(usleep, int, (useconds_t))                                                       \
	X(sched_yield, int, (void))                                                       \
	X(pthread_create, int, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
	X(pthread_self, pthread_t, (void))                                                 \
	X(pthread_exit, void, (void *))                                                    \
	X(pthread_join, int, (pthread_t, void **))                                         \
	X(pthread_tryjoin_np, int, (pthread_t, void **))                                   \
	X(pthread_timedjoin_np, int, (pthread_t, void **, const struct timespec *))        \
	X(pthread_clockjoin_np, int, (pthread_t, void **, clockid_t, const struct timespec *)) \
	X(pthread_detach, int, (pthread_t))                                                \
	X(pthread_setname_np, int, (pthread_t, const char *))                              \
	X(pthread_getname_np, int, (pthread_t, char *, size_t))                            \
	X(prctl, int, (int, unsigned long, unsigned long, unsigned long, unsigned long))     \
	X(pthread_getattr_np, int, (pthread_t, pthread_attr_t *))                          \
	X(pthread_kill, int, (pthread_t, int))                                             \
	X(pthread_sigqueue, int, (pthread_t, int, const union sigval))                     \
	X(sigaction, int, (int, const struct sigaction *, struct sigaction *))               \
	X(siglongjmp, void, (struct __jmp_buf_tag *, int))                                  \
	X(longjmp, void, (struct __jmp_buf_tag *, int))                                     \
	X(_longjmp, void, (struct __jmp_buf_tag *, int))                                    \
	X(__longjmp_chk, void, (struct __jmp_buf_tag *, int))                               \
	X(sigprocmask, int, (int, const sigset_t *, sigset_t *))                              \
	X(wait4, pid_t, (pid_t, int *, int, struct rusage *))                                 \
	X(waitid, int, (idtype_t, id_t, siginfo_t *, int))                                    \
	X(system, int, (const char *))                                                        \
	X(ptrace, long, (enum __ptrace_request, pid_t, void *, void *))                       \
	X(execve, int, (const char *, char *const[], char *const[]))                          \
	X(unshare, int, (int))                                                                \
	X(setns, int, (int, int))                                                             \
	X(execv, int, (const char *, char *const[]))                                          \
	X(execvp, int, (const char *, char *const[]))                                         \
	X(execvpe, int, (const char *, char *const[], char *const[]))                         \
	X(fexecve, int, (int, char *const[], char *const[]))                                  \
	X(execveat, int, (int, const char *, char *const[], char *const[], int))              \
	X(posix_spawn, int,                                                                   \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,                         \
	   const posix_spawnattr_t *, char *const[], char *const[]))                           \
	X(posix_spawnp, int,                                                                  \
	  (pid_t *, const char *, const posix_spawn_file_actions_t *,                         \
	   const posix_spawnattr_t *, char *const[], char *const[]))                           \
	X(dlclose, int, (void *))                                                             \
	X(pthread_sigmask, int, (int, const sigset_t *, sigset_t *))                          \
	X(sigtimedwait, int, (const sigset_t *, siginfo_t *, const struct timespec *))        \
	X(sigwait, int, (const sigset_t *, int *))                                            \
	X(sigsuspend, int, (const sigset_t *))                                                \
	X(pause, int, (void))                                                                 \
	X(sigpending, int, (sigset_t *))                                                      \
	X(raise, int, (int))                                                                  \
	X(kill, int, (pid_t, int))                                                            \
	X(sigqueue, int, (pid_t, int, const union sigval))                                    \
	X(popen, FILE *, (const char *, const char *))                                        \
	X(pclose, int, (FILE *))                                                              \
	X(pthread_mutex_init, int, (pthread_mutex_t *, const pthread_mutexattr_t *))       \
	X(pthread_mutex_destroy, int, (pthread_mutex_t *))                                 \
	X(pthread_mutex_trylock, int, (pthread_mutex_t *))                                 \
	X(pthread_mutex_unlock, int, (pthread_mutex_t *))                                  \
	X(pthread_cond_init, int, (pthread_cond_t *, const pthread_condattr_t *))          \
	X(pthread_cond_destroy, int, (pthread_cond_t *))                                   \
	X(pthread_cond_wait, int, (pthread_cond_t *, pthread_mutex_t *))                   \
	X(pthread_cond_timedwait, int, (pthread_cond_t *, pthread_mutex_t *,               \
					 const struct timespec *))                         \
	X(pthread_cond_clockwait, int, (pthread_cond_t *, pthread_mutex_t *, clockid_t,    \
					 const struct timespec *))                         \
	X(pthread_cond_signal, int, (pthread_cond_t *))                                    \
	X(pthread_cond_broadcast, int, (pthread_cond_t *))                                 \
	X(sem_init, int, (sem_t *, int, unsigned))                                         \
	X(sem_destroy, int, (sem_t *))                                                     \
	X(sem_trywait, int, (sem_t *))                                                     \
	X(sem_post, int, (sem_t *))                                                        \
	X(sem_getvalue, int, (sem_t *, int *))                                             \
	X(pthread_once, int, (pthread_once_t *, void (*)(void)))                           \
	X(pthread_rwlock_init, int, (pthread_rwlock_t *, const pthread_rwlockattr_t *))    \
	X(pthread_rwlock_destroy, int, (pthread_rwlock_t *))                               \
	X(pthread_rwlock_tryrdlock, int, (pthread_rwlock_t *))                             \
	X(pthread_rwlock_trywrlock, int, (pthread_rwlock_t *))                             \
	X(pthread_rwlock_unlock, int, (pthread_rwlock_t *))                                \
	X(pthread_barrier_init, int, (pthread_barrier_t *, const pthread_barrierattr_t *,  \
				       unsigned))                                          \
	X(pthread_barrier_destroy, int, (pthread_barrier_t *))                             \
	X(pthread_barrier_wait, int, (pthread_barrier_t *))                                \
	X(gettid, pid_t, (void))                                                           \
	X(tgkill, int, (pid_t, pid_t, int))                                                \
	X(sched_setaffinity, int, (pid_t, size_t, const cpu_set_t *))                      \
	X(sched_getaffinity, int, (pid_t, size_t, cpu_set_t *))                            \
	X(syscall, long, (long, ...))                                                     \
	X(pthread_setschedparam, int, (pthread_t, int, const struct sched_param *))        \
	X(sched_setscheduler, int, (pid_t, int, const struct sched_param *))               \
	X(sched_getscheduler, int, (pid_t))                                                \
	X(sched_setparam, int, (pid_t, const struct sched_param *))                        \
	X(sched_getparam, int, (pid_t, struct sched_param *))                              \
	X(sched_rr_get_interval, int, (pid_t, struct timespec *))                          \
	X(getpriority, int, (__priority_which_t, id_t))                                    \
	X(setpriority, int, (__priority_which_t, id_t, int))                               \
	X(pthread_getschedparam, int, (pthread_t, int *, struct sched_param *))            \
	X(pthread_setschedprio, int, (pthread_t, int))                                     \
	X(pthread_setaffinity_np, int, (pthread_t, size_t, const cpu_set_t *))             \
	X(pthread_getaffinity_np, int, (pthread_t, size_t, cpu_set_t *))                   \
	X(pthread_getcpuclockid, int, (pthread_t, clockid_t *))                            \
	X(pthread_cancel, int, (pthread_t))                                                \
	X(pthread_setcancelstate, int, (int, int *))                                       \
	X(pthread_setcanceltype, int, (int, int *))                                        \
	X(pthread_testcancel, void, (void))                                                \
	X(pthread_mutex_lock, int, (pthread_mutex_t *))                                    \
	X(pthread_mutex_timedlock, int, (pthread_mutex_t *, const struct timespec *))      \
	X(pthread_mutex_clocklock, int, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
	X(sem_wait, int, (sem_t *))                                                        \
	X(sem_timedwait, int, (sem_t *, const struct timespec *))                          \
	X(sem_clockwait, int, (sem_t *, clockid_t, const struct timespec *))               \
	X(pthread_spin_lock, int, (pthread_spinlock_t *))                                  \
	X(pthread_rwlock_rdlock, int, (pthread_rwlock_t *))                                \
	X(pthread_rwlock_wrlock, int, (pthread_rwlock_t *))                                \
	X(pthread_rwlock_timedrdlock, int, (pthread_rwlock_t *, const struct timespec *))  \
	X(pthread_rwlock_timedwrlock, int, (pthread_rwlock_t *, const struct timespec *))  \
	X(pthread_rwlock_clockrdlock, int, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
	X(pthread_rwlock_clockwrlock, int, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
	X(pthread_key_create, int, (pthread_key_t *, void (*)(void *)))                    \
	X(pthread_key_delete, int, (pthread_key_t))                                        \
	X(pthread_getspecific, void *, (pthread_key_t))                                    \
	X(pthread_setspecific, int, (pthread_key_t, const void *))                         \
	PRELOAD_STDIO_FUNCS(X)

/* stdio.c's: the functions glibc answers when nothing can block. */
#define PRELOAD_STDIO_FUNCS(X)                                                             \
	X(fgetc, int, (FILE *))                                                            \
	X(flockfile, void, (FILE *))                                                       \
	X(ftrylockfile, int, (FILE *))                                                     \
	X(funlockfile, void, (FILE *))                                                     \
	X(getc, int, (FILE *))                                                             \
	X(getchar, int, (void))                                                            \
	X(fgetc_unlocked, int, (FILE *))                                                   \
	X(getc_unlocked, int, (FILE *))                                                    \
	X(getchar_unlocked, int, (void))                                                   \
	X(__uflow, int, (FILE *))                                                          \
	X(__underflow, int, (FILE *))                                                      \
	X(fgets, char *, (char *, int, FILE *))                                            \
	X(fgets_unlocked, char *, (char *, int, FILE *))                                   \
	X(__fgets_chk, char *, (char *, size_t, int, FILE *))                              \
	X(__fgets_unlocked_chk, char *, (char *, size_t, int, FILE *))                     \
	X(fread, size_t, (void *, size_t, size_t, FILE *))                                 \
	X(fread_unlocked, size_t, (void *, size_t, size_t, FILE *))                        \
	X(getdelim, ssize_t, (char **, size_t *, int, FILE *))                             \
	X(vfscanf, int, (FILE *, const char *, va_list))                                   \
	X(__isoc99_vfscanf, int, (FILE *, const char *, va_list))                          \
	X(fputc, int, (int, FILE *))                                                       \
	X(putc, int, (int, FILE *))                                                        \
	X(putchar, int, (int))                                                             \
	X(fputc_unlocked, int, (int, FILE *))                                              \
	X(putc_unlocked, int, (int, FILE *))                                               \
	X(putchar_unlocked, int, (int))                                                    \
	X(__overflow, int, (FILE *, int))                                                  \
	X(fwrite, size_t, (const void *, size_t, size_t, FILE *))                          \
	X(fwrite_unlocked, size_t, (const void *, size_t, size_t, FILE *))                 \
	X(fputs, int, (const char *, FILE *))                                              \
	X(fputs_unlocked, int, (const char *, FILE *))                                     \
	X(puts, int, (const char *))                                                       \
	X(fflush, int, (FILE *))                                                           \
	X(fflush_unlocked, int, (FILE *))                                                  \
	X(fclose, int, (FILE *))                                                           \
	X(ungetc, int, (int, FILE *))                                                             \
	X(fseek, int, (FILE *, long, int))                                                        \
	X(fseeko, int, (FILE *, off_t, int))                                                      \
	X(fseeko64, int, (FILE *, off64_t, int))                                                  \
	X(ftell, long, (FILE *))                                                                  \
	X(ftello, off_t, (FILE *))                                                                \
	X(ftello64, off64_t, (FILE *))                                                            \
	X(rewind, void, (FILE *))                                                                 \
	X(fgetpos, int, (FILE *, fpos_t *))                                                       \
	X(fgetpos64, int, (FILE *, fpos64_t *))                                                   \
	X(fsetpos, int, (FILE *, const fpos_t *))                                                 \
	X(fsetpos64, int, (FILE *, const fpos64_t *))                                             \
	X(feof, int, (FILE *))                                                                    \
	X(ferror, int, (FILE *))                                                                  \
	X(clearerr, void, (FILE *))                                                               \
	X(setvbuf, int, (FILE *, char *, int, size_t))                                            \
	X(vfprintf, int, (FILE *, const char *, va_list))                                  \
	X(__vfprintf_chk, int, (FILE *, int, const char *, va_list))                       \
	X(vdprintf, int, (int, const char *, va_list))                                     \
	X(__vdprintf_chk, int, (int, int, const char *, va_list))

struct real_fns {
#define PRELOAD_REAL_FIELD(name, ret, args) ret(*name) args;
	PRELOAD_REAL_FUNCS(PRELOAD_REAL_FIELD)
#undef PRELOAD_REAL_FIELD
};

extern struct real_fns real;

/* real.c: fills `real`; safe to call again, from any thread. */
void preload_resolve(void);

#define REAL(name) (GS_LIKELY(real.name != NULL) ? (void)0 : preload_resolve(), real.name)

/* glibc's _FORTIFY_SOURCE entry points (every Debian package is built
 * with it): checked forms of the calls we interpose. */
extern void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
int __open_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *addrlen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen);

/* The value of a call that may have waited, in an interposed function's
 * return statement: first an idle hub may take the calling thread from
 * this busy one (sched_settle), or the thread is preempted here if the
 * last tick could not (preempt_at_return: a loop of calls that never wait
 * spends its time in libc and greenshim, where ticks fall). The return
 * address says where the call came from, so only in the exported
 * function itself. */
#define PRELOAD_SETTLED(call)                                                             \
	({                                                                               \
		__typeof__(call) s_ = (call);                                            \
		sched_settle((uintptr_t)__builtin_return_address(0));                   \
		preempt_at_return((uintptr_t)__builtin_return_address(0));              \
		s_;                                                                      \
	})

/* Evaluates a call again while it fails with EINTR that no handler of the
 * program caused: a preemption tick (src/preempt.c) interrupts even a
 * zero-timeout poll or select, and is not the program's signal. */
#define PRELOAD_NO_TICK_EINTR(call)                                                      \
	({                                                                               \
		struct hub *h_ = hub_peek();                                             \
		unsigned long seen_ = h_ != NULL ? hub_program_signals(h_) : 0;         \
		__typeof__(call) r_;                                                     \
		do                                                                       \
			r_ = (call);                                                     \
		while (r_ < 0 && errno == EINTR && h_ != NULL &&                         \
		       hub_program_signals(h_) == seen_);                               \
		r_;                                                                      \
	})

/* thread.c: the calling green thread has a cancellation due (its wait at
 * a cancellation point ended with -ECANCELED, src/waitq.c): it ends now,
 * as glibc ends a cancelled thread, its cleanup handlers and C++
 * destructors run by unwinding its stack. Returns if it has none due. */
void preload_cancel_act(void);
/* The same for g, the calling thread (the preemption tick's hook). */
void preload_cancel_green(struct green *g);
/* The runtime's run hook (green_set_run_hook): a green thread's start
 * routine inside the bottom of its cleanup chain. */
void *preload_pthread_run(struct green *g);
/* g ends (green_exit's hook): its keys' destructors run (tsd.c); the
 * robust mutexes it still holds are marked as a dead owner's (sync.c). */
void tsd_thread_exit(struct green *g);
void sync_thread_exit(struct green *g);

/* CPU affinity per green thread (affinity.c). Whose a call names: a green
 * thread g (id: its id then) of a hub that runs the program's threads,
 * the main thread, or else the OS thread pid (0: the caller's). */
struct aff_who {
	struct green *g;
	uint64_t id;
	bool main;
	pid_t pid;
};
void affinity_init(void);
/* The calling green thread, not a root or a hub's context; NULL if none
 * (thread.c). */
struct green *preload_self_green(void);
void affinity_of_green(struct aff_who *w, struct green *g, uint64_t id, struct hub *on);
/* pid as the kernel takes it: 0 is the caller (a green thread, or main). */
void affinity_of_pid(struct aff_who *w, pid_t pid);
/* Is t the main thread's pthread_t? Then w names it. */
bool affinity_of_main(struct aff_who *w, pthread_t t);
/* 0 or a negative errno, the kernel's. */
int affinity_set(const struct aff_who *w, size_t size, const cpu_set_t *set);
int affinity_get(const struct aff_who *w, size_t size, cpu_set_t *set);
/* Around the making of a thread by the caller: its mask is attr's, or
 * the caller's. begin: 0, or the kernel's error for attr's mask (nothing
 * to end then); end: g, the thread made, or NULL. */
struct aff_spawn {
	bool locked, has;
	cpu_set_t set;
	sigset_t old; /* the signal mask while locked */
};
int affinity_spawn_begin(struct aff_spawn *s, const pthread_attr_t *attr);
void affinity_spawn_end(struct aff_spawn *s, struct green *g);
void affinity_thread_exit(struct green *g);
void affinity_fork_child(struct green *self);
/* Around an exec: the caller's OS thread gets the caller's own mask, the
 * one the new program starts on (begin: true if it did), and the hubs'
 * again if the exec returns. */
bool affinity_exec_begin(void);
void affinity_exec_end(bool own);
/* pthread_atfork's handlers of the runtime's (init.c), which the vfork
 * wrapper calls itself around _Fork. */
void preload_fork_prepare(void);
void preload_fork_parent(void);
void preload_fork_child(void);

/* In a child just forked: no green thread holds a robust mutex there. */
void sync_fork_child(void);

/* Sets errno from a negative runtime result and returns -1. The one place
 * where a wait's -ECANCELED meets the wrapper that asked for it, its
 * runtime state cleaned up: the cancellation acts here (but inside a
 * stdio call, which acts once it has let its FILE go). */
static inline int preload_fail(int neg_errno)
{
	if (GS_UNLIKELY(neg_errno == -ECANCELED))
		preload_cancel_act();
	errno = -neg_errno;
	return -1;
}

/* ---- context.c: may this caller park? ---------------------------------- */

/* GREENSHIM_THREADS=native: threads, locks and keys are glibc's own, and
 * each OS thread gets a hub of its own for its I/O (docs/CONFIG.md). The
 * runtime's own OS threads (src/osthread.c) always get glibc's. */
static inline bool preload_native(void)
{
	config_load(); /* a wrapper may run before our constructor */
	return gs_config.native_threads || osthread_is_runtime();
}

/* The hub to wait in, or NULL when the caller must get plain libc
 * behaviour: the hub's own context (libev calling libc), one of the
 * runtime's own OS threads, or a hub that cannot be made. */
struct hub *preload_hub(void);

/* pool_call for the wrappers: the pool's threads use libc's primitives
 * (os_ops), which preload_resolve() installs; until then os_ops would name
 * our own wrappers (green threads, green mutexes). */
static inline void preload_pool_call(void (*fn)(void *), void *arg)
{
	if (GS_UNLIKELY(real.pthread_create == NULL || os_ops.create != real.pthread_create))
		preload_resolve();
	pool_call(fn, arg);
}

/* ---- rawsys.c, uring.c: raw system calls made green (src/trap.c) ------ */

void preload_rawsys_init(void);
/* thread.c: is the code at pc in a library whose threads stay native
 * (OpenMP's runtimes, GREENSHIM_NATIVE_LIBS)? */
bool preload_native_code(const void *pc);
/* A call through libc's syscall() on a green thread, from code at caller:
 * made as a trapped one is (rawsys.c), the kernel-style result in *ret;
 * false for the numbers it leaves to the caller (syscall()'s own cases,
 * and those made as asked). */
bool preload_syscall_green(long nr, const long a[6], const void *caller, long *ret);
/* A trapped io_uring_enter: the kernel-style result. */
long preload_uring_enter(const long a[6]);
/* A trapped io_uring_setup (or one through syscall()): made, and the rings
 * that only io_uring_enter reaps noted. */
long preload_uring_setup(const long a[6]);

/* ---- thread.c: thread ids ------------------------------------------- */

/* The kernel-style id of a green thread (gettid): distinct from every real
 * thread id, since it is above PID_MAX_LIMIT. */
#define PRELOAD_GREEN_TID_BASE 0x40000000
/* syscall(SYS_gettid), syscall(SYS_tgkill / SYS_tkill): -1 and errno, as
 * the syscall() function; a tid that is no green thread's sets
 * *is_real (the caller makes the real call). */
long preload_gettid(void);
/* The thread id to give the kernel for a call that acts on one thread (its
 * scheduling, nice value, I/O priority): a green thread's id stands for the
 * caller's OS thread (0), as a green pthread_t does for
 * pthread_setschedparam; -ESRCH if it names no live green thread. */
long preload_sched_tid(long tid);
long preload_tgkill(pid_t tgid, pid_t tid, int sig, bool *is_real);
/* A thread's CPU clock id (pthread_getcpuclockid's: the kernel's encoding
 * of a thread id) that names a green thread or the main thread: 0, with
 * its CPU time in *ns unless ns is NULL; -EINVAL: a green thread's id that
 * no live thread has; 1: none of theirs (the kernel's clock). */
int preload_thread_clock(clockid_t clk, int64_t *ns);

/* ---- dns.c: name lookups on the pool --------------------------------- */

/* In a child just forked: the resolver-state locks are free again. */
void dns_fork_child(void);

/* ---- fdtab.c: what each fd is, as the wrappers need to know ------------- */

enum fd_kind {
	FD_UNKNOWN = 0, /* not looked at yet, or not open */
	FD_PLAIN,       /* never blocks or cannot be polled: call through */
	FD_RUNTIME,     /* the runtime's own (libev's epoll and eventfd) */
	/* The kinds from here on can wait (fd_waits()). */
	FD_STREAM,      /* stream socket: MSG_DONTWAIT, all-or-timeout writes */
	FD_DGRAM,       /* datagram or seqpacket socket: MSG_DONTWAIT */
	FD_PIPE,        /* pipe or FIFO: RWF_NOWAIT, all-or-timeout writes */
	FD_POLLED,      /* other pollable (tty, eventfd...): poll, then call */
};

/* Reads in a row that found uncounted bytes before a channel's reads stop
 * waiting first (struct fdent, surprises). */
#define UNCOUNTED_READS 3

struct fdent {
	unsigned char kind;      /* enum fd_kind */
	bool user_nonblock;      /* O_NONBLOCK as the program set it */
	bool sys_nonblock;       /* we set O_NONBLOCK on the description */
	bool read_waits_first;   /* the last read found nothing (a stream
				  * socket), or the last epoll wait parked
				  * long (an epoll fd): wait first */
	bool shared;             /* another fd was made from it (or it from
				  * another) by dup, dup2, dup3 or F_DUPFD */
	bool disk;               /* FD_PLAIN regular file or block device:
				  * GREENSHIM_FILE_IO=pool sends its I/O to
				  * the pool (file.c) */
	bool dsync;              /* disk, opened with O_SYNC or O_DSYNC: each
				  * write waits for the disk (file.c) */
	unsigned short flushing; /* flushes of it on the pool now (atomic):
				  * its writes go there meanwhile (file.c) */
	int64_t timeo_ns[2];     /* SO_RCVTIMEO, SO_SNDTIMEO; 0 for none */
	uint32_t desc;           /* the open file description, as far as the
				  * wrappers saw it made and duplicated: fds
				  * with the same desc share O_NONBLOCK */
	/* The end that a write here makes readable, for a pipe, socketpair
	 * or eventfd made in this process (the fd number and its desc when
	 * made; -1: none): its reader is woken at once (fdtab_wake_peer). */
	int peer;
	uint32_t peer_desc;
	/* A reader's side: some end's write makes this fd readable
	 * (fdtab_peer), and the last green thread to park reading it is
	 * named in parked, under park_lock (a gsync_lock), for a writer of
	 * another hub to end its wait at once (fdtab_wake_peer). */
	bool peered;
	uint16_t park_lock;
	struct wait *parked;
	/* A reader's side too: bytes that green threads' writes moved into
	 * its channel through the wrappers (fdtab_wake_peer), less those its
	 * reads took out (atomic). Zero says the channel is most likely empty:
	 * a read waits before it tries (preload_xfer). Only a hint: what other
	 * processes, raw system calls or non-blocking writes put there is not
	 * counted, and the loop's poll reports it. surprises counts the
	 * reads in a row that found more than was counted (one alone may be a
	 * writer of another hub between its write and its count); from
	 * UNCOUNTED_READS of them on, its reads try first again, as other
	 * fds' do. */
	long unread;
	unsigned char surprises;
};

/* The entry of fd, classified on first use; NULL for a negative or
 * out-of-range fd (callers then make the real call and get EBADF). */
struct fdent *fdtab_get(int fd);
/* A new fd made by a wrapper: kind known, O_NONBLOCK as given, no socket
 * timeouts; returns its entry (NULL out of range). */
struct fdent *fdtab_set(int fd, enum fd_kind kind, bool user_nonblock, bool sys_nonblock);
/* A write to writer makes reader readable: two ends of a channel made
 * here (a pipe's, a socketpair's either way, an eventfd's one fd). */
void fdtab_peer(int writer, int reader);
/* After a write to e's fd that moved bytes, on hub h: the green threads
 * of h waiting to read the other end are woken now, as the next poll
 * would wake them (src/fdwait.c, fdw_ready); a thread of another hub
 * parked reading it (fdtab_park) has its wait ended, posted to its hub
 * without a trip through that hub's epoll. */
void fdtab_wake_peer(struct hub *h, const struct fdent *e, size_t moved);
/* The calling thread parks in w reading e's fd (e->peered) / is back. */
void fdtab_park(struct fdent *e, struct wait *w);
void fdtab_unpark(struct fdent *e, struct wait *w);
/* fd is being closed (or replaced by dup2): forget it, wake its waiters. */
void fdtab_forget(int fd);
/* An fd a wrapper makes for the length of one wait (a pidfd, a signalfd),
 * the runtime's own until preload_runtime_fd_close: moved at once to the top
 * of the numbers below 1024 and hidden from the program's calls, as the
 * hubs' fds are, so that the program's opens meanwhile get their native
 * numbers and its close_range and dup2 leave it alone (fd.c). A negative
 * fd is returned as it is. */
int preload_runtime_fd(int fd);
void preload_runtime_fd_close(int fd);
/* The highest fd number ever given an entry (0 if none). */
int fdtab_top_fd(void);
/* to is a new number for from's open file description (dup, dup2, dup3,
 * F_DUPFD): the same entry. */
void fdtab_copy(int from, int to);
/* The program set (on) or cleared O_NONBLOCK through fd: the description's
 * flag, so every fd known to share it sees the change, as in the kernel. */
void fdtab_set_nonblock(int fd, bool on);

/* ---- io.c: the blocking contract over non-blocking attempts ------------ */

/* What a socket call adds to a transfer: its msghdr (name, control,
 * flags out) and its send/recv flags. */
struct xfer {
	struct msghdr *msg;
	int flags;
	bool whole_msg; /* recvmsg/sendmsg: msg_flags and control matter */
};

/* Reads (EV_READ) or writes (EV_WRITE) as the blocking call would, on an
 * fd that waits; x is NULL for read/write, the socket call's for recv*,
 * send*. */
ssize_t preload_xfer(struct hub *h, int fd, struct fdent *e, int events,
		     const struct iovec *iov, int n, struct xfer *x);

static inline bool fd_waits(const struct fdent *e)
{
	return e != NULL && e->kind >= FD_STREAM && !e->user_nonblock;
}

/* ---- file.c: GREENSHIM_FILE_IO=pool ------------------------------------ */

/* Does fd's I/O run on the pool (a regular file or block device, with
 * GREENSHIM_FILE_IO=pool)? With `direct`, one test of a flag. */
bool preload_file_on_pool(int fd);
#define PRELOAD_FILE_POOL(fd) (GS_UNLIKELY(gs_config.file_io_pool) && preload_file_on_pool(fd))
/* Does a write to fd run on the pool? As PRELOAD_FILE_POOL, or with
 * `direct` when the caller's hub is shared and fd was opened with O_SYNC
 * or O_DSYNC or a flush of it runs there (file.c, flush()). Until some
 * flush went there or some such descriptor was seen, one test of a
 * flag. */
extern bool preload_file_write_check;
bool preload_file_write_on_pool(int fd);
#define PRELOAD_FILE_POOL_WRITE(fd)                                                                \
	(GS_UNLIKELY(gs_config.file_io_pool ||                                                     \
		     __atomic_load_n(&preload_file_write_check, __ATOMIC_RELAXED)) &&                \
	 preload_file_write_on_pool(fd))
/* From now on PRELOAD_FILE_POOL_WRITE asks preload_file_write_on_pool:
 * fdtab.c classified a descriptor opened with O_SYNC or O_DSYNC, or a
 * flush went to the pool. */
void preload_file_check_writes(void);
/* The read or write (events EV_READ or EV_WRITE) of iov[0..iovcnt), at
 * off if positional, on the pool: the call's result and errno. */
ssize_t preload_file_xfer(int fd, int events, const struct iovec *iov, int iovcnt,
			  bool positional, off_t off);

/* ---- wait.c: the shared slow path -------------------------------------- */

/* Waits until fd is ready for events (EV_READ or EV_WRITE) or the deadline:
 * 0, -ETIMEDOUT, -EBADF, or for a handled signal -EINTR or WAKE_SIGNAL
 * (the handler has SA_RESTART). */
int preload_wait_fd(struct hub *h, int fd, int events, int64_t deadline, unsigned flags);
/* The same, for a read of a peered fd (e): a writer of another hub may
 * end the wait directly (fdtab_park). */
int preload_wait_fd_peered(struct hub *h, int fd, struct fdent *e, int events, int64_t deadline,
			   unsigned flags);
/* The deadline of SO_RCVTIMEO (EV_READ) or SO_SNDTIMEO (EV_WRITE) of a
 * socket, from now; GS_NO_DEADLINE when unset. */
int64_t preload_sock_deadline(const struct fdent *e, int events);
/* struct timespec, relative, to a deadline; NULL is forever. */
int64_t preload_ts_deadline(const struct timespec *ts);
/* An absolute time on clk (CLOCK_REALTIME or CLOCK_MONOTONIC) as a
 * deadline, turned into a duration now; -EINVAL for an invalid time. */
int64_t preload_abs_deadline(clockid_t clk, const struct timespec *abstime);
/* The blocking system call call[0] (arguments call[1..5]) on a worker of
 * the pool while the green thread waits parked (pool_syscall_intr): its
 * result, or -1 and errno. A handler without SA_RESTART ends the wait with
 * EINTR; one with it makes the call again if restarts (the call is one the
 * kernel restarts), else EINTR too. cancelpoint: a cancellation ends the
 * wait and acts. */
long preload_pool_syscall(const long call[6], bool cancelpoint, bool restarts);
/* May a blocking call of this caller hold its OS thread? Yes when nothing
 * else runs there or needs it: no hub, native threads, or the process's
 * only program thread (sched_alone: a single-threaded server's lock or
 * semaphore wait costs no worker). */
static inline bool preload_blocks_alone(void)
{
	struct hub *h;

	if (preload_native())
		return true;
	h = hub_peek();
	return h == NULL || sched_alone(h);
}
/* After a wait of a call that restarts under SA_RESTART (accept, connect,
 * read, write, recv*, send*): 1 to wait again, or -1 with errno set (the
 * deadline passed: EAGAIN; a signal: EINTR, also with SA_RESTART if the
 * socket has a timeout, as socket(7) says). */
int preload_wait_result(int r, bool has_timeout);

/* ---- stdio.c -------------------------------------------------------- */

/* In a child just forked: no other green thread is inside a stdio call
 * (glibc resets the FILE locks in a child likewise). */
void stdio_fork_child(void);

#endif
