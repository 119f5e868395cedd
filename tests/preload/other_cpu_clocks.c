/*
 * An ordinary program (never linked to greenshim) that reads other threads'
 * CPU clocks through pthread_getcpuclockid, as Java's ThreadMXBean, Python's
 * time.pthread_getcpuclockid and Boost's thread_clock do: a thread that
 * computes for 400 ms of wall time, one that sleeps as long, and main,
 * which waits. Prints what it found as yes/no lines, which must be the
 * native run's:
 *   - each clock has a resolution of at most 1 ms;
 *   - the computing thread's clock, read by main 100 ms apart while it
 *     computes, grew by more than 20 ms (a share of a CPU);
 *   - the sleeper's grew by less than 20 ms meanwhile;
 *   - by its own end, the computing thread's clock read by main is within
 *     5 ms of what it read for itself (CLOCK_THREAD_CPUTIME_ID);
 *   - main's clock read by a thread is within 5 ms of main's own reading
 *     (main computed 30 ms first);
 *   - a thread's clock read through pthread_getcpuclockid(pthread_self())
 *     is its CLOCK_THREAD_CPUTIME_ID;
 *   - a joined thread's clock is EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static sem_t done, go_on;
static int64_t own_end, self_clock_diff, main_seen, main_own;
static clockid_t main_clock;

static int64_t ns_of(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void compute_for(int64_t ns)
{
	int64_t end = ns_of(CLOCK_MONOTONIC) + ns;
	volatile unsigned long n = 0;

	while (ns_of(CLOCK_MONOTONIC) < end)
		for (int k = 0; k < 20000; k++)
			n++;
}

static void *computes(void *arg)
{
	clockid_t mine;

	compute_for(400000000);
	own_end = ns_of(CLOCK_THREAD_CPUTIME_ID);
	pthread_getcpuclockid(pthread_self(), &mine);
	self_clock_diff = ns_of(mine) - ns_of(CLOCK_THREAD_CPUTIME_ID);
	main_seen = ns_of(main_clock);
	sem_post(&done);
	while (sem_wait(&go_on) != 0)
		;
	return arg;
}

static void *sleeps(void *arg)
{
	usleep(400000);
	sem_post(&done);
	while (sem_wait(&go_on) != 0)
		;
	return arg;
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

int main(void)
{
	pthread_t c, s;
	clockid_t cc, sc;
	struct timespec res[2];
	int64_t c1, c2, s1, s2, c_end;
	int bad;

	sem_init(&done, 0, 0);
	sem_init(&go_on, 0, 0);
	compute_for(30000000);
	pthread_getcpuclockid(pthread_self(), &main_clock);
	pthread_create(&c, NULL, computes, NULL);
	pthread_create(&s, NULL, sleeps, NULL);
	pthread_getcpuclockid(c, &cc);
	pthread_getcpuclockid(s, &sc);
	printf("resolution 1 ms or finer: %s\n",
	       yes(clock_getres(cc, &res[0]) == 0 && clock_getres(sc, &res[1]) == 0 &&
		   res[0].tv_sec == 0 && res[0].tv_nsec <= 1000000 && res[1].tv_sec == 0 &&
		   res[1].tv_nsec <= 1000000));
	usleep(100000);
	c1 = ns_of(cc);
	s1 = ns_of(sc);
	usleep(100000);
	c2 = ns_of(cc);
	s2 = ns_of(sc);
	printf("the computing thread's grew by over 20 ms in 100 ms: %s\n",
	       yes(c1 >= 0 && c2 - c1 > 20000000));
	printf("the sleeper's grew by under 20 ms: %s\n", yes(s1 >= 0 && s2 - s1 < 20000000));
	for (int i = 0; i < 2; i++)
		while (sem_wait(&done) != 0)
			;
	c_end = ns_of(cc);
	main_own = ns_of(CLOCK_THREAD_CPUTIME_ID);
	printf("its clock read by main is its own reading: %s\n", yes(abs64(c_end - own_end) < 5000000));
	printf("main's clock read by it is main's own reading: %s\n",
	       yes(main_seen > 0 && main_seen <= main_own && main_own - main_seen < 5000000));
	printf("its own clock through pthread_getcpuclockid: %s\n", yes(abs64(self_clock_diff) < 1000000));
	sem_post(&go_on);
	sem_post(&go_on);
	pthread_join(c, NULL);
	pthread_join(s, NULL);
	usleep(10000); /* the kernel reaps the threads */
	bad = ns_of(cc) == -1 && errno == EINVAL;
	printf("a joined thread's clock is EINVAL: %s\n", yes(bad));
	return 0;
}
