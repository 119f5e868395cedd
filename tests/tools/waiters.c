/* An ordinary program whose threads wait in many ways, for the profiles'
 * tests: a "holder" keeps a mutex while it computes (hold_mutex) and three
 * "wanter"s queue for it (want_mutex); a "writer" keeps a rwlock
 * (hold_rwlock) that a "reader" wants (want_rwlock); a "poster" posts a
 * semaphore (post_sem) that a "semwaiter" waits for (want_sem); a "piper"
 * reads a pipe nobody writes (read_pipe); a "sleeper" sleeps (nap); main
 * joins the piper. Prints "ready" once all run; runs until killed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t sem;
static volatile unsigned long sink;
static int pipefd[2];

/* About ms milliseconds of computing. */
static NOINLINE void compute(double ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		for (int k = 0; k < 1000; k++)
			sink += (unsigned long)k * k;
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6 < ms);
}

static NOINLINE void hold_mutex(void)
{
	pthread_mutex_lock(&m);
	compute(4);
	pthread_mutex_unlock(&m);
	sink++; /* no tail call: hold_mutex stays on the stack */
}

static void *holder(void *arg)
{
	(void)arg;
	for (;;) {
		hold_mutex();
		usleep(500);
	}
	return NULL;
}

static NOINLINE void want_mutex(void)
{
	pthread_mutex_lock(&m);
	sink++;
	pthread_mutex_unlock(&m);
	sink++;
}

static void *wanter(void *arg)
{
	(void)arg;
	for (;;) {
		want_mutex();
		usleep(2000);
	}
	return NULL;
}

static NOINLINE void hold_rwlock(void)
{
	pthread_rwlock_wrlock(&rw);
	compute(2);
	pthread_rwlock_unlock(&rw);
	sink++;
}

static void *writer(void *arg)
{
	(void)arg;
	for (;;) {
		hold_rwlock();
		usleep(3000);
	}
	return NULL;
}

static NOINLINE void want_rwlock(void)
{
	pthread_rwlock_rdlock(&rw);
	sink++;
	pthread_rwlock_unlock(&rw);
}

static void *reader(void *arg)
{
	(void)arg;
	for (;;) {
		want_rwlock();
		usleep(1000);
	}
	return NULL;
}

static NOINLINE void post_sem(void)
{
	sem_post(&sem);
	sink++;
}

static void *poster(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(5000);
		post_sem();
	}
	return NULL;
}

static NOINLINE void want_sem(void)
{
	sem_wait(&sem);
	sink++;
}

static void *semwaiter(void *arg)
{
	(void)arg;
	for (;;)
		want_sem();
	return NULL;
}

static NOINLINE void read_pipe(void)
{
	char c;

	if (read(pipefd[0], &c, 1) != 1)
		perror("read");
}

static void *piper(void *arg)
{
	(void)arg;
	read_pipe();
	return NULL;
}

static NOINLINE void nap(void)
{
	sleep(1);
	sink++;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		nap();
	return NULL;
}

static pthread_t start(void *(*fn)(void *), const char *name)
{
	pthread_t t;

	pthread_create(&t, NULL, fn, NULL);
	pthread_setname_np(t, name);
	return t;
}

int main(void)
{
	pthread_t p;

	sem_init(&sem, 0, 0);
	if (pipe(pipefd) != 0)
		return 1;
	start(holder, "holder");
	for (int k = 0; k < 3; k++)
		start(wanter, "wanter");
	start(writer, "writer");
	start(reader, "reader");
	start(poster, "poster");
	start(semwaiter, "semwaiter");
	start(sleeper, "sleeper");
	p = start(piper, "piper");
	puts("ready");
	fflush(stdout);
	pthread_join(p, NULL);
	return 0;
}
