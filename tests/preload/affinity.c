/* CPU affinity is per thread: what must hold natively and under greenshim
 * with one hub or several. An ordinary program; nothing here knows of
 * greenshim. "first" and "last" are the first and last CPUs of the
 * process's mask at start (one CPU: the same; the checks then hold
 * trivially).
 *   own_mask   a thread that pins itself reads back its own mask, by 0,
 *              by its kernel id and by its pthread_t, and the main
 *              thread's and a third thread's stay as they were; a mask
 *              set from another thread (pthread_setaffinity_np) is the
 *              target's; a thread inherits its creator's mask, or its
 *              attribute's (pthread_attr_setaffinity_np) (under greenshim
 *              until 2026-12-07 the call pinned the OS thread of the
 *              caller's hub, which every thread of that hub read back)
 *   main_pins  the main thread pins itself after making two threads: they
 *              keep the whole mask
 *   confine    the main thread pins itself to "last" before it makes
 *              threads: they inherit it, and every sample of sched_getcpu
 *              in them, as they compute and sleep, is "last"
 *   errors     an empty mask, a mask of CPUs the process may not use and
 *              a bad pointer are EINVAL, EINVAL and EFAULT (as errno, and
 *              as pthread_setaffinity_np's result), a size not a multiple
 *              of a long EINVAL, an id no thread has ESRCH; nothing
 *              changes
 *   fork       a thread pinned to "last" forks: the child's one thread
 *              has that mask and runs on that CPU
 *   exec       a thread pinned to "last" execs this program again while
 *              another, unpinned, waits: the new program starts with that
 *              mask (stage 2: AFFINITY_EXEC_STAGE in the environment)
 *   spawn      the same through posix_spawn: the child starts with the
 *              spawning thread's mask
 *   handler    a SIGALRM handler that reads the mask, run every 50 us
 *              while the main thread sets its mask 20,000 times and
 *              another thread has one of its own: it ends (under
 *              greenshim a handler that interrupted a call holding the
 *              lock on masks spun on it for ever until 2026-12-07)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case.h"

static cpu_set_t all; /* the process's mask at start */
static int first_cpu, last_cpu;

static void start(void)
{
	CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity: %d", errno);
	first_cpu = -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &all)) {
			if (first_cpu < 0)
				first_cpu = c;
			last_cpu = c;
		}
	}
	CHECK(first_cpu >= 0, "no CPU in the mask");
}

static cpu_set_t one(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return s;
}

/* The mask the calling thread reads of itself, three ways, which agree. */
static cpu_set_t own(void)
{
	cpu_set_t a, b, c;

	CHECK(sched_getaffinity(0, sizeof a, &a) == 0, "sched_getaffinity(0): %d", errno);
	CHECK(sched_getaffinity(gettid(), sizeof b, &b) == 0, "by id: %d", errno);
	CHECK(pthread_getaffinity_np(pthread_self(), sizeof c, &c) == 0, "pthread_getaffinity_np");
	CHECK(CPU_EQUAL(&a, &b) && CPU_EQUAL(&a, &c), "the three ways disagree");
	return a;
}

static bool same(cpu_set_t a, cpu_set_t b)
{
	return CPU_EQUAL(&a, &b);
}

/* ---- own_mask ---- */

static pthread_barrier_t step;
static pthread_t t_self_pinner, t_other;
static pid_t other_tid;

static void *inherits(void *want)
{
	CHECK(same(own(), *(cpu_set_t *)want), "a new thread's mask is not its creator's");
	return NULL;
}

static void *self_pinner(void *unused)
{
	cpu_set_t f = one(first_cpu), got;
	pthread_t child;

	(void)unused;
	CHECK(sched_setaffinity(0, sizeof f, &f) == 0, "sched_setaffinity(0): %d", errno);
	CHECK(same(own(), f), "its own mask is not what it set");
	pthread_barrier_wait(&step); /* 1: pinned */
	pthread_barrier_wait(&step); /* 2: the others checked theirs */
	CHECK(pthread_create(&child, NULL, inherits, &f) == 0, "pthread_create");
	pthread_join(child, NULL);
	CHECK(sched_getaffinity(0, sizeof got, &got) == 0 && same(got, f), "changed meanwhile");
	pthread_barrier_wait(&step); /* 3 */
	pthread_barrier_wait(&step); /* 4 */
	CHECK(same(own(), f), "another thread's mask set from main changed this one's");
	return NULL;
}

