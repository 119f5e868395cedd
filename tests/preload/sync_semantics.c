/*
 * An ordinary threaded program that checks what its locks, condition
 * variables, semaphores, keys and once return. tests/preload/run.sh runs
 * each case natively and under LD_PRELOAD=libgreenshim.so; both must print
 * the same "ok" line.
 *
 * Usage: sync_semantics CASE   (cases: see main)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "case.h"

static struct timespec in_ms(clockid_t clk, int ms)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_nsec += (long)ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

/* ---- mutex kinds ---- */

static pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t errorcheck = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

static void *try_others(void *arg)
{
	struct timespec ts = in_ms(CLOCK_REALTIME, 30);
	double t0 = now_ms();
	int r;

	(void)arg;
	CHECK(pthread_mutex_trylock(&recursive) == EBUSY, "trylock of a held recursive mutex");
	CHECK(pthread_mutex_unlock(&recursive) == EPERM, "unlock of another's recursive mutex");
	CHECK(pthread_mutex_unlock(&errorcheck) == EPERM, "unlock of another's errorcheck mutex");
	r = pthread_mutex_timedlock(&normal, &ts);
	CHECK(r == ETIMEDOUT, "timedlock of a held mutex: %d", r);
	CHECK(now_ms() - t0 >= 29.5 && now_ms() - t0 < 200, "timedlock took %.1f ms", now_ms() - t0);
	return NULL;
}

static void case_mutex_kinds(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	pthread_t t;
	struct timespec bad = { 0, 2000000000 };

	CHECK(pthread_mutex_lock(&recursive) == 0 && pthread_mutex_lock(&recursive) == 0 &&
		      pthread_mutex_trylock(&recursive) == 0,
	      "recursive locking");
	CHECK(pthread_mutex_lock(&errorcheck) == 0, "errorcheck lock");
	CHECK(pthread_mutex_lock(&errorcheck) == EDEADLK, "errorcheck relock");
	CHECK(pthread_mutex_trylock(&errorcheck) == EBUSY, "errorcheck trylock by its owner");
	CHECK(pthread_mutex_lock(&normal) == 0, "normal lock");
	CHECK(pthread_mutex_trylock(&normal) == EBUSY, "normal trylock by its owner");
	pthread_create(&t, NULL, try_others, NULL);
	pthread_join(t, NULL);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_mutex_unlock(&recursive) == 0, "recursive unlock %d", i);
	CHECK(pthread_mutex_unlock(&recursive) == EPERM, "one unlock too many");
	CHECK(pthread_mutex_unlock(&errorcheck) == 0 && pthread_mutex_unlock(&errorcheck) == EPERM,
	      "errorcheck unlock");
	CHECK(pthread_mutex_unlock(&normal) == 0, "normal unlock");
	/* An invalid time is only an error when the lock must wait. */
	CHECK(pthread_mutex_timedlock(&normal, &bad) == 0, "free mutex, invalid time");
	pthread_mutex_unlock(&normal);

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	CHECK(pthread_mutex_init(&m, &a) == 0, "init errorcheck");
	CHECK(pthread_mutex_lock(&m) == 0 && pthread_mutex_lock(&m) == EDEADLK, "init'd errorcheck");
	CHECK(pthread_mutex_destroy(&m) == EBUSY, "destroy of a locked mutex");
	CHECK(pthread_mutex_unlock(&m) == 0 && pthread_mutex_destroy(&m) == 0, "destroy");
}

/* ---- many threads on one mutex and condition ---- */

enum { PRODUCERS = 50, CONSUMERS = 50, ITEMS = 200 };
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue_len, produced, consumed;
static long checksum_in, checksum_out;

static void *producer(void *arg)
{
	for (int i = 0; i < ITEMS; i++) {
		pthread_mutex_lock(&qlock);
		while (queue_len == 10)
			pthread_cond_wait(&not_full, &qlock);
		queue_len++;
		produced++;
		checksum_in += (long)(intptr_t)arg * 1000 + i;
		checksum_out += 0;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&qlock);
		if (i % 16 == 0)
			sched_yield();
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qlock);
	for (;;) {
		while (queue_len == 0 && consumed < PRODUCERS * ITEMS)
			pthread_cond_wait(&not_empty, &qlock);
		if (consumed == PRODUCERS * ITEMS)
			break;
		queue_len--;
		consumed++;
		pthread_cond_signal(&not_full);
	}
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&qlock);
	return NULL;
}

static void case_producer_consumer(void)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];

	for (int i = 0; i < CONSUMERS; i++)
		pthread_create(&c[i], NULL, consumer, NULL);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);
	CHECK(produced == PRODUCERS * ITEMS && consumed == produced && queue_len == 0,
	      "produced %d, consumed %d, left %d", produced, consumed, queue_len);
}

/* ---- condition variable timeouts and clocks ---- */

static void case_cond_timeouts(void)
{
	pthread_condattr_t ca;
	pthread_cond_t c;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	double t0;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	CHECK(pthread_cond_init(&c, &ca) == 0, "cond init");
	pthread_mutex_lock(&m);
	ts = in_ms(CLOCK_MONOTONIC, 30);
	t0 = now_ms();
	r = pthread_cond_timedwait(&c, &m, &ts);
	CHECK(r == ETIMEDOUT, "timedwait on a monotonic cond: %d", r);
	CHECK(now_ms() - t0 >= 29.5 && now_ms() - t0 < 200, "took %.1f ms", now_ms() - t0);
	CHECK(pthread_mutex_trylock(&m) == EBUSY, "the mutex is held again after the timeout");
	ts = in_ms(CLOCK_REALTIME, 30);
	t0 = now_ms();
	r = pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &ts);
	CHECK(r == ETIMEDOUT && now_ms() - t0 >= 29.5, "clockwait: %d after %.1f ms", r, now_ms() - t0);
	ts.tv_nsec = -1;
	CHECK(pthread_cond_timedwait(&c, &m, &ts) == EINVAL, "invalid time");
	pthread_mutex_unlock(&m);
	CHECK(pthread_cond_destroy(&c) == 0, "destroy");
}

/* ---- semaphores ---- */

static sem_t sem;

static void *post_after_20ms(void *arg)
{
	(void)arg;
	usleep(20000);
	sem_post(&sem);
	return NULL;
}

