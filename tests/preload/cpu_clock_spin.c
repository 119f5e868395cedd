/* A thread that spins on its own CPU clock until it has computed 300 ms
 * (clock_gettime(CLOCK_THREAD_CPUTIME_ID) and nothing else in the loop),
 * beside a thread that sleeps 5 ms at a time: the sleeper wakes on time
 * all along, as natively. Prints yes/no answers. (Until 2026-12-07 on one
 * hub the spinner was not preempted: the tick mostly found it inside the
 * clock's system call, and the sleeper woke some 5 times in 300 ms.) */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static volatile int done;
static int woke;

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *spin(void *arg)
{
	double end = thread_cpu_s() + 0.3;

	while (thread_cpu_s() < end)
		;
	done = 1;
	return arg;
}

static void *sleeper(void *arg)
{
	struct timespec ts = { 0, 5 * 1000000 };

	while (!done) {
		nanosleep(&ts, NULL);
		woke++;
	}
	return arg;
}

int main(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, spin, NULL);
	pthread_create(&b, NULL, sleeper, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("the sleeper woke at least 20 times while the other spun: %s\n",
	       woke >= 20 ? "yes" : "no");
	return 0;
}