static void *other(void *unused)
{
	(void)unused;
	other_tid = gettid();
	pthread_barrier_wait(&step); /* 1 */
	CHECK(same(own(), all), "another thread's pin changed this one's mask");
	pthread_barrier_wait(&step); /* 2 */
	pthread_barrier_wait(&step); /* 3: main set this one's mask */
	CHECK(same(own(), one(last_cpu)), "a mask set from another thread is not this one's");
	pthread_barrier_wait(&step); /* 4 */
	return NULL;
}

static void case_own_mask(void)
{
	cpu_set_t l = one(last_cpu), got, f = one(first_cpu);
	pthread_attr_t a;
	pthread_t t;

	pthread_barrier_init(&step, NULL, 3);
	CHECK(pthread_create(&t_self_pinner, NULL, self_pinner, NULL) == 0, "pthread_create");
	CHECK(pthread_create(&t_other, NULL, other, NULL) == 0, "pthread_create");
	pthread_barrier_wait(&step); /* 1 */
	CHECK(same(own(), all), "another thread's pin changed the main thread's mask");
	CHECK(pthread_getaffinity_np(t_self_pinner, sizeof got, &got) == 0 && same(got, f),
	      "pthread_getaffinity_np of the pinned thread is not its mask");
	pthread_barrier_wait(&step); /* 2 */
	CHECK(pthread_setaffinity_np(t_other, sizeof l, &l) == 0, "pthread_setaffinity_np");
	CHECK(pthread_getaffinity_np(t_other, sizeof got, &got) == 0 && same(got, l),
	      "pthread_getaffinity_np after pthread_setaffinity_np");
	CHECK(sched_getaffinity(other_tid, sizeof got, &got) == 0 && same(got, l),
	      "sched_getaffinity by its id after pthread_setaffinity_np");
	CHECK(same(own(), all), "setting another's mask changed the main thread's");
	pthread_barrier_wait(&step); /* 3 */
	pthread_barrier_wait(&step); /* 4 */
	pthread_join(t_self_pinner, NULL);
	pthread_join(t_other, NULL);
	/* An attribute's mask, over the creator's. */
	pthread_attr_init(&a);
	CHECK(pthread_attr_setaffinity_np(&a, sizeof l, &l) == 0, "pthread_attr_setaffinity_np");
	CHECK(pthread_create(&t, &a, inherits, &l) == 0, "pthread_create with a mask");
	pthread_join(t, NULL);
	pthread_attr_destroy(&a);
	CHECK(same(own(), all), "a new thread's attribute changed the main thread's mask");
}

/* ---- main_pins ---- */

static void *keeps_all(void *unused)
{
	(void)unused;
	pthread_barrier_wait(&step); /* main pins itself */
	pthread_barrier_wait(&step);
	CHECK(same(own(), all), "the main thread's pin changed a thread made before");
	return NULL;
}

static void case_main_pins(void)
{
	cpu_set_t f = one(first_cpu);
	pthread_t t[2];

	pthread_barrier_init(&step, NULL, 3);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, keeps_all, NULL) == 0, "pthread_create");
	pthread_barrier_wait(&step);
	CHECK(sched_setaffinity(0, sizeof f, &f) == 0, "sched_setaffinity: %d", errno);
	CHECK(same(own(), f), "the main thread's own mask");
	pthread_barrier_wait(&step);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(same(own(), f), "the main thread's mask changed");
}

/* ---- confine ---- */

static void *samples_cpu(void *unused)
{
	(void)unused;
	CHECK(same(own(), one(last_cpu)), "a thread made after the pin has another mask");
	for (int round = 0; round < 20; round++) {
		double until = now_ms() + 2;

		while (now_ms() < until)
			CHECK(sched_getcpu() == last_cpu, "ran on CPU %d", sched_getcpu());
		usleep(500);
		CHECK(sched_getcpu() == last_cpu, "woke on CPU %d", sched_getcpu());
	}
	return NULL;
}