static void case_semaphores(void)
{
	struct timespec ts;
	pthread_t t;
	double t0;
	int v;

	CHECK(sem_init(&sem, 0, 2) == 0, "sem_init");
	CHECK(sem_getvalue(&sem, &v) == 0 && v == 2, "value %d", v);
	CHECK(sem_wait(&sem) == 0 && sem_trywait(&sem) == 0, "taking two");
	CHECK(sem_trywait(&sem) == -1 && errno == EAGAIN, "trywait on zero");
	ts = in_ms(CLOCK_REALTIME, 30);
	t0 = now_ms();
	CHECK(sem_timedwait(&sem, &ts) == -1 && errno == ETIMEDOUT, "timedwait: errno %d", errno);
	CHECK(now_ms() - t0 >= 29.5 && now_ms() - t0 < 200, "took %.1f ms", now_ms() - t0);
	pthread_create(&t, NULL, post_after_20ms, NULL);
	ts = in_ms(CLOCK_MONOTONIC, 2000);
	t0 = now_ms();
	CHECK(sem_clockwait(&sem, CLOCK_MONOTONIC, &ts) == 0, "clockwait woken by a post");
	CHECK(now_ms() - t0 >= 19 && now_ms() - t0 < 1000, "woke after %.1f ms", now_ms() - t0);
	pthread_join(t, NULL);
	CHECK(sem_init(&sem, 0, (unsigned)SEM_VALUE_MAX + 1) == -1 && errno == EINVAL, "too big");
	CHECK(sem_destroy(&sem) == 0, "destroy");
}

/* ---- keys and once ---- */

static pthread_key_t key;
static int destroyed[8];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;

static void destroy(void *v)
{
	destroyed[(intptr_t)v]++;
}

static void init_once(void)
{
	usleep(10000); /* others arrive while this runs */
	once_runs++;
}

static void *use_key(void *arg)
{
	pthread_once(&once, init_once);
	CHECK(once_runs == 1, "once ran %d times before returning", once_runs);
	CHECK(pthread_getspecific(key) == NULL, "a new thread's value");
	CHECK(pthread_setspecific(key, arg) == 0, "setspecific");
	usleep(5000); /* the others set theirs meanwhile */
	CHECK(pthread_getspecific(key) == arg, "my value was changed by another thread");
	return NULL;
}

static void case_keys_and_once(void)
{
	pthread_t t[7];

	CHECK(pthread_key_create(&key, destroy) == 0, "key_create");
	CHECK(pthread_setspecific(key, (void *)(intptr_t)7) == 0, "main's value");
	for (intptr_t i = 0; i < 7; i++)
		pthread_create(&t[i], NULL, use_key, (void *)i);
	for (int i = 0; i < 7; i++)
		pthread_join(t[i], NULL);
	CHECK(once_runs == 1, "once ran %d times", once_runs);
	for (int i = 1; i < 7; i++)
		CHECK(destroyed[i] == 1, "destructor of thread %d ran %d times", i, destroyed[i]);
	/* value 0 is NULL: no destructor, as POSIX says */
	CHECK(destroyed[0] == 0 && destroyed[7] == 0, "destructors of NULL or of main ran");
	CHECK(pthread_getspecific(key) == (void *)(intptr_t)7, "main's value changed");
	CHECK(pthread_key_delete(key) == 0 && pthread_key_delete(key) == EINVAL, "key_delete");
	CHECK(pthread_setspecific(key, NULL) == EINVAL, "setspecific on a deleted key");
}

/* ---- thousands of threads: one mutex, one condition ---- */

enum { MANY = 10000 };
static pthread_mutex_t many_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t many_go = PTHREAD_COND_INITIALIZER;
static int many_ready, many_done;
static int go;

static void *many_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&many_lock);
	many_ready++;
	while (!go)
		pthread_cond_wait(&many_go, &many_lock);
	many_done++;
	pthread_mutex_unlock(&many_lock);
	return NULL;
}

static void case_ten_thousand(void)
{
	pthread_t *t = calloc(MANY, sizeof *t);
	pthread_attr_t a;
	int made = 0;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (; made < MANY; made++)
		if (pthread_create(&t[made], &a, many_worker, NULL) != 0)
			break;
	CHECK(made == MANY, "created %d threads of %d", made, MANY);
	for (;;) {
		pthread_mutex_lock(&many_lock);
		if (many_ready == MANY)
			break;
		pthread_mutex_unlock(&many_lock);
		usleep(1000);
	}
	go = 1;
	pthread_cond_broadcast(&many_go);
	pthread_mutex_unlock(&many_lock);
	for (int i = 0; i < MANY; i++)
		pthread_join(t[i], NULL);
	CHECK(many_done == MANY, "%d of %d finished", many_done, MANY);
	free(t);
}

static pthread_spinlock_t spin;

static void *spin_holder(void *arg)
{
	pthread_spinlock_t *l = arg;

	pthread_spin_lock(l);
	usleep(10000); /* hold it across a wait */
	pthread_spin_unlock(l);
	return NULL;
}

static void case_spinlock(void)
{
	pthread_t t;

	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	pthread_create(&t, NULL, spin_holder, (void *)&spin);
	usleep(2000);
	pthread_spin_lock(&spin); /* must not spin for ever on one OS thread */
	pthread_spin_unlock(&spin);
	pthread_join(t, NULL);
}

/* ---- rwlocks ---- */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static int readers_in, readers_max, writer_saw_readers = -1;

/* Waits, sleeping 1 ms at a time, until *flag is set: the case's steps
 * follow each other by what the threads did, not by how long they slept,
 * so a loaded machine cannot reorder them. */
