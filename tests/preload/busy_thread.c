/* An ordinary program: one thread computes for 500 ms without waiting
 * while another thread exists, then both end. Under greenshim without
 * preemption, the other thread cannot run meanwhile: what the blocking
 * monitor reports (GREENSHIM_MAX_BLOCKING_MS). Prints "done".
 *
 *   busy_thread        as above
 *   busy_thread fork   a thread first, then fork; the child does the above
 *                      (prints "child PID") and the parent waits for it
 *   busy_thread alone  only the computing thread, which main joins: with
 *                      two hubs it has one to itself
 *   busy_thread clock  two threads that wait 300 ms for the clock, reading
 *                      it over and over (nearly all their time in
 *                      clock_gettime): the second starts within 50 ms of
 *                      the first; prints "second started within 50 ms: yes"
 *                      as natively (on one hub, only if the first is
 *                      preempted in such a loop)
 *   busy_thread io     a thread that writes to a socket and reads it back,
 *                      over and over (never waiting: nearly all its time
 *                      in write and read), beside main, which sleeps 10 ms
 *                      20 times: prints "longest sleep under 50 ms: yes"
 *                      as natively (on one hub, only if the hub polls its
 *                      timers when the thread is preempted)
 *   busy_thread timedwait  the same beside a thread that waits on a
 *                      condition variable until a time long past, over
 *                      and over (each wait ends at once, ETIMEDOUT)
 *   busy_thread files  the same beside a thread that opens /dev/null and
 *                      closes it, over and over
 *   busy_thread sleeps  a thread that computes without waiting, beside
 *                      main, which sleeps 3 ms 21 times: prints "median
 *                      sleep under 10 ms: yes" as natively (on one hub
 *                      with a 20 ms tick, only if a tick comes when a
 *                      sleep is to end, not at its regular time)
 *   busy_thread spawns  main makes 3,000 threads that each sleep 100 ms,
 *                      then joins them: prints "done" (no thread keeps its
 *                      OS thread meanwhile: main is preempted as its
 *                      pthread_create returns)
 *   busy_thread bursts  main computes 5 ms at a time, with a 0.3 ms sleep
 *                      between, for 3 s, beside a thread that sleeps 10
 *                      ms at a time: no burst reaches a report's limit
 *   busy_thread cpu_bursts MS  the same with bursts of MS ms of the
 *                      thread's CPU time (its CPU clock) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static __attribute__((noinline)) void compute_without_waiting(double seconds)
{
	double end = now_s() + seconds;

	while (now_s() < end)
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
}

/* Computes until the calling thread has used `seconds` of CPU time. */
static void compute_cpu_time(double seconds)
{
	double end = clock_s(CLOCK_THREAD_CPUTIME_ID) + seconds;

	do
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
	while (clock_s(CLOCK_THREAD_CPUTIME_ID) < end);
}

static void *spinner(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "spinner");
	usleep(10000); /* let the other thread start waiting first */
	compute_without_waiting(0.5);
	return NULL;
}

static void *idler(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "idler");
	usleep(1000000); /* still waiting when the report is written */
	return NULL;
}

static void *nap(void *arg)
{
	usleep(100000);
	return arg;
}

static void *naps(void *arg)
{
	for (int i = 0; i < 300; i++)
		usleep(10000);
	return arg;
}

static void *nothing(void *arg)
{
	return arg;
}

static double started[2];

static void *polls_the_clock(void *arg)
{
	struct timespec ts;
	long long end;

	started[(long)arg] = now_s();
	end = (long long)(started[(long)arg] * 1e9) + 300000000;
	do
		clock_gettime(CLOCK_MONOTONIC, &ts);
	while (ts.tv_sec * 1000000000LL + ts.tv_nsec < end);
	return NULL;
}

static int pair[2];
static volatile int stop;

static void *echoes(void *arg)
{
	char buf[16];

	while (!stop)
		if (write(pair[0], "0123456789", 10) != 10 || read(pair[1], buf, 10) != 10)
			return (void *)1;
	return arg;
}

