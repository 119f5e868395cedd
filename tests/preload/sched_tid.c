/*
 * An ordinary program whose threads read and set their own scheduling by
 * thread id, as GLib does for each thread it makes (the creator's
 * sched_getattr of its gettid, then sched_setattr of 0 in the new thread):
 * sched_getattr and sched_setattr through syscall() and by a raw syscall
 * instruction, sched_getscheduler, sched_getparam, sched_rr_get_interval,
 * getpriority and setpriority (PRIO_PROCESS), and ioprio_get, each given
 * gettid() of a thread other than main; then the id of a thread that has
 * ended. Prints what each call answered; the output must be the native
 * run's. Until 2026-12-07 greenshim passed the green id to the kernel,
 * which said ESRCH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct attr {
	uint32_t size;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

static long raw4(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

static void show(const char *what, long r)
{
	int err = errno;

	if (r < 0)
		printf("%s: -1 %s\n", what, strerror(err));
	else
		printf("%s: %ld\n", what, r);
}

static void show_raw(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, strerror((int)-r));
	else
		printf("%s: %ld\n", what, r);
}

static pid_t creator_tid;
static struct attr copied;

/* GLib's new thread: the creator's settings, set on itself. */
static void *glib_child(void *arg)
{
	show("new thread sched_setattr(0, the creator's)", syscall(SYS_sched_setattr, 0, &copied, 0));
	return arg;
}

static void *worker(void *unused)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct attr a;
	struct sched_param p;
	struct timespec ts;
	pthread_t t;

	(void)unused;

	memset(&a, 0, sizeof a);
	show("sched_getattr(gettid) through syscall()",
	     syscall(SYS_sched_getattr, tid, &a, sizeof a, 0));
	printf("  policy %u nice %d\n", a.policy, a.nice);
	memset(&a, 0, sizeof a);
	show_raw("sched_getattr(gettid) raw", raw4(SYS_sched_getattr, tid, (long)&a, sizeof a, 0));
	printf("  policy %u nice %d\n", a.policy, a.nice);
	show("sched_getscheduler(gettid)", sched_getscheduler(tid));
	show("sched_getparam(gettid)", sched_getparam(tid, &p));
	show("sched_rr_get_interval(gettid)", sched_rr_get_interval(tid, &ts));
	errno = 0;
	show("getpriority(PRIO_PROCESS, gettid)", getpriority(PRIO_PROCESS, (id_t)tid));
	show("setpriority(PRIO_PROCESS, gettid, 0)", setpriority(PRIO_PROCESS, (id_t)tid, 0));
	show("ioprio_get(IOPRIO_WHO_PROCESS, gettid) >= 0",
	     syscall(SYS_ioprio_get, 1, tid) >= 0 ? 1 : -1);
	/* As GLib makes a thread from this one. */
	creator_tid = tid;
	memset(&copied, 0, sizeof copied);
	show("creator sched_getattr(gettid)",
	     syscall(SYS_sched_getattr, creator_tid, &copied, sizeof copied, 0));
	pthread_create(&t, NULL, glib_child, NULL);
	pthread_join(t, NULL);
	return (void *)(intptr_t)tid;
}

int main(void)
{
	pthread_t t;
	void *ret;
	pid_t gone;
	struct attr a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, &ret);
	gone = (pid_t)(intptr_t)ret;
	/* Natively a thread id is not reused at once: ESRCH. */
	show("sched_getattr of a thread that has ended",
	     syscall(SYS_sched_getattr, gone, &a, sizeof a, 0));
	show("sched_getscheduler of a thread that has ended", sched_getscheduler(gone));
	return 0;
}