static void await_flag(int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static int release_readers, writer_holds, release_writer;

static void *reader(void *arg)
{
	(void)arg;
	int in;

	CHECK(pthread_rwlock_rdlock(&rw) == 0, "rdlock");
	/* Native readers run in parallel: count atomically. */
	in = __atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
	for (int max = readers_max; in > max;)
		if (__atomic_compare_exchange_n(&readers_max, &max, in, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			break;
	await_flag(&release_readers); /* hold it across waits */
	__atomic_sub_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
	CHECK(pthread_rwlock_unlock(&rw) == 0, "reader's unlock");
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	CHECK(pthread_rwlock_wrlock(&rw) == 0, "wrlock");
	writer_saw_readers = readers_in;
	__atomic_store_n(&writer_holds, 1, __ATOMIC_SEQ_CST);
	await_flag(&release_writer);
	CHECK(pthread_rwlock_unlock(&rw) == 0, "writer's unlock");
	return NULL;
}

static void case_rwlock(void)
{
	pthread_t r[3], w;
	struct timespec ts;
	double t0;
	int e;

	for (int i = 0; i < 3; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	while (__atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) < 3)
		usleep(1000);
	pthread_create(&w, NULL, writer, NULL);
	usleep(10000); /* the writer waits for the readers */
	CHECK(pthread_rwlock_trywrlock(&rw) == EBUSY, "trywrlock while read-locked");
	__atomic_store_n(&release_readers, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 3; i++)
		pthread_join(r[i], NULL);
	await_flag(&writer_holds);
	CHECK(pthread_rwlock_tryrdlock(&rw) == EBUSY, "tryrdlock while write-locked");
	ts = in_ms(CLOCK_REALTIME, 5);
	t0 = now_ms();
	e = pthread_rwlock_timedrdlock(&rw, &ts);
	CHECK(e == ETIMEDOUT && now_ms() - t0 >= 4.5, "timedrdlock: %d after %.1f ms", e,
	      now_ms() - t0);
	__atomic_store_n(&release_writer, 1, __ATOMIC_SEQ_CST);
	pthread_join(w, NULL);
	CHECK(readers_max == 3, "%d readers at once, want 3", readers_max);
	CHECK(writer_saw_readers == 0, "the writer got in with %d readers", writer_saw_readers);
	CHECK(pthread_rwlock_wrlock(&rw) == 0 && pthread_rwlock_wrlock(&rw) == EDEADLK &&
		      pthread_rwlock_rdlock(&rw) == EDEADLK,
	      "relocking one's own write lock");
	CHECK(pthread_rwlock_unlock(&rw) == 0 && pthread_rwlock_destroy(&rw) == 0, "destroy");
}

/* glibc's default rwlock prefers readers: a reader that queued behind a
 * waiting writer (while a third thread held the lock to write) gets in as
 * soon as the holder leaves, before that writer. */
static pthread_rwlock_t pref = PTHREAD_RWLOCK_INITIALIZER;
static int pref_log[3], pref_n;
static pthread_mutex_t pref_lock = PTHREAD_MUTEX_INITIALIZER;

static void *pref_take(void *arg)
{
	int id = (int)(intptr_t)arg;

	CHECK((id == 1 ? pthread_rwlock_wrlock(&pref) : pthread_rwlock_rdlock(&pref)) == 0,
	      "lock %d", id);
	pthread_mutex_lock(&pref_lock);
	pref_log[pref_n++] = id;
	pthread_mutex_unlock(&pref_lock);
	usleep(10000);
	CHECK(pthread_rwlock_unlock(&pref) == 0, "unlock %d", id);
	return NULL;
}

static void case_rwlock_readers_first(void)
{
	pthread_t t[3];

	CHECK(pthread_rwlock_wrlock(&pref) == 0, "wrlock");
	pthread_create(&t[0], NULL, pref_take, (void *)(intptr_t)1); /* the writer */
	usleep(20000);
	pthread_create(&t[1], NULL, pref_take, (void *)(intptr_t)2);
	pthread_create(&t[2], NULL, pref_take, (void *)(intptr_t)3);
	usleep(20000); /* all three wait */
	CHECK(pref_n == 0, "%d got in past the write lock", pref_n);
	CHECK(pthread_rwlock_unlock(&pref) == 0, "unlock");
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(pref_n == 3 && pref_log[2] == 1, "order %d %d %d, want the readers first",
	      pref_log[0], pref_log[1], pref_log[2]);
}

/* ---- barriers ---- */

enum { PARTIES = 5, ROUNDS = 3 };
static pthread_barrier_t barrier;
static int serial[ROUNDS], arrived[ROUNDS];

static void *party(void *arg)
{
	(void)arg;
	for (int round = 0; round < ROUNDS; round++) {
		int r;

		__atomic_add_fetch(&arrived[round], 1, __ATOMIC_SEQ_CST);
		r = pthread_barrier_wait(&barrier);
		CHECK(__atomic_load_n(&arrived[round], __ATOMIC_SEQ_CST) == PARTIES,
		      "left round %d with %d arrived", round, arrived[round]);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_add_fetch(&serial[round], 1, __ATOMIC_SEQ_CST);
		else
			CHECK(r == 0, "barrier_wait: %d", r);
		usleep(1000 * (unsigned)(round + 1));
	}
	return NULL;
}

static void case_barrier(void)
{
	pthread_t t[PARTIES];

	CHECK(pthread_barrier_init(&barrier, NULL, 0) == EINVAL, "a barrier for 0 threads");
	CHECK(pthread_barrier_init(&barrier, NULL, PARTIES) == 0, "barrier_init");
	for (int i = 0; i < PARTIES; i++)
		pthread_create(&t[i], NULL, party, NULL);
	for (int i = 0; i < PARTIES; i++)
		pthread_join(t[i], NULL);
	for (int r = 0; r < ROUNDS; r++)
		CHECK(serial[r] == 1, "round %d had %d serial threads", r, serial[r]);
	CHECK(pthread_barrier_destroy(&barrier) == 0, "destroy");
}

/* ---- C11 threads ---- */

static mtx_t c11_lock;
static cnd_t c11_cond;
static tss_t c11_key;
static once_flag c11_once = ONCE_FLAG_INIT;
static int c11_count, c11_inits;

static void c11_init(void)
{
	c11_inits++;
}

static int c11_worker(void *arg)
{
	call_once(&c11_once, c11_init);
	CHECK(tss_set(c11_key, arg) == thrd_success, "tss_set");
	CHECK(mtx_lock(&c11_lock) == thrd_success, "mtx_lock");
	c11_count++;
	cnd_broadcast(&c11_cond);
	mtx_unlock(&c11_lock);
	thrd_yield();
	CHECK(tss_get(c11_key) == arg, "tss_get");
	return (int)(intptr_t)arg * 2;
}

static void case_c11(void)
{
	thrd_t t[4];
	struct timespec ts;
	int res;

	CHECK(mtx_init(&c11_lock, mtx_timed) == thrd_success && cnd_init(&c11_cond) == thrd_success &&
		      tss_create(&c11_key, NULL) == thrd_success,
	      "init");
	for (intptr_t i = 0; i < 4; i++)
		CHECK(thrd_create(&t[i], c11_worker, (void *)(i + 1)) == thrd_success, "thrd_create");
	mtx_lock(&c11_lock);
	while (c11_count < 4)
		cnd_wait(&c11_cond, &c11_lock);
	ts = in_ms(CLOCK_REALTIME, 10);
	CHECK(cnd_timedwait(&c11_cond, &c11_lock, &ts) == thrd_timedout, "cnd_timedwait");
	mtx_unlock(&c11_lock);
	for (int i = 0; i < 4; i++) {
		CHECK(thrd_join(t[i], &res) == thrd_success && res == (i + 1) * 2, "thrd_join: %d", res);
	}
	CHECK(c11_inits == 1, "call_once ran %d times", c11_inits);
	CHECK(thrd_equal(thrd_current(), thrd_current()), "thrd_current");
	mtx_destroy(&c11_lock);
	cnd_destroy(&c11_cond);
	tss_delete(c11_key);
}

/* ---- a lock made of a futex, the way Rust's std and abseil make them ---- */

static uint32_t futex_word; /* 0 free, 1 locked, 2 locked with waiters */
static int futex_counter;

static void flock(void)
{
	uint32_t c = 0;

	if (__atomic_compare_exchange_n(&futex_word, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(&futex_word, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		c = __atomic_exchange_n(&futex_word, 2, __ATOMIC_ACQUIRE);
	}
}

static void funlock(void)
{
	if (__atomic_exchange_n(&futex_word, 0, __ATOMIC_RELEASE) == 2)
		syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		flock();
		int seen = futex_counter;

		if (i % 10 == 0)
			usleep(100); /* hold it across a wait */
		futex_counter = seen + 1;
		funlock();
	}
	return NULL;
}

static void case_futex(void)
{
	pthread_t t[8];
	struct timespec ts = { 0, 20 * 1000000 };
	uint32_t word = 5;
	double t0;
	long r;

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, futex_worker, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	CHECK(futex_counter == 1600, "counter %d, want 1600", futex_counter);
	r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0);
	CHECK(r == -1 && errno == EAGAIN, "wait on a changed word: %ld, errno %d", r, errno);
	t0 = now_ms();
	r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 5, &ts, NULL, 0);
	CHECK(r == -1 && errno == ETIMEDOUT && now_ms() - t0 >= 19.5, "timed wait: %ld, errno %d",
	      r, errno);
	CHECK(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0,
	      "a wake with nobody waiting");
	CHECK(syscall(SYS_getpid) == getpid(), "another system call through syscall()");
}

/* A futex word in memory shared with a child (MAP_SHARED): the child's
 * wait, a thread beside it, is woken by the parent's FUTEX_WAKE. Under
 * greenshim a wait on shared memory is the kernel's (preload/futex.c,
 * addr_shared): a green one would not hear another process's wake. */
static void *futex_shared_beside(void *arg)
{
	usleep(20000);
	return arg;
}

static void case_futex_shared(void)
{
	uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	int status;
	pid_t pid;

	CHECK(word != MAP_FAILED, "mmap");
	*word = 0;
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct timespec ts = { 5, 0 };
		double t0 = now_ms();
		long r;

		pthread_create(&t, NULL, futex_shared_beside, NULL);
		r = syscall(SYS_futex, word, FUTEX_WAIT, 0, &ts, NULL, 0);
		pthread_join(t, NULL);
		/* 0 when woken; EAGAIN when the parent's store came first */
		_exit((r == 0 || (r == -1 && errno == EAGAIN)) && now_ms() - t0 < 4000 ? 0 : 1);
	}
	usleep(100000);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	CHECK(syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0) >= 0, "wake");
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child's wait did not end with the parent's wake (status %#x)", status);
	munmap(word, 4096);
}

/* ---- robust process-shared mutexes (LMDB's, Samba's tdb's) ---- */

/* A page that this process's forked children share. */
static void *shared_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap");
	return p;
}

