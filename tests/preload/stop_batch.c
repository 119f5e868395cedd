/*
 * An ordinary program (never linked to greenshim) that stops its threads
 * as a D program's collector does: main sends each worker SIGUSR1 with
 * pthread_kill and waits on a semaphore for one post per worker; each
 * worker's handler posts it and waits in sigsuspend until SIGUSR2 resumes
 * it. The workers compute meanwhile, so a stop finds one of them running.
 * Sleeping threads made between them keep the workers together (greenshim
 * places a thread on the hub with the fewest): with two hubs the stops of
 * several workers arrive at their hub as one batch, taken on the context
 * of the worker running there.
 *
 *   stop_batch ROUNDS
 *
 * Prints the collections done and those that lost a stop. Until
 * 2026-12-07 the first worker's handler ran inside that batch and waited
 * there, with the other workers' stops still in it: the collection never
 * got their posts (a D program's first collection hung in most runs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WORKERS = 3 };

static pthread_t worker[WORKERS], sleeper[WORKERS];
static sem_t acks;
static atomic_int stop, resumed;
static atomic_int stops[WORKERS];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;

static int index_of_self(void)
{
	for (int i = 0; i < WORKERS; i++)
		if (pthread_equal(worker[i], pthread_self()))
			return i;
	return -1;
}

static void on_stop(int sig)
{
	sigset_t wait_for;
	int i = index_of_self();

	(void)sig;
	if (i >= 0)
		atomic_fetch_add(&stops[i], 1);
	sigfillset(&wait_for);
	sigdelset(&wait_for, SIGUSR2);
	sem_post(&acks);
	sigsuspend(&wait_for);
	atomic_fetch_add(&resumed, 1);
}

static void on_resume(int sig)
{
	(void)sig;
}

static void *work(void *arg)
{
	volatile unsigned long n = 0;

	while (!atomic_load(&stop))
		n++;
	return arg;
}

static void *sleep_till_done(void *arg)
{
	pthread_mutex_lock(&m);
	while (!atomic_load(&stop))
		pthread_cond_wait(&done, &m);
	pthread_mutex_unlock(&m);
	return arg;
}

/* Waits up to 2 s for a post: 0, or -1 if none came. */
static int wait_ack(void)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	while (sem_timedwait(&acks, &dl) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200, lost = 0, done_rounds = 0;
	struct sigaction sa;

	sem_init(&acks, 0, 0);
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_stop;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_resume;
	sigaction(SIGUSR2, &sa, NULL);
	for (int i = 0; i < WORKERS; i++) {
		pthread_create(&worker[i], NULL, work, NULL);
		pthread_create(&sleeper[i], NULL, sleep_till_done, NULL);
	}
	for (int r = 0; r < rounds && lost == 0; r++) {
		int want = atomic_load(&resumed) + WORKERS;
		struct timespec ms = { 0, 1000000 };

		for (int i = 0; i < WORKERS; i++)
			pthread_kill(worker[i], SIGUSR1);
		for (int i = 0; i < WORKERS; i++)
			if (wait_ack() != 0)
				lost++;
		for (int i = 0; i < WORKERS; i++)
			pthread_kill(worker[i], SIGUSR2);
		/* Every worker back from its handler before the next stop. */
		for (int t = 0; t < 2000 && atomic_load(&resumed) < want; t++)
			nanosleep(&ms, NULL);
		done_rounds++;
	}
	pthread_mutex_lock(&m);
	atomic_store(&stop, 1);
	pthread_cond_broadcast(&done);
	pthread_mutex_unlock(&m);
	if (lost != 0) {
		/* A worker still waits in its handler: resume it. */
		for (int i = 0; i < WORKERS; i++)
			pthread_kill(worker[i], SIGUSR2);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(worker[i], NULL);
		pthread_join(sleeper[i], NULL);
	}
	printf("collections %d, lost stops %d\n", done_rounds, lost);
	for (int i = 0; i < WORKERS; i++)
		if (atomic_load(&stops[i]) != done_rounds)
			printf("worker %d stopped %d times\n", i, atomic_load(&stops[i]));
	return lost != 0;
}