static void case_confine(void)
{
	cpu_set_t l = one(last_cpu);
	pthread_t t[4];

	CHECK(sched_setaffinity(0, sizeof l, &l) == 0, "sched_setaffinity: %d", errno);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, samples_cpu, NULL) == 0, "pthread_create");
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(sched_getcpu() == last_cpu, "main on CPU %d", sched_getcpu());
}

/* ---- errors ---- */

static void errors_here(const char *who)
{
	cpu_set_t none, outside, got;
	int r;

	CPU_ZERO(&none);
	CPU_ZERO(&outside);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (!CPU_ISSET(c, &all))
			CPU_SET(c, &outside);
	errno = 0;
	CHECK(sched_setaffinity(0, sizeof none, &none) == -1 && errno == EINVAL,
	      "%s: an empty mask: errno %d", who, errno);
	errno = 0;
	CHECK(sched_setaffinity(0, sizeof outside, &outside) == -1 && errno == EINVAL,
	      "%s: CPUs it may not use: errno %d", who, errno);
	errno = 0;
	CHECK(sched_setaffinity(0, sizeof none, (cpu_set_t *)8) == -1 && errno == EFAULT,
	      "%s: a bad pointer: errno %d", who, errno);
	r = pthread_setaffinity_np(pthread_self(), sizeof none, &none);
	CHECK(r == EINVAL, "%s: pthread_setaffinity_np of an empty mask: %d", who, r);
	errno = 0;
	CHECK(sched_getaffinity(0, 3, &got) == -1 && errno == EINVAL,
	      "%s: a size of 3 bytes: errno %d", who, errno);
	errno = 0;
	CHECK(sched_getaffinity(0, sizeof got, (cpu_set_t *)8) == -1 && errno == EFAULT,
	      "%s: sched_getaffinity to a bad pointer: errno %d", who, errno);
	errno = 0;
	CHECK(sched_getaffinity(999999999, sizeof got, &got) == -1 && errno == ESRCH,
	      "%s: an id no thread has: errno %d", who, errno);
	CHECK(same(own(), all), "%s: a refused mask changed the mask", who);
}

static void *errors_thread(void *unused)
{
	(void)unused;
	errors_here("a thread");
	return NULL;
}

static void case_errors(void)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, errors_thread, NULL) == 0, "pthread_create");
	pthread_join(t, NULL);
	errors_here("main");
}

/* ---- fork ---- */

static void *forks(void *unused)
{
	cpu_set_t l = one(last_cpu);
	int status;
	pid_t pid;

	(void)unused;
	CHECK(sched_setaffinity(0, sizeof l, &l) == 0, "sched_setaffinity: %d", errno);
	pid = fork();
	if (pid == 0) {
		cpu_set_t got;
		double until = now_ms() + 20;

		if (sched_getaffinity(0, sizeof got, &got) != 0 || !CPU_EQUAL(&got, &l))
			_exit(3);
		while (now_ms() < until)
			if (sched_getcpu() != last_cpu)
				_exit(4);
		_exit(0);
	}
	CHECK(pid > 0, "fork: %d", errno);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child: status %#x", status);
	return NULL;
}

static void case_fork(void)
{
	pthread_t t[2];

	/* A second thread that stays unpinned: the hubs are not confined. */
	CHECK(pthread_create(&t[0], NULL, forks, NULL) == 0, "pthread_create");
	CHECK(pthread_create(&t[1], NULL, errors_thread, NULL) == 0, "pthread_create");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(same(own(), all), "the main thread's mask changed");
}

/* ---- exec ---- */

static char *self_path;

static void *execs(void *unused)
{
	cpu_set_t l = one(last_cpu);
	char *argv[] = { self_path, "exec", NULL };
	char last[16];

	(void)unused;
	CHECK(sched_setaffinity(0, sizeof l, &l) == 0, "sched_setaffinity: %d", errno);
	snprintf(last, sizeof last, "%d", last_cpu);
	setenv("AFFINITY_EXEC_STAGE_LAST", last, 1);
	setenv("AFFINITY_EXEC_STAGE", "2", 1);
	execv("/proc/self/exe", argv);
	CHECK(0, "execv: %d", errno);
	return NULL;
}