/* m, process-shared, of the type given (PTHREAD_MUTEX_*), robust or not. */
static void shared_mutex_init(pthread_mutex_t *m, int type, bool robust)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_settype(&a, type);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	CHECK(pthread_mutex_init(m, &a) == 0, "init (type %d%s)", type, robust ? ", robust" : "");
	pthread_mutexattr_destroy(&a);
}

struct robust_area {
	pthread_mutex_t m;
	long counter;
	int stop_spinning;
};
static struct robust_area *ra;

static volatile unsigned long robust_sink;

/* Computes for ms, mostly in this program's own code. */
static void compute_ms(double ms)
{
	double until = now_ms() + ms;

	while (now_ms() < until)
		for (unsigned long k = 0; k < 20000; k++)
			robust_sink += k * k;
}

/* Locks and unlocks ra->m, sometimes computing while it holds it, long
 * enough for a preemption tick: with several hubs the thread may be
 * moved meanwhile, and glibc lets only the owner's OS thread unlock. */
static void *robust_worker(void *arg)
{
	for (int i = 0; i < 100; i++) {
		int r = pthread_mutex_lock(&ra->m);
		long c;

		CHECK(r == 0, "lock: %s", strerror(r));
		c = ra->counter;
		if (i % 10 == 0)
			compute_ms(15);
		ra->counter = c + 1;
		r = pthread_mutex_unlock(&ra->m);
		CHECK(r == 0, "unlock by the thread that locked: %s", strerror(r));
	}
	return arg;
}

/* Until told to stop: computes (arg 0), or sleeps arg microseconds at a
 * time. */
static void *robust_beside(void *arg)
{
	useconds_t us = (useconds_t)(uintptr_t)arg;

	while (!__atomic_load_n(&ra->stop_spinning, __ATOMIC_RELAXED)) {
		if (us == 0)
			compute_ms(1);
		else
			usleep(us);
	}
	return NULL;
}

/* Holds the mutex while it computes, beside a thread that wakes often. */
static void *robust_holder(void *arg)
{
	for (int i = 0; i < 4; i++) {
		int r = pthread_mutex_lock(&ra->m);

		CHECK(r == 0, "lock: %s", strerror(r));
		compute_ms(25);
		ra->counter++;
		r = pthread_mutex_unlock(&ra->m);
		CHECK(r == 0, "unlock by the thread that locked, after computing: %s", strerror(r));
		usleep(1000);
	}
	return arg;
}

static void *robust_hold(void *arg)
{
	int r = pthread_mutex_lock(&ra->m);

	CHECK(r == 0, "lock in the child: %s", strerror(r));
	return arg;
}

/* How many mutexes the calling thread's robust list holds, as the kernel
 * would walk it when the thread dies (at most 16 looked at); whether m is
 * one of them. */
static int robust_listed(const pthread_mutex_t *m, bool *found)
{
	struct robust_list_head *head;
	struct robust_list *e;
	size_t len;
	int n = 0;

	*found = false;
	CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0, "get_robust_list");
	for (e = head->list.next; e != &head->list && n < 16;
	     e = (struct robust_list *)((uintptr_t)e->next & ~(uintptr_t)1), n++)
		if ((const char *)e + head->futex_offset == (const char *)m)
			*found = true;
	return n;
}

/* A robust mutex in one mapping locked and unlocked, the mapping gone,
 * then one in another: glibc links the robust mutexes a thread holds
 * through the mutexes themselves, from a head the kernel knows. */
