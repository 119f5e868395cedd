/* Threads that fight over one lock: THREADS threads each take it ROUNDS
 * times, hold it for a few dozen instructions and compute a little
 * (OUTSIDE steps) before the next try, the shape of a shared cache or
 * counter under load. Four locks in turn: a mutex, an rwlock every take
 * of which writes, an rwlock one take in four of which writes (the others
 * read), and a semaphore of one unit (CPython's threading.Lock is one). Prints "NAME wall_ms cpu_ms" per lock, after checking
 * that the lock kept its count exact. An ordinary program: nothing here
 * knows of greenshim.
 *   gs-contend [THREADS] [ROUNDS] [OUTSIDE]   (default 8 100000 50)
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

enum kind { MUTEX, RW_WRITES, RW_QUARTER, SEMAPHORE };

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static sem_t sem;
static enum kind kind;
static long rounds, outside, count;

static void spin(long steps)
{
	volatile unsigned x = 0;

	for (long k = 0; k < steps; k++)
		x += (unsigned)k;
}

static void *take(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		if (kind == MUTEX) {
			pthread_mutex_lock(&mutex);
			count++;
			spin(20);
			pthread_mutex_unlock(&mutex);
		} else if (kind == SEMAPHORE) {
			while (sem_wait(&sem) != 0)
				;
			count++;
			spin(20);
			sem_post(&sem);
		} else if (kind == RW_WRITES || i % 4 == 0) {
			pthread_rwlock_wrlock(&rwlock);
			count++;
			spin(20);
			pthread_rwlock_unlock(&rwlock);
		} else {
			pthread_rwlock_rdlock(&rwlock);
			spin(20);
			pthread_rwlock_unlock(&rwlock);
		}
		spin(outside);
	}
	return NULL;
}

static double ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "mutex", "rwlock-writes", "rwlock-quarter-writes",
					      "semaphore" };
	int n = argc > 1 ? atoi(argv[1]) : 8;
	pthread_t t[256];

	rounds = argc > 2 ? atol(argv[2]) : 100000;
	outside = argc > 3 ? atol(argv[3]) : 50;
	if (n < 1 || n > 256 || rounds < 1 || outside < 0) {
		fprintf(stderr, "usage: gs-contend [THREADS 1-256] [ROUNDS] [OUTSIDE]\n");
		return 2;
	}
	if (sem_init(&sem, 0, 1) != 0) {
		perror("sem_init");
		return 1;
	}
	for (kind = MUTEX; kind <= SEMAPHORE; kind++) {
		struct timespec a, b;
		double c0 = cpu_ms();
		long want = kind == RW_QUARTER ? n * ((rounds + 3) / 4) : n * rounds;

		count = 0;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < n; i++)
			if (pthread_create(&t[i], NULL, take, NULL) != 0) {
				perror("pthread_create");
				return 1;
			}
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (count != want) {
			fprintf(stderr, "gs-contend: %s counted %ld, not %ld\n", names[kind], count, want);
			return 1;
		}
		printf("%s %.1f %.1f\n", names[kind], ms(&a, &b), cpu_ms() - c0);
	}
	return 0;
}
