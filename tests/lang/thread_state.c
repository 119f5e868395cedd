/*
 * Per-thread state in C, as glibc gives it to every pthread: __thread
 * variables start at their initial values and stay the thread's own
 * across waits, and so do errno, h_errno, the resolver state _res, the
 * locale of uselocale,
 * inet_ntoa's buffer, the cleanup handlers of pthread_cleanup_push and
 * the thread id. An ordinary program: prints "ok" and exits 0 when every
 * thread saw only its own state.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 200

static __thread int counter;
static __thread char label[16] = "initial";
static __thread int big[1024]; /* .tbss: zeroed in every thread */
static pid_t tids[THREADS + 1];
static struct __res_state *res[THREADS + 1];
static int failures;
static pthread_mutex_t report = PTHREAD_MUTEX_INITIALIZER;

static void check(int cond, long id, const char *what)
{
	if (cond)
		return;
	pthread_mutex_lock(&report);
	printf("thread %ld: %s\n", id, what);
	failures++;
	pthread_mutex_unlock(&report);
}

static __thread long cleaned = -1;

static void cleanup(void *arg)
{
	cleaned = (long)arg;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	char want[64];
	struct in_addr a = { htonl(0x0a000000u + (uint32_t)id) };
	locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);

	check(counter == 0 && strcmp(label, "initial") == 0, id, "__thread not at its initial value");
	check(big[1023] == 0, id, ".tbss not zeroed");
	snprintf(label, sizeof label, "t%ld", id);
	big[1023] = (int)id;
	uselocale(loc);
	tids[id] = gettid();
	res[id] = __res_state();
	for (int r = 0; r < ROUNDS; r++) {
		counter++;
		errno = (int)(1000 + id);
		h_errno = (int)(100 + id);
		const char *ip = inet_ntoa(a);

		usleep(50); /* every other thread runs here */
		check(errno == 1000 + id, id, "errno changed by another thread");
		check(h_errno == 100 + id, id, "h_errno changed by another thread");
		snprintf(want, sizeof want, "10.0.0.%ld", id);
		check(strcmp(ip, want) == 0, id, "inet_ntoa's buffer changed by another thread");
		check(uselocale((locale_t)0) == loc, id, "uselocale changed by another thread");
	}
	pthread_cleanup_push(cleanup, (void *)id);
	usleep(100); /* the others push and pop theirs meanwhile */
	pthread_cleanup_pop(1);
	check(cleaned == id, id, "another thread's cleanup handler ran");
	snprintf(want, sizeof want, "t%ld", id);
	check(counter == ROUNDS && strcmp(label, want) == 0 && big[1023] == id, id,
	      "__thread changed by another thread");
	uselocale(LC_GLOBAL_LOCALE);
	freelocale(loc);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
			return 2;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	tids[THREADS] = gettid();
	res[THREADS] = __res_state();
	for (int i = 0; i <= THREADS; i++) {
		for (int j = 0; j < i; j++) {
			check(tids[i] != tids[j], i, "gettid() the same as another thread's");
			check(res[i] != res[j], i, "_res the same as another thread's");
		}
	}
	check(counter == 0 && strcmp(label, "initial") == 0, -1, "main's __thread changed");
	check(uselocale((locale_t)0) == LC_GLOBAL_LOCALE, -1, "main's locale changed");
	if (failures == 0)
		printf("ok\n");
	return failures != 0;
}