static void *robust_two_maps(void *arg)
{
	for (int i = 0; i < 3; i++) {
		pthread_mutex_t *m = shared_page(), *other = shared_page();

		shared_mutex_init(m, PTHREAD_MUTEX_NORMAL, true);
		shared_mutex_init(other, PTHREAD_MUTEX_NORMAL, true);
		/* Held together, let go in the order taken and in reverse. */
		bool found_m, found_other;
		int n0 = robust_listed(m, &found_m);

		CHECK(pthread_mutex_lock(m) == 0 && pthread_mutex_lock(other) == 0, "lock both");
		CHECK(robust_listed(m, &found_m) == n0 + 2 && robust_listed(other, &found_other) &&
		      found_m && found_other, "both held, not both on the robust list (%d before)", n0);
		if (i % 2) {
			CHECK(pthread_mutex_unlock(m) == 0 && pthread_mutex_unlock(other) == 0, "unlock");
		} else {
			CHECK(pthread_mutex_unlock(other) == 0 && pthread_mutex_unlock(m) == 0, "unlock");
		}
		CHECK(robust_listed(m, &found_m) == n0 && !found_m, "let go, still on the robust list");
		CHECK(pthread_mutex_lock(m) == 0 && pthread_mutex_unlock(m) == 0, "again");
		CHECK(robust_listed(m, &found_m) == n0 && !found_m, "let go, still on the robust list");
		munmap(m, 4096);
		munmap(other, 4096);
	}
	return arg;
}

/* Ends holding both of the two robust mutexes at arg. */
static void *robust_die_holding(void *arg)
{
	pthread_mutex_t *m = arg;

	CHECK(pthread_mutex_lock(&m[0]) == 0 && pthread_mutex_lock(&m[1]) == 0, "lock both");
	return NULL;
}

/* Nothing on the calling thread's robust list. */
static void *robust_list_empty(void *arg)
{
	bool found;

	CHECK(robust_listed(arg, &found) == 0, "a thread that holds none has a robust list");
	return NULL;
}

/* Forks while it holds the robust mutex at arg; in the child it ends
 * (the child's only thread, holding none there), in the parent it lets
 * go once the child is gone. */
static void *robust_fork_holding(void *arg)
{
	pthread_mutex_t *m = arg;
	bool found;
	int status;
	pid_t pid;

	CHECK(pthread_mutex_lock(m) == 0, "lock");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		pthread_exit(NULL);
	CHECK(waitpid(pid, &status, 0) == pid && status == 0, "child status %#x", status);
	CHECK(robust_listed(m, &found) == 1 && found, "held, not on the robust list");
	CHECK(pthread_mutex_unlock(m) == 0, "unlock after the child ended");
	CHECK(robust_listed(m, &found) == 0, "let go, still on the robust list");
	return NULL;
}

/* Another thread's view of the process-shared mutexes at arg, which the
 * main thread holds: a recursive one, an error-checking one, a robust
 * one. Each is busy, and its unlock is not this thread's to make. */
static void *shared_not_mine(void *arg)
{
	pthread_mutex_t *m = arg;
	struct timespec soon;

	for (int i = 0; i < 3; i++) {
		int r = pthread_mutex_trylock(&m[i]);

		CHECK(r == EBUSY, "trylock of mutex %d that another thread holds: %s", i,
		      r ? strerror(r) : "0 (taken)");
		clock_gettime(CLOCK_REALTIME, &soon);
		soon.tv_nsec += 20000000;
		if (soon.tv_nsec >= 1000000000) {
			soon.tv_sec++;
			soon.tv_nsec -= 1000000000;
		}
		r = pthread_mutex_timedlock(&m[i], &soon);
		CHECK(r == ETIMEDOUT, "timedlock of mutex %d that another thread holds: %s", i,
		      r ? strerror(r) : "0 (taken)");
		if (i < 2) {
			r = pthread_mutex_unlock(&m[i]);
			CHECK(r == EPERM, "unlock of mutex %d that another thread holds: %s", i,
			      r ? strerror(r) : "0");
		}
	}
	return NULL;
}

/* Owners of process-shared mutexes are threads, one from another, as
 * glibc tells them apart by their kernel ids. */
static void shared_owners(void)
{
	pthread_mutex_t *m = shared_page();
	pthread_t t;

	shared_mutex_init(&m[0], PTHREAD_MUTEX_RECURSIVE, false);
	shared_mutex_init(&m[1], PTHREAD_MUTEX_ERRORCHECK, false);
	shared_mutex_init(&m[2], PTHREAD_MUTEX_NORMAL, true);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_mutex_lock(&m[i]) == 0, "lock %d", i);
	CHECK(pthread_mutex_lock(&m[0]) == 0 && pthread_mutex_unlock(&m[0]) == 0,
	      "the recursive one again, by its owner");
	CHECK(pthread_mutex_lock(&m[1]) == EDEADLK, "the error-checking one again, by its owner");
	CHECK(pthread_mutex_trylock(&m[1]) == EBUSY, "trylock of the error-checking one, by its owner");
	pthread_create(&t, NULL, shared_not_mine, m);
	pthread_join(t, NULL);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_mutex_unlock(&m[i]) == 0, "unlock %d", i);
	pthread_create(&t, NULL, robust_list_empty, m);
	pthread_join(t, NULL);
	munmap(m, 4096);
}

/* A process-shared condition variable and its mutex, in shared memory. */
struct shared_cv {
	pthread_mutex_t m;
	pthread_cond_t c;
	int flag;
};

static void *shared_cv_signal(void *arg)
{
	struct shared_cv *s = arg;

	usleep(20000);
	CHECK(pthread_mutex_lock(&s->m) == 0, "lock to signal");
	s->flag = 1;
	CHECK(pthread_cond_signal(&s->c) == 0, "signal");
	CHECK(pthread_mutex_unlock(&s->m) == 0, "unlock after signalling");
	return NULL;
}

/* Waits on a process-shared condition variable until another thread of
 * this process, then another process, signals; a timed wait times out
 * holding the mutex again. */
static void shared_cond(void)
{
	struct shared_cv *s = shared_page();
	pthread_condattr_t ca;
	struct timespec soon;
	pthread_t t;
	int status, r;
	pid_t pid;

	shared_mutex_init(&s->m, PTHREAD_MUTEX_NORMAL, false);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	CHECK(pthread_cond_init(&s->c, &ca) == 0, "init");
	pthread_condattr_destroy(&ca);
	for (int round = 0; round < 2; round++) {
		s->flag = 0;
		CHECK(pthread_mutex_lock(&s->m) == 0, "lock");
		if (round == 0) {
			pthread_create(&t, NULL, shared_cv_signal, s);
		} else {
			pid = fork();
			CHECK(pid >= 0, "fork");
			if (pid == 0) {
				shared_cv_signal(s);
				_exit(0);
			}
		}
		while (!s->flag)
			CHECK(pthread_cond_wait(&s->c, &s->m) == 0, "wait");
		CHECK(pthread_mutex_unlock(&s->m) == 0, "unlock after the wait");
		if (round == 0)
			pthread_join(t, NULL);
		else
			CHECK(waitpid(pid, &status, 0) == pid && status == 0, "child %#x", status);
	}
	CHECK(pthread_mutex_lock(&s->m) == 0, "lock");
	clock_gettime(CLOCK_REALTIME, &soon);
	soon.tv_nsec += 20000000;
	if (soon.tv_nsec >= 1000000000) {
		soon.tv_sec++;
		soon.tv_nsec -= 1000000000;
	}
	r = pthread_cond_timedwait(&s->c, &s->m, &soon);
	CHECK(r == ETIMEDOUT, "timed wait: %s", r ? strerror(r) : "0");
	CHECK(pthread_mutex_trylock(&s->m) == EBUSY && pthread_mutex_unlock(&s->m) == 0,
	      "the mutex held again after the timed wait");
	pthread_cond_destroy(&s->c);
	pthread_mutex_destroy(&s->m);
	munmap(s, 4096);
}