static void *waits(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return NULL;
}

/* The exec and spawn cases: in the new program (stage 2), its mask is the
 * thread's that started it; else a thread pins itself to "last" and runs
 * starts, which starts this program again, while another thread with no
 * mask of its own lives on, so that the hubs keep every CPU. */
static void starts_program(void *(*starts)(void *))
{
	pthread_t t[2];

	if (getenv("AFFINITY_EXEC_STAGE") != NULL) {
		CHECK(same(own(), one(last_cpu)), "the new program's mask is not the thread's");
		return;
	}
	CHECK(pthread_create(&t[0], NULL, waits, NULL) == 0, "pthread_create");
	CHECK(pthread_create(&t[1], NULL, starts, NULL) == 0, "pthread_create");
	pthread_join(t[1], NULL);
}

static void case_exec(void)
{
	starts_program(execs);
	if (getenv("AFFINITY_EXEC_STAGE") == NULL)
		CHECK(0, "the exec returned");
}

/* ---- spawn ---- */

static void *spawns(void *unused)
{
	cpu_set_t l = one(last_cpu);
	char *argv[] = { self_path, "spawn", NULL };
	char last[48], *envp[3];
	char stage[] = "AFFINITY_EXEC_STAGE=2";
	posix_spawn_file_actions_t fa;
	int status;
	pid_t pid;

	(void)unused;
	CHECK(sched_setaffinity(0, sizeof l, &l) == 0, "sched_setaffinity: %d", errno);
	snprintf(last, sizeof last, "AFFINITY_EXEC_STAGE_LAST=%d", last_cpu);
	envp[0] = stage;
	envp[1] = last;
	envp[2] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	CHECK(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp) == 0, "posix_spawn");
	posix_spawn_file_actions_destroy(&fa);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child: status %#x", status);
	return NULL;
}

static void case_spawn(void)
{
	starts_program(spawns);
}

/* ---- handler ---- */

static volatile sig_atomic_t handled, handler_failed;

static void reads_mask(int sig)
{
	cpu_set_t got;
	int saved = errno;

	(void)sig;
	if (sched_getaffinity(0, sizeof got, &got) != 0)
		handler_failed = 1;
	handled++;
	errno = saved;
}

static void *pinned_waits(void *unused)
{
	cpu_set_t f = one(first_cpu);

	(void)unused;
	CHECK(sched_setaffinity(0, sizeof f, &f) == 0, "sched_setaffinity: %d", errno);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	return NULL;
}

static void case_handler(void)
{
	struct itimerval every = { { 0, 50 }, { 0, 50 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = reads_mask, .sa_flags = SA_RESTART };
	sigset_t alrm;
	pthread_t t;

	/* Only the main thread takes the timer's signal. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL);
	pthread_barrier_init(&step, NULL, 2);
	CHECK(pthread_create(&t, NULL, pinned_waits, NULL) == 0, "pthread_create");
	pthread_barrier_wait(&step);
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &every, NULL);
	for (int i = 0; i < 20000; i++) {
		CHECK(sched_setaffinity(0, sizeof all, &all) == 0, "sched_setaffinity: %d", errno);
		if (i % 500 == 0)
			usleep(100); /* a wait now and then, as a program's */
	}
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_barrier_wait(&step);
	pthread_join(t, NULL);
	CHECK(!handler_failed, "the handler's sched_getaffinity failed");
	CHECK(handled > 0, "no SIGALRM was handled");
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "own_mask", case_own_mask },   { "main_pins", case_main_pins },
		{ "confine", case_confine },     { "errors", case_errors },
		{ "fork", case_fork },           { "exec", case_exec },
		{ "spawn", case_spawn },         { "handler", case_handler },
	};

	self_path = argv[0];
	if (getenv("AFFINITY_EXEC_STAGE") == NULL)
		start();
	else
		last_cpu = atoi(getenv("AFFINITY_EXEC_STAGE_LAST"));
	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
