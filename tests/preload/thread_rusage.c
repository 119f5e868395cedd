/* getrusage(RUSAGE_THREAD) is each thread's own, as natively: a thread
 * that computes for some 300 ms of CPU sees about that much CPU time,
 * one that sleeps beside it next to none, and main, which only waits for
 * them, next to none since its first call; a thread that waits counts
 * voluntary context switches, and the computing one none of them.
 * RUSAGE_SELF counts the whole process. Then a thread that has computed
 * forks: in the child, after threads of its own came and went, the
 * forking thread's usage and CPU clock begin again near zero, as the
 * child's task's do, and no count is negative. Prints what it found as
 * yes/no answers, the same natively and under greenshim. (Until
 * 2026-12-07 a green thread read its hub's OS thread's usage: on one hub
 * the sleeper saw the computing thread's CPU time.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static void *nothing(void *arg)
{
	return arg;
}

static void *fork_after_computing(void *arg)
{
	pid_t p;
	int status;

	compute(NULL);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		pthread_t t[40];
		struct rusage ru;
		double c;

		for (int i = 0; i < 40; i++)
			pthread_create(&t[i], NULL, nothing, NULL);
		for (int i = 0; i < 40; i++)
			pthread_join(t[i], NULL);
		c = thread_cpu_s();
		getrusage(RUSAGE_THREAD, &ru);
		printf("child: CPU clock under 0.1 s %s, usage under 0.1 s %s, no count negative %s\n",
		       yes(c >= 0 && c < 0.1), yes(cpu_s(&ru) >= 0 && cpu_s(&ru) < 0.1),
		       yes(ru.ru_nvcsw >= 0 && ru.ru_nivcsw >= 0 && ru.ru_minflt >= 0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, &status, 0);
	printf("child ended with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return arg;
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
	pthread_create(&a, NULL, fork_after_computing, NULL);
	pthread_join(a, NULL);
	return 0;
}