/* The same waits with an error-checking, then a robust mutex: their
 * owners are checked, so the waiting thread's own OS thread waits under
 * greenshim, and another thread must be able to take the mutex meanwhile
 * (run with several hubs: with one, nothing else runs during that wait). */
static void case_shared_cond_checked(void)
{
	struct shared_cv *s = shared_page();
	pthread_condattr_t ca;
	pthread_t t;

	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	CHECK(pthread_cond_init(&s->c, &ca) == 0, "init");
	pthread_condattr_destroy(&ca);
	for (int round = 0; round < 2; round++) {
		shared_mutex_init(&s->m, round ? PTHREAD_MUTEX_NORMAL : PTHREAD_MUTEX_ERRORCHECK,
				  round == 1);
		s->flag = 0;
		CHECK(pthread_mutex_lock(&s->m) == 0, "lock");
		pthread_create(&t, NULL, shared_cv_signal, s);
		while (!s->flag)
			CHECK(pthread_cond_wait(&s->c, &s->m) == 0, "wait");
		CHECK(pthread_mutex_unlock(&s->m) == 0, "unlock after the wait");
		pthread_join(t, NULL);
		CHECK(pthread_mutex_destroy(&s->m) == 0, "destroy");
	}
	pthread_cond_destroy(&s->c);
	munmap(s, 4096);
}

/* A thread that ends holding robust mutexes: the next owner of each gets
 * EOWNERDEAD, and no thread's list keeps them. */
static void robust_thread_death(void)
{
	pthread_mutex_t *m = shared_page();
	pthread_t t;

	shared_mutex_init(&m[0], PTHREAD_MUTEX_NORMAL, true);
	shared_mutex_init(&m[1], PTHREAD_MUTEX_NORMAL, true);
	pthread_create(&t, NULL, robust_die_holding, m);
	pthread_join(t, NULL);
	for (int i = 0; i < 2; i++) {
		int r = pthread_mutex_lock(&m[i]);

		CHECK(r == EOWNERDEAD, "lock %d after its owner thread ended: %s", i, strerror(r));
		CHECK(pthread_mutex_consistent(&m[i]) == 0 && pthread_mutex_unlock(&m[i]) == 0,
		      "consistent, unlock");
	}
	pthread_create(&t, NULL, robust_list_empty, m);
	pthread_join(t, NULL);
	robust_list_empty(m);
	pthread_create(&t, NULL, robust_fork_holding, m);
	pthread_join(t, NULL);
	munmap(m, 4096);
}

/* Process-shared mutexes and condition variables (LMDB's robust ones,
 * PostgreSQL's and Boost.Interprocess's kinds) between threads and
 * processes: counting, moves between OS threads while held, a process
 * and a thread that die holding robust ones, the kernel's robust lists,
 * owners told apart, a fork while held, condition waits. */
static void case_shared_mutexes(void)
{
	pthread_t t[4], spin;
	int status, r;
	pid_t pid;

	ra = shared_page();
	shared_mutex_init(&ra->m, PTHREAD_MUTEX_NORMAL, true);

	/* Threads of one process take turns. */
	pthread_create(&spin, NULL, robust_beside, (void *)0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, robust_worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&ra->stop_spinning, 1, __ATOMIC_RELAXED);
	pthread_join(spin, NULL);
	CHECK(ra->counter == 400, "counter %ld, not 400", ra->counter);

	/* A holder that computes while another thread wakes beside it (where
	 * threads are spread over OS threads, the sleeper, an idle thread and
	 * the holder, made in this order, put the holder beside the sleeper). */
	for (int round = 0; round < 3; round++) {
		__atomic_store_n(&ra->stop_spinning, 0, __ATOMIC_RELAXED);
		pthread_create(&t[0], NULL, robust_beside, (void *)500);
		pthread_create(&t[1], NULL, robust_beside, (void *)20000);
		pthread_create(&t[2], NULL, robust_holder, NULL);
		pthread_join(t[2], NULL);
		__atomic_store_n(&ra->stop_spinning, 1, __ATOMIC_RELAXED);
		pthread_join(t[0], NULL);
		pthread_join(t[1], NULL);
	}
	CHECK(ra->counter == 412, "counter %ld, not 412", ra->counter);

	/* A process that dies holding it: the next owner hears so. */
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		pthread_t h;

		pthread_create(&h, NULL, robust_hold, NULL);
		pthread_join(h, NULL);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %#x", status);
	r = pthread_mutex_trylock(&ra->m);
	CHECK(r == EOWNERDEAD, "trylock after its owner's process died: %s", strerror(r));
	CHECK(pthread_mutex_consistent(&ra->m) == 0, "consistent");
	CHECK(pthread_mutex_unlock(&ra->m) == 0, "unlock");
	pthread_create(&t[0], NULL, robust_worker, NULL);
	pthread_join(t[0], NULL);
	CHECK(ra->counter == 512, "counter %ld, not 512", ra->counter);
	CHECK(pthread_mutex_destroy(&ra->m) == 0, "destroy");
	munmap(ra, 4096);

	/* Unlocked, then unmapped: the thread's list of robust mutexes no
	 * longer leads there (a thread locks another one afterwards). */
	pthread_create(&t[0], NULL, robust_two_maps, NULL);
	pthread_join(t[0], NULL);
	robust_thread_death();
	shared_owners();
	shared_cond();
}

/* ---- the thread calls: joins, names, attributes ---- */

/* Long enough for the checks on a running thread to find it running on
 * a loaded machine, under valgrind too (20 ms was not: a native run under
 * valgrind found it ended by its 5 ms timedjoin). */
#define LINGER_US 150000

static void *linger(void *arg)
{
	usleep(LINGER_US);
	return arg;
}

