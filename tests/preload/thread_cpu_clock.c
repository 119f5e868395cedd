/*
 * An ordinary program (never linked to greenshim) that reads its threads'
 * own CPU clocks (CLOCK_THREAD_CPUTIME_ID, as Python's time.thread_time()
 * and profilers do): two threads that compute for 200 ms of wall time
 * each and one that sleeps 200 ms, each timing itself; then the main
 * thread, which only waited, and a forked child. Prints what it found as
 * yes/no lines, which must be the native run's:
 *   - the sleeper's CPU time grew by less than 20 ms;
 *   - each computing thread's by more than 40 ms (a share of a CPU);
 *   - theirs together by no more than the process's;
 *   - the main thread's CPU time is under 100 ms (it waited), and not
 *     above the process's;
 *   - a forked child's starts under 20 ms.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static int64_t ns_of(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t used[3];

static void *computes(void *arg)
{
	long i = (long)arg;
	int64_t cpu0 = ns_of(CLOCK_THREAD_CPUTIME_ID), end = ns_of(CLOCK_MONOTONIC) + 200000000;
	volatile unsigned long n = 0;

	/* Mostly in this loop's own code, where the preemption tick may
	 * switch threads, not in clock_gettime's. */
	while (ns_of(CLOCK_MONOTONIC) < end)
		for (int k = 0; k < 20000; k++)
			n++;
	used[i] = ns_of(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	return NULL;
}

static void *sleeps(void *arg)
{
	int64_t cpu0 = ns_of(CLOCK_THREAD_CPUTIME_ID);

	(void)arg;
	usleep(200000);
	used[2] = ns_of(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	return NULL;
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

int main(void)
{
	int64_t proc0 = ns_of(CLOCK_PROCESS_CPUTIME_ID), proc, mine;
	pthread_t t[3];
	int status = 0;
	pid_t pid;

	pthread_create(&t[0], NULL, computes, (void *)0);
	pthread_create(&t[1], NULL, computes, (void *)1);
	pthread_create(&t[2], NULL, sleeps, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	proc = ns_of(CLOCK_PROCESS_CPUTIME_ID);
	mine = ns_of(CLOCK_THREAD_CPUTIME_ID);
	printf("sleeper under 20 ms: %s\n", yes(used[2] < 20000000));
	printf("each computing thread over 40 ms: %s\n", yes(used[0] > 40000000 && used[1] > 40000000));
	printf("theirs within the process's: %s\n", yes(used[0] + used[1] <= proc - proc0 + 5000000));
	printf("main under 100 ms and within the process's: %s\n", yes(mine < 100000000 && mine <= proc));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		printf("child under 20 ms: %s\n", yes(ns_of(CLOCK_THREAD_CPUTIME_ID) < 20000000));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return status;
}
