/*
 * OpenMP (libgomp): a reduction over four threads and two more parallel
 * regions, 200 rounds, entered by a thread the program made while main
 * waits for it (under greenshim: a green thread beside another, so raw
 * system calls are caught). In every tenth round one of libgomp's threads
 * sleeps 2 ms in a region, so that the entering thread waits for it at the
 * region's end in a futex call of libgomp's own. Prints the kernel thread
 * id of each of libgomp's threads ("tid N" lines), then "ok" when each
 * result is the serial one.
 */
#define _GNU_SOURCE
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static long bad;
static int tids[8];

static void *regions(void *arg)
{
	long want = 0;

	(void)arg;

	for (long i = 1; i <= 10000; i++)
		want += i % 7;
	for (int round = 0; round < 200; round++) {
		long sum = 0;
		int n = 0;

#pragma omp parallel for reduction(+ : sum) num_threads(4)
		for (long i = 1; i <= 10000; i++)
			sum += i % 7;
#pragma omp parallel num_threads(3)
		{
#pragma omp atomic
			n++;
			if (round == 0)
				tids[omp_get_thread_num()] = gettid();
			if (round % 10 == 0 && omp_get_thread_num() == 1)
				usleep(2000);
		}
		bad += sum != want || n != 3;
	}
	return NULL;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, regions, NULL);
	pthread_join(t, NULL);
	for (int i = 1; i < 3; i++)
		printf("tid %d\n", tids[i]);
	if (bad == 0)
		printf("ok\n");
	return bad != 0;
}
