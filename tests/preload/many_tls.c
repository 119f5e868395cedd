/*
 * N threads (argv[1]) alive at once, each with its own __thread values and
 * errno: every thread sets them, waits at a barrier until all N exist,
 * then waits three more times (a short sleep) and checks that they are
 * still its own. 64 KiB stacks keep N native threads cheap. Prints
 * "ok N" and exits 0, or names the first thread that saw another's state.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static __thread long mine = -1;
static __thread char tag[64] = "initial";
static pthread_barrier_t all_here;
static long bad_id = -1;
static pthread_mutex_t report = PTHREAD_MUTEX_INITIALIZER;

static void note_bad(long id)
{
	pthread_mutex_lock(&report);
	if (bad_id < 0)
		bad_id = id;
	pthread_mutex_unlock(&report);
}

static void *one(void *arg)
{
	long id = (long)arg;

	if (mine != -1 || tag[0] != 'i')
		note_bad(id);
	mine = id;
	snprintf(tag, sizeof tag, "thread %ld", id);
	errno = (int)(id + 1);
	pthread_barrier_wait(&all_here);
	for (int round = 0; round < 3; round++) {
		int want = (int)(id + 1);

		if (mine != id || errno != want || atol(tag + 7) != id)
			note_bad(id);
		usleep(100);
		errno = want;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 9000;
	pthread_t *t = calloc((size_t)n, sizeof *t);
	pthread_attr_t a;

	if (t == NULL || n < 1)
		return 2;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_barrier_init(&all_here, NULL, (unsigned)n);
	for (long i = 0; i < n; i++) {
		int r = pthread_create(&t[i], &a, one, (void *)i);

		if (r != 0) {
			printf("pthread_create %ld: error %d\n", i, r);
			return 1;
		}
	}
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (bad_id >= 0) {
		printf("thread %ld saw state that was not its own\n", bad_id);
		return 1;
	}
	printf("ok %ld\n", n);
	return 0;
}
