/* getrusage(RUSAGE_THREAD) is each thread's own, as natively: a thread
 * that computes for some 300 ms of CPU sees about that much CPU time,
 * one that sleeps beside it next to none, and main, which only waits for
 * them, next to none since its first call; a thread that waits counts
 * voluntary context switches, and the computing one none of them.
 * RUSAGE_SELF counts the whole process. Prints what it found as yes/no
 * answers, the same natively and under greenshim. (Until 2026-12-07 a
 * green thread read its hub's OS thread's usage: on one hub the sleeper
 * saw the computing thread's CPU time.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_s(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct rusage computed, slept, before, after, self;
static volatile unsigned long sink;

static void *compute(void *arg)
{
	double end = thread_cpu_s() + 0.3;

	while (thread_cpu_s() < end)
		for (int i = 0; i < 100000; i++)
			sink += (unsigned long)i;
	getrusage(RUSAGE_THREAD, &computed);
	return arg;
}

static void *sleep_often(void *arg)
{
	struct timespec ts = { 0, 5 * 1000000 };

	for (int i = 0; i < 60; i++)
		nanosleep(&ts, NULL);
	getrusage(RUSAGE_THREAD, &slept);
	return arg;
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

int main(void)
{
	pthread_t a, b;

	getrusage(RUSAGE_THREAD, &before);
	pthread_create(&a, NULL, compute, NULL);
	pthread_create(&b, NULL, sleep_often, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	getrusage(RUSAGE_THREAD, &after);
	getrusage(RUSAGE_SELF, &self);
	printf("computing thread: 0.25-1.5 s of CPU %s, no voluntary switch %s\n",
	       yes(cpu_s(&computed) >= 0.25 && cpu_s(&computed) < 1.5), yes(computed.ru_nvcsw == 0));
	printf("sleeping thread: under 0.1 s of CPU %s, 60 voluntary switches or more %s\n",
	       yes(cpu_s(&slept) < 0.1), yes(slept.ru_nvcsw >= 60));
	printf("main while it waited: under 0.1 s of CPU %s, never less than before %s\n",
	       yes(cpu_s(&after) - cpu_s(&before) < 0.1), yes(cpu_s(&after) >= cpu_s(&before)));
	printf("the process: at least the computing thread's CPU %s, its maxrss the thread's %s\n",
	       yes(cpu_s(&self) >= cpu_s(&computed) - 0.01), yes(self.ru_maxrss >= after.ru_maxrss));
	return 0;
}