static void *computes(void *arg)
{
	while (!stop)
		compute_without_waiting(0.001);
	return arg;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void *opens_files(void *arg)
{
	while (!stop) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0 || close(fd) != 0)
			return (void *)1;
	}
	return arg;
}

static void *times_out(void *arg)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	const struct timespec past = { 1, 0 };
	void *r = arg;

	pthread_mutex_lock(&m);
	while (!stop && r == arg)
		if (pthread_cond_timedwait(&c, &m, &past) != ETIMEDOUT)
			r = (void *)1;
	pthread_mutex_unlock(&m);
	return r;
}

int main(int argc, char **argv)
{
	pthread_t a, b;

	if (argc > 1 && strcmp(argv[1], "fork") == 0) {
		int status;
		pid_t pid;

		if (pthread_create(&a, NULL, nothing, NULL) != 0 || pthread_join(a, NULL) != 0)
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0) {
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0)
				return 1;
			printf("done\n");
			return 0;
		}
		printf("child %d\n", (int)getpid());
		fflush(stdout);
	}
	if (argc > 1 && strcmp(argv[1], "clock") == 0) {
		double gap;

		if (pthread_create(&a, NULL, polls_the_clock, (void *)0) != 0 ||
		    pthread_create(&b, NULL, polls_the_clock, (void *)1) != 0)
			return 1;
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		gap = started[1] > started[0] ? started[1] - started[0] : started[0] - started[1];
		printf("second started within 50 ms: %s\n", gap < 0.05 ? "yes" : "no");
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "io") == 0 || strcmp(argv[1], "timedwait") == 0 ||
			 strcmp(argv[1], "files") == 0)) {
		bool io = argv[1][0] == 'i', files = argv[1][0] == 'f';
		double longest = 0;
		void *failed;

		if ((io && socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) ||
		    pthread_create(&a, NULL, io ? echoes : files ? opens_files : times_out, NULL) != 0)
			return 1;
		for (int i = 0; i < 20; i++) {
			double t = now_s(), took;

			usleep(10000);
			took = now_s() - t;
			if (took > longest)
				longest = took;
		}
		stop = 1;
		if (pthread_join(a, &failed) != 0 || failed != NULL)
			return 1;
		printf("longest sleep under 50 ms: %s\n", longest < 0.05 ? "yes" : "no");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "spawns") == 0) {
		static pthread_t many[3000];

		for (int i = 0; i < 3000; i++)
			if (pthread_create(&many[i], NULL, nap, NULL) != 0)
				return 1;
		for (int i = 0; i < 3000; i++)
			pthread_join(many[i], NULL);
		printf("done\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "sleeps") == 0) {
		double took[21];

		if (pthread_create(&a, NULL, computes, NULL) != 0)
			return 1;
		usleep(5000); /* computing by now */
		for (int i = 0; i < 21; i++) {
			double t = now_s();

			usleep(3000);
			took[i] = now_s() - t;
		}
		stop = 1;
		pthread_join(a, NULL);
		qsort(took, 21, sizeof took[0], by_value);
		printf("median sleep under 10 ms: %s\n", took[10] < 0.01 ? "yes" : "no");
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "bursts") == 0 || strcmp(argv[1], "cpu_bursts") == 0)) {
		bool cpu = argv[1][0] == 'c';
		double end = now_s() + 3, burst = cpu && argc > 2 ? atof(argv[2]) / 1000 : 0.005;

		if (pthread_create(&b, NULL, naps, NULL) != 0)
			return 1;
		while (now_s() < end) {
			if (cpu)
				compute_cpu_time(burst);
			else
				compute_without_waiting(burst);
			usleep(300);
		}
		pthread_join(b, NULL);
		printf("done\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "alone") == 0) {
		if (pthread_create(&a, NULL, spinner, NULL) != 0 || pthread_join(a, NULL) != 0)
			return 1;
		printf("done\n");
		return 0;
	}
	if (pthread_create(&b, NULL, idler, NULL) != 0 ||
	    pthread_create(&a, NULL, spinner, NULL) != 0)
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (argc == 1)
		printf("done\n");
	return 0;
}