static void *report_stack(void *arg)
{
	pthread_attr_t a;
	void *lo;
	size_t size;
	char name[16];
	int local;

	CHECK(pthread_getattr_np(pthread_self(), &a) == 0, "getattr_np");
	CHECK(pthread_attr_getstack(&a, &lo, &size) == 0, "getstack");
	CHECK((char *)&local > (char *)lo && (char *)&local < (char *)lo + size,
	      "a local is not inside the reported stack");
	CHECK(size >= 200 * 1024 && size <= 256 * 1024, "stack of %zu bytes, asked 256 KiB", size);
	pthread_attr_destroy(&a);
	CHECK(pthread_setname_np(pthread_self(), "worker-7") == 0, "setname");
	CHECK(pthread_getname_np(pthread_self(), name, sizeof name) == 0 &&
		      strcmp(name, "worker-7") == 0,
	      "getname: %s", name);
	CHECK(pthread_setname_np(pthread_self(), "a name much too long") == ERANGE, "long name");
	return arg;
}

static char user_stack[256 * 1024] __attribute__((aligned(64)));

static void *on_user_stack(void *arg)
{
	int local;

	CHECK((char *)&local > user_stack && (char *)&local < user_stack + sizeof user_stack,
	      "not running on the stack given");
	return arg;
}

static void case_thread_api(void)
{
	pthread_t t;
	pthread_attr_t a;
	struct timespec ts;
	void *ret;

	CHECK(pthread_join(pthread_self(), NULL) == EDEADLK, "joining oneself");
	pthread_create(&t, NULL, linger, (void *)5);
	CHECK(pthread_tryjoin_np(t, &ret) == EBUSY, "tryjoin of a running thread");
	ts = in_ms(CLOCK_REALTIME, 5);
	CHECK(pthread_timedjoin_np(t, &ret, &ts) == ETIMEDOUT, "timedjoin");
	CHECK(pthread_kill(t, 0) == 0, "pthread_kill(t, 0) of a live thread");
	{
		cpu_set_t set;
		clockid_t clk;
		struct sched_param sp;
		int policy;

		CHECK(pthread_getaffinity_np(t, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0,
		      "getaffinity of a live thread");
		CHECK(pthread_getcpuclockid(t, &clk) == 0 && clock_gettime(clk, &ts) == 0,
		      "its CPU clock");
		CHECK(pthread_getschedparam(t, &policy, &sp) == 0 && policy == SCHED_OTHER,
		      "getschedparam");
	}
	CHECK(pthread_join(t, &ret) == 0 && ret == (void *)5, "join");

	pthread_create(&t, NULL, linger, NULL);
	CHECK(pthread_detach(t) == 0, "detach");
	CHECK(pthread_join(t, NULL) == EINVAL, "join of a detached thread");
	usleep(2 * LINGER_US);

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	pthread_create(&t, &a, report_stack, (void *)6);
	CHECK(pthread_join(t, &ret) == 0 && ret == (void *)6, "join");
	pthread_attr_setstack(&a, user_stack, sizeof user_stack);
	CHECK(pthread_create(&t, &a, on_user_stack, (void *)7) == 0, "create on a given stack");
	CHECK(pthread_join(t, &ret) == 0 && ret == (void *)7, "join");
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	CHECK(pthread_create(&t, &a, linger, NULL) == 0, "create detached");
	CHECK(pthread_join(t, NULL) == EINVAL, "join of a thread created detached");
	pthread_attr_destroy(&a);
	CHECK(pthread_equal(pthread_self(), pthread_self()) && !pthread_equal(pthread_self(), t),
	      "pthread_equal");
	usleep(40000);
}

static atomic_int stale_ended;

static atomic_bool stale_go;

static void *end_at_once(void *arg)
{
	atomic_fetch_add(&stale_ended, 1);
	return arg;
}

static void *end_when_told(void *arg)
{
	while (!atomic_load(&stale_go))
		usleep(1000);
	return end_at_once(arg);
}

/* Handles of threads that are gone, as glibc (2.34 and later) answers for
 * them while their stacks sit in its cache (stunnel joins every client
 * thread of its list as it exits, detached ones too): a signal to a thread
 * that has ended is 0, and sends nothing; a second join of a joined thread
 * is ESRCH and so is a detach of it; a join or a detach of a thread that
 * ended detached is EINVAL. Enough of them that greenshim's pool gives
 * most of their stacks' memory back. */
static void case_stale_handles(void)
{
	enum { N = 48 };
	pthread_t t, gone[N];
	pthread_attr_t a;
	char name[16];

	pthread_create(&t, NULL, end_when_told, (void *)3);
	CHECK(pthread_setname_np(t, "short") == 0, "naming a thread");
	CHECK(pthread_getname_np(t, name, 8) == ERANGE, "its name into 8 bytes");
	CHECK(pthread_getname_np(t, name, sizeof name) == 0 && strcmp(name, "short") == 0,
	      "its name");
	atomic_store(&stale_go, true);
	while (atomic_load(&stale_ended) < 1)
		usleep(1000);
	usleep(50000); /* past its last instructions */
	CHECK(pthread_kill(t, 0) == 0, "signal 0 to an ended thread");
	CHECK(pthread_kill(t, SIGUSR1) == 0, "SIGUSR1 to an ended thread");
	CHECK(pthread_kill(t, 32) == EINVAL, "signal 32 to an ended thread");
	CHECK(pthread_setname_np(t, "late") == ENOENT, "naming an ended thread");
	CHECK(pthread_getname_np(t, name, sizeof name) == ENOENT, "the name of an ended thread");
	CHECK(pthread_cancel(t) == 0, "cancel of an ended thread");
	CHECK(pthread_join(t, NULL) == 0, "join");
	CHECK(pthread_join(t, NULL) == ESRCH, "second join of a thread");
	CHECK(pthread_detach(t) == ESRCH, "detach of a joined thread");
	CHECK(pthread_kill(t, 0) == 0, "signal 0 to a joined thread");

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < N; i++)
		CHECK(pthread_create(&gone[i], &a, end_at_once, NULL) == 0, "create detached");
	pthread_attr_destroy(&a);
	while (atomic_load(&stale_ended) < N + 1)
		usleep(1000);
	usleep(50000); /* past their last instructions */
	for (int i = 0; i < N; i++) {
		CHECK(pthread_join(gone[i], NULL) == EINVAL, "join of ended detached thread %d", i);
		CHECK(pthread_detach(gone[i]) == EINVAL, "detach of ended detached thread %d", i);
		CHECK(pthread_kill(gone[i], 0) == 0, "signal 0 to ended detached thread %d", i);
	}
}

/* Under greenshim with GREENSHIM_TLS=shared only: cancellation of a green
 * thread, which has no cleanup chain of its own then, is refused, and the
 * thread goes on to end normally. */
static void case_cancel_refused(void)
{
	pthread_t t;
	void *ret;

	pthread_create(&t, NULL, linger, (void *)9);
	CHECK(pthread_cancel(t) == ENOTSUP, "pthread_cancel of a green thread");
	CHECK(pthread_join(t, &ret) == 0 && ret == (void *)9, "the thread ended normally");
}

