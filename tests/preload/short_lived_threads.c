/*
 * Threads that come and go, one after another (N of them, argv[1]), each
 * using what glibc keeps per thread: malloc's per-thread cache, a __thread
 * array, the buffers behind strsignal and strerror for unknown numbers.
 * Natively each thread's exit gives all of it back. Prints the growth of
 * the resident set between the first tenth and the end and exits 1 if it
 * is over 4 MiB.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char scratch[2048];

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kib;
}

static void *briefly(void *arg)
{
	void *p[16];

	for (int i = 0; i < 16; i++) {
		p[i] = malloc((size_t)(16 + 64 * i)); /* malloc's tcache sizes */
		memset(p[i], i, 16);
	}
	for (int i = 0; i < 16; i++)
		free(p[i]);
	snprintf(scratch, sizeof scratch, "%s %s", strsignal(SIGRTMIN + 2), strerror(99999));
	return (void *)(scratch[0] == 'R' && arg == NULL ? NULL : scratch);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000, first = 0;

	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *r;

		if (pthread_create(&t, NULL, briefly, NULL) != 0 || pthread_join(t, &r) != 0 ||
		    r != NULL) {
			printf("thread %ld failed\n", i);
			return 1;
		}
		if (i == n / 10)
			first = rss_kib();
	}
	long grew = rss_kib() - first;
	printf("%ld threads: RSS grew by %ld KiB after the first %ld\n", n, grew, n / 10);
	return grew > 4096;
}
