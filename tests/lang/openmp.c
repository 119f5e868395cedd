/*
 * OpenMP (libgomp): a reduction over four threads and two more parallel
 * regions, 200 rounds. Prints the kernel thread id of every thread that
 * ran a region ("tid N" lines), then "ok" when each result is the serial
 * one.
 */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	long want = 0, bad = 0;
	int tids[8] = { 0 };

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
		}
		bad += sum != want || n != 3;
	}
	for (int i = 0; i < 3; i++)
		printf("tid %d\n", tids[i]);
	if (bad == 0)
		printf("ok\n");
	return bad != 0;
}