/* pthread_sigmask is per thread: inherited at creation, changed for the
 * caller only; a process signal goes to a thread that does not block it,
 * whose sleep it interrupts; a pending signal is delivered when unblocked,
 * before pthread_sigmask returns. */
static volatile sig_atomic_t usr2_seen;

static void on_usr2(int sig)
{
	(void)sig;
	usr2_seen++;
}

static void *mask_child(void *arg)
{
	sigset_t m, one;

	(void)arg;
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &m) == 0, "child: read mask");
	CHECK(sigismember(&m, SIGUSR1) == 1, "a new thread must inherit its creator's mask");
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	CHECK(sigprocmask(SIG_UNBLOCK, &one, NULL) == 0, "child: sigprocmask unblock");
	CHECK(pthread_sigmask(SIG_SETMASK, NULL, &m) == 0 && sigismember(&m, SIGUSR1) == 0,
	      "child: SIGUSR1 still blocked after unblocking it");
	return NULL;
}

static void *sleepy_receiver(void *arg)
{
	sigset_t none;
	int r;

	sigemptyset(&none);
	CHECK(pthread_sigmask(SIG_SETMASK, &none, NULL) == 0, "receiver: unblock all");
	*(int *)arg = 1;
	r = usleep(2000000);
	CHECK(r == -1 && errno == EINTR, "the receiver's sleep: %d (%s), not EINTR", r,
	      strerror(errno));
	CHECK(usr2_seen == 1, "the handler ran %d times before EINTR", (int)usr2_seen);
	return NULL;
}

static volatile unsigned long mask_spin;
static double computed_until, slept_until;

static void *blocks_everything_and_computes(void *arg)
{
	sigset_t all;
	double t0 = now_ms();

	(void)arg;
	sigfillset(&all);
	CHECK(pthread_sigmask(SIG_BLOCK, &all, NULL) == 0, "block all");
	while (now_ms() - t0 < 200)
		mask_spin++;
	computed_until = now_ms();
	return NULL;
}

static void *count_sleeps(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		usleep(2000);
	slept_until = now_ms();
	return NULL;
}

static void case_sigmask(void)
{
	sigset_t m, one, all, saved;
	pthread_t t, u;
	struct sigaction sa;
	int ready = 0;

	CHECK(pthread_sigmask(SIG_SETMASK, NULL, &saved) == 0, "read the mask");
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	CHECK(pthread_sigmask(SIG_BLOCK, &one, NULL) == 0, "block SIGUSR1");
	CHECK(pthread_create(&t, NULL, mask_child, NULL) == 0 && pthread_join(t, NULL) == 0,
	      "mask child");
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &m) == 0 && sigismember(&m, SIGUSR1) == 1,
	      "the child's unblock changed its creator's mask");

	/* Errors and what cannot be blocked, as glibc. */
	CHECK(pthread_sigmask(12345, &one, NULL) == EINVAL, "pthread_sigmask with a bad how");
	errno = 0;
	CHECK(sigprocmask(12345, &one, NULL) == -1 && errno == EINVAL, "sigprocmask with a bad how");
	CHECK(pthread_sigmask(12345, NULL, &m) == 0, "a bad how is ignored without a set");
	sigfillset(&all);
	CHECK(pthread_sigmask(SIG_BLOCK, &all, &m) == 0, "block everything");
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &m) == 0, "read the mask");
	CHECK(sigismember(&m, SIGKILL) == 0 && sigismember(&m, SIGSTOP) == 0,
	      "SIGKILL or SIGSTOP reads back as blocked");
	CHECK(sigismember(&m, SIGTERM) == 1 && sigismember(&m, SIGRTMAX) == 1,
	      "SIGTERM or SIGRTMAX is not blocked");
	CHECK(sigismember(&m, 32) == 0 && sigismember(&m, 33) == 0,
	      "glibc's SIGCANCEL or SIGSETXID reads back as blocked");
	CHECK(pthread_sigmask(SIG_SETMASK, &saved, NULL) == 0, "restore");

	/* A process signal goes to the thread that takes it. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0, "sigaction");
	sigemptyset(&one);
	sigaddset(&one, SIGUSR2);
	CHECK(pthread_sigmask(SIG_BLOCK, &one, NULL) == 0, "block SIGUSR2 in main");
	CHECK(pthread_create(&t, NULL, sleepy_receiver, &ready) == 0, "receiver");
	while (!ready)
		usleep(1000);
	usleep(20000); /* the receiver is asleep */
	CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
	CHECK(pthread_join(t, NULL) == 0, "join the receiver");

	/* Blocked everywhere: pending until unblocked, then handled at once. */
	usr2_seen = 0;
	CHECK(kill(getpid(), SIGUSR2) == 0, "kill");
	usleep(10000);
	CHECK(usr2_seen == 0, "a blocked signal's handler ran");
	CHECK(sigpending(&m) == 0 && sigismember(&m, SIGUSR2) == 1, "SIGUSR2 is not pending");
	CHECK(pthread_sigmask(SIG_UNBLOCK, &one, NULL) == 0, "unblock");
	CHECK(usr2_seen == 1, "unblocking a pending signal ran the handler %d times",
	      (int)usr2_seen);

	/* A thread that blocks every signal still shares the CPU. */
	CHECK(pthread_create(&t, NULL, blocks_everything_and_computes, NULL) == 0 &&
	      pthread_create(&u, NULL, count_sleeps, NULL) == 0, "compute beside sleeps");
	CHECK(pthread_join(u, NULL) == 0 && pthread_join(t, NULL) == 0, "join");
	CHECK(slept_until < computed_until,
	      "ten 2 ms sleeps ended %.0f ms after 200 ms of computing with all signals blocked",
	      slept_until - computed_until);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR2, &sa, NULL);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "mutex_kinds", case_mutex_kinds },
		{ "producer_consumer", case_producer_consumer },
		{ "cond_timeouts", case_cond_timeouts },
		{ "semaphores", case_semaphores },
		{ "keys_and_once", case_keys_and_once },
		{ "ten_thousand", case_ten_thousand },
		{ "spinlock", case_spinlock },
		{ "rwlock", case_rwlock },
		{ "rwlock_readers_first", case_rwlock_readers_first },
		{ "barrier", case_barrier },
		{ "c11", case_c11 },
		{ "futex", case_futex },
		{ "futex_shared", case_futex_shared },
		{ "shared_mutexes", case_shared_mutexes },
		{ "shared_cond_checked", case_shared_cond_checked },
		{ "thread_api", case_thread_api },
		{ "stale_handles", case_stale_handles },
		{ "cancel_refused", case_cancel_refused },
		{ "sigmask", case_sigmask },
	};

	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
