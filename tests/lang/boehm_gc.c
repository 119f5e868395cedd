/* Threads that allocate from Boehm's garbage collector (libgc): each
 * builds lists of collected nodes, checks every one after collections
 * that other threads' allocations and its own GC_gcollect set off, and
 * the program checks that collections happened while the threads ran.
 * The collector stops every registered thread with pthread_kill for each
 * collection, and each thread's handler records where its stack ends
 * and waits in sigsuspend: a thread whose handler ran elsewhere would
 * have its list scanned from the wrong stack (freed while in use) or
 * never let the collector go on. Prints "ok" last. An ordinary program:
 * nothing here knows of greenshim.
 *   boehm_gc [THREADS] [ROUNDS]  (default 4 100)
 *   boehm_gc tid                 one thread, no collection: its gettid()
 */
#define _GNU_SOURCE /* gettid */
#define GC_THREADS
#include <gc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES 2000

struct node {
	struct node *next;
	long v;
};

static int rounds = 100;

static void *work(void *arg)
{
	long id = (long)arg;

	for (int r = 0; r < rounds; r++) {
		struct node *head = NULL;
		long sum = 0;

		for (long i = 0; i < NODES; i++) {
			struct node *n = GC_MALLOC(sizeof *n);

			if (n == NULL)
				return (void *)"GC_MALLOC failed";
			n->v = i * id;
			n->next = head;
			head = n;
		}
		if (r % 10 == 0)
			GC_gcollect();
		for (struct node *n = head; n != NULL; n = n->next)
			sum += n->v;
		if (sum != id * (NODES - 1) * NODES / 2) {
			printf("FAIL thread %ld round %d: the sum of its list is %ld, not %ld\n", id, r,
			       sum, id * (NODES - 1) * NODES / 2);
			return (void *)"a list changed";
		}
	}
	return NULL;
}

static void *tid(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gettid();
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	pthread_t t[64];
	unsigned long before;
	int failed = 0;

	if (argc > 1 && strcmp(argv[1], "tid") == 0) {
		pthread_t t;
		void *r = NULL;

		GC_INIT();
		if (pthread_create(&t, NULL, tid, NULL) != 0 || pthread_join(t, &r) != 0) {
			printf("FAIL pthread_create\n");
			return 1;
		}
		printf("tid %ld\nok\n", (long)(intptr_t)r);
		return 0;
	}
	rounds = argc > 2 ? atoi(argv[2]) : 100;
	if (n < 1 || n > 64 || rounds < 1) {
		fprintf(stderr, "usage: boehm_gc [THREADS] [ROUNDS]\n");
		return 2;
	}
	GC_INIT();
	before = (unsigned long)GC_get_gc_no();
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(i + 1)) != 0) {
			printf("FAIL pthread_create\n");
			return 1;
		}
	for (int i = 0; i < n; i++) {
		void *r = NULL;

		if (pthread_join(t[i], &r) != 0 || r != NULL) {
			printf("FAIL thread %d: %s\n", i + 1, r != NULL ? (char *)r : "join");
			failed = 1;
		}
	}
	/* Each thread asked for rounds / 10 of them at least. */
	if ((unsigned long)GC_get_gc_no() - before < (unsigned long)(n * ((rounds + 9) / 10))) {
		printf("FAIL %lu collections while the threads ran\n",
		       (unsigned long)GC_get_gc_no() - before);
		failed = 1;
	}
	if (!failed)
		printf("ok\n");
	return failed;
}
