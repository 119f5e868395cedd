/* Wait queues, and the green mutex, condition variable and semaphore. */
#include <stdint.h>

#include "unit.h"

static struct waitq q;
static int seq[8], nseq;

static void *wait_and_record(void *arg)
{
	int r = waitq_wait(&q, GS_NO_DEADLINE);

	seq[nseq++] = (int)(intptr_t)arg * 10 + r;
	return NULL;
}

START_TEST(waitq_wakes_one_at_a_time_in_fifo_order_then_all)
{
	struct green *g[4];

	waitq_init(&q);
	nseq = 0;
	ck_assert_int_eq(waitq_wake_one(&q, 0), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(green_spawn(NULL, wait_and_record, (void *)(intptr_t)i, &g[i]), 0);
	green_yield();
	ck_assert_int_eq(waitq_wake_one(&q, 1), 1);
	green_yield();
	ck_assert_int_eq(nseq, 1);
	ck_assert_int_eq(seq[0], 0 * 10 + 1);
	ck_assert_uint_eq(waitq_wake_all(&q, 2), 3);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(nseq, 4);
	ck_assert_int_eq(seq[1], 12);
	ck_assert_int_eq(seq[2], 22);
	ck_assert_int_eq(seq[3], 32);
}
END_TEST

START_TEST(a_timed_out_waiter_leaves_the_queue_and_is_not_woken_later)
{
	waitq_init(&q);
	ck_assert_int_eq(waitq_wait(&q, gs_deadline_after(2 * 1000000)), -ETIMEDOUT);
	ck_assert(waitq_empty(&q));
	ck_assert_int_eq(waitq_wake_one(&q, 0), 0);
}
END_TEST

static struct gsync_mutex m;
static struct gsync_cond c;
static int shared_counter;

static void *lock_sleep_unlock(void *arg)
{
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(gsync_mutex_lock(&m, GS_NO_DEADLINE), 0);
		int seen = shared_counter;

		green_yield(); /* others run while we hold it */
		shared_counter = seen + 1;
		ck_assert_int_eq(gsync_mutex_unlock(&m), 0);
	}
	return arg;
}

START_TEST(mutex_excludes_across_switches_inside_the_critical_section)
{
	struct green *g[5];

	gsync_mutex_init(&m);
	shared_counter = 0;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(green_spawn(NULL, lock_sleep_unlock, NULL, &g[i]), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(shared_counter, 50);
	ck_assert_ptr_null(m.owner);
}
END_TEST

static void *try_then_timed_lock(void *arg)
{
	(void)arg;
	if (gsync_mutex_trylock(&m) != -EBUSY)
		return (void *)1;
	if (gsync_mutex_unlock(&m) != -EPERM)
		return (void *)2;
	if (gsync_mutex_lock(&m, gs_deadline_after(5 * 1000000)) != -ETIMEDOUT)
		return (void *)3;
	return NULL;
}

START_TEST(mutex_errors_busy_perm_deadlk_and_timeout)
{
	struct green *g;
	void *ret;

	gsync_mutex_init(&m);
	ck_assert_int_eq(gsync_mutex_lock(&m, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(gsync_mutex_lock(&m, GS_NO_DEADLINE), -EDEADLK);
	ck_assert_int_eq(gsync_mutex_trylock(&m), -EDEADLK);
	ck_assert_int_eq(green_spawn(NULL, try_then_timed_lock, NULL, &g), 0);
	ck_assert_int_eq(green_join(g, &ret, GS_NO_DEADLINE), 0);
	ck_assert_ptr_null(ret);
	ck_assert(waitq_empty(&m.q));
	ck_assert_int_eq(gsync_mutex_unlock(&m), 0);
	ck_assert_int_eq(gsync_mutex_unlock(&m), -EPERM);
}
END_TEST

static int starve_turns;

static void *relock_in_a_loop(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		gsync_mutex_lock(&m, GS_NO_DEADLINE);
		green_sleep_until(gs_deadline_after(200000)); /* hold across a wait */
		gsync_mutex_unlock(&m);
	}
	return NULL;
}

static void *take_once(void *arg)
{
	(void)arg;
	gsync_mutex_lock(&m, GS_NO_DEADLINE);
	starve_turns++;
	gsync_mutex_unlock(&m);
	return NULL;
}

START_TEST(a_woken_waiter_that_keeps_losing_the_race_gets_the_mutex)
{
	struct green *hog, *other;

	gsync_mutex_init(&m);
	starve_turns = 0;
	ck_assert_int_eq(green_spawn(NULL, relock_in_a_loop, NULL, &hog), 0);
	ck_assert_int_eq(green_spawn(NULL, take_once, NULL, &other), 0);
	/* hog relocks right after each unlock; without hand-off the other
	 * thread would only get in after all 20 rounds (4 ms), with it once
	 * it has waited a millisecond. */
	ck_assert_int_eq(green_join(other, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(starve_turns, 1);
	ck_assert_int_ne(hog->state, GREEN_DEAD);
	ck_assert_int_eq(green_join(hog, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

/* The releasing thread's side of the barging tests below. It holds the
 * object; waiter has queued for it since no earlier than start. It
 * releases and at once takes the object back, while the waiter it woke has
 * not run, until a take fails because the release handed the object to the
 * waiter; meanwhile the waiter tries, loses and queues again, and *got (a
 * count the waiter raises once it has the object; NULL: none) stays 0.
 * The hand-off may only come once the waiter has waited a millisecond.
 * How often the releaser took the object back: at least once, and as
 * often as a millisecond allows (once, where a loaded machine took the
 * releaser's OS thread away for that long). */
static int barge_until_handed(int (*release)(void), int (*retake)(void), struct green *waiter,
			      const int *got, int64_t start)
{
	int barged = 0;

	for (;;) {
		ck_assert_int_eq(release(), 0);
		if (retake() != 0)
			break; /* handed to the waiter */
		barged++;
		green_yield(); /* the waiter tries, loses, queues again */
		ck_assert_int_eq(waiter->state, GREEN_PARKED);
		if (got != NULL)
			ck_assert_int_eq(*got, 0);
		ck_assert_int_lt(gs_now_ns() - start, 1000000000);
	}
	ck_assert_int_ge(gs_now_ns() - start, 1000000);
	return barged;
}

static int mutex_release(void)
{
	return gsync_mutex_unlock(&m);
}

static int mutex_retake(void)
{
	return gsync_mutex_trylock(&m);
}

/* The owner of a contended mutex that unlocks and relocks at once keeps
 * it while the waiter it woke has not run, as with glibc; the waiter is
 * handed it once it has lost for a millisecond, not at its first loss
 * (that made a convoy across hubs: the mutex owned by a thread waiting
 * for its hub's turn). */
START_TEST(a_running_owner_relocks_until_the_waiter_starves)
{
	struct green *g;
	int64_t start;

	gsync_mutex_init(&m);
	starve_turns = 0;
	ck_assert_int_eq(gsync_mutex_lock(&m, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_spawn(NULL, take_once, NULL, &g), 0);
	start = gs_now_ns(); /* no later than the waiter queues */
	green_yield();
	ck_assert_int_ge(barge_until_handed(mutex_release, mutex_retake, g, &starve_turns, start), 1);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(starve_turns, 1);
	/* Hand-off ended with the grant. */
	ck_assert_int_eq(gsync_mutex_trylock(&m), 0);
	ck_assert_int_eq(gsync_mutex_unlock(&m), 0);
	ck_assert(!gsync_mutex_busy(&m));
}
END_TEST

static int items, consumed;

static void *consumer(void *arg)
{
	(void)arg;
	gsync_mutex_lock(&m, GS_NO_DEADLINE);
	while (consumed < 100) {
		while (items == 0 && consumed < 100)
			gsync_cond_wait(&c, &m, GS_NO_DEADLINE);
		if (items > 0) {
			items--;
			consumed++;
		}
		gsync_cond_broadcast(&c);
	}
	gsync_mutex_unlock(&m);
	return NULL;
}

START_TEST(cond_producer_consumer_delivers_every_item)
{
	struct green *g[3];

	gsync_mutex_init(&m);
	gsync_cond_init(&c);
	items = consumed = 0;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_spawn(NULL, consumer, NULL, &g[i]), 0);
	for (int i = 0; i < 100; i++) {
		gsync_mutex_lock(&m, GS_NO_DEADLINE);
		items++;
		gsync_cond_signal(&c);
		gsync_mutex_unlock(&m);
		if (i % 7 == 0)
			green_yield();
	}
	gsync_mutex_lock(&m, GS_NO_DEADLINE);
	while (consumed < 100)
		gsync_cond_wait(&c, &m, GS_NO_DEADLINE);
	gsync_cond_broadcast(&c);
	gsync_mutex_unlock(&m);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(consumed, 100);
	ck_assert_int_eq(items, 0);
}
END_TEST

START_TEST(cond_timedwait_times_out_with_the_mutex_held_again)
{
	int64_t t0 = gs_now_ns();

	gsync_mutex_init(&m);
	gsync_cond_init(&c);
	ck_assert_int_eq(gsync_cond_wait(&c, &m, GS_NO_DEADLINE), -EPERM);
	gsync_mutex_lock(&m, GS_NO_DEADLINE);
	ck_assert_int_eq(gsync_cond_wait(&c, &m, gs_deadline_after(10 * 1000000)), -ETIMEDOUT);
	ck_assert_double_ge(ms_since(t0), 10.0);
	ck_assert_ptr_eq(m.owner, green_self());
	ck_assert(waitq_empty(&c.q));
	gsync_mutex_unlock(&m);
}
END_TEST

static struct gsync_sem sem;

static void *sem_take(void *arg)
{
	int r = gsync_sem_wait(&sem, GS_NO_DEADLINE);

	return (void *)(intptr_t)(r == 0 ? (intptr_t)arg : -1);
}

START_TEST(semaphore_counts_wakes_waiters_in_order_and_times_out)
{
	struct green *g[3];
	void *ret;

	ck_assert_int_eq(gsync_sem_init(&sem, GSYNC_SEM_MAX + 1), -EINVAL);
	ck_assert_int_eq(gsync_sem_init(&sem, 2), 0);
	ck_assert_int_eq(gsync_sem_trywait(&sem), 0);
	ck_assert_int_eq(gsync_sem_wait(&sem, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(gsync_sem_trywait(&sem), -EAGAIN);
	ck_assert_int_eq(gsync_sem_wait(&sem, gs_deadline_after(3 * 1000000)), -ETIMEDOUT);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_spawn(NULL, sem_take, (void *)(intptr_t)(i + 1), &g[i]), 0);
	green_yield();
	ck_assert_int_eq(gsync_sem_post(&sem), 0);
	/* In the value until the waiter woken runs and takes it, as glibc's. */
	ck_assert_uint_eq(sem.count, 1);
	ck_assert_int_eq(gsync_sem_post(&sem), 0);
	ck_assert_int_eq(gsync_sem_post(&sem), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(green_join(g[i], &ret, GS_NO_DEADLINE), 0);
		ck_assert_int_eq((intptr_t)ret, i + 1);
	}
	ck_assert_uint_eq(sem.count, 0);
	sem.count = GSYNC_SEM_MAX;
	ck_assert_int_eq(gsync_sem_post(&sem), -EOVERFLOW);
}
END_TEST

static int sem_release(void)
{
	return gsync_sem_post(&sem);
}

static int sem_retake(void)
{
	return gsync_sem_trywait(&sem);
}

/* A thread that posts and waits again at once takes its unit back while
 * the waiter it woke has not run, as with glibc's semaphore (a semaphore
 * used as a lock); the waiter is handed a unit once it has lost for a
 * millisecond. */
START_TEST(a_posting_thread_may_take_its_unit_back_until_the_waiter_starves)
{
	struct green *g;
	int64_t start;
	void *ret;

	ck_assert_int_eq(gsync_sem_init(&sem, 0), 0);
	ck_assert_int_eq(green_spawn(NULL, sem_take, (void *)(intptr_t)7, &g), 0);
	start = gs_now_ns(); /* no later than the waiter queues */
	green_yield();
	ck_assert_int_ge(barge_until_handed(sem_release, sem_retake, g, NULL, start), 1);
	ck_assert_uint_eq(sem.count, 0);
	ck_assert_int_eq(green_join(g, &ret, GS_NO_DEADLINE), 0);
	ck_assert_int_eq((intptr_t)ret, 7);
	/* Hand-off ended with the unit handed over. */
	ck_assert_int_eq(gsync_sem_post(&sem), 0);
	ck_assert_uint_eq(sem.count, 1);
}
END_TEST

static struct gsync_rwlock rw;
static int rw_log[16], rw_nlog;

/* Takes rw to read (arg even) or write (arg odd), notes it, yields while
 * holding it, and leaves. */
static void *rw_take(void *arg)
{
	int id = (int)(intptr_t)arg;

	ck_assert_int_eq(gsync_rwlock_lock(&rw, id & 1, GS_NO_DEADLINE), 0);
	rw_log[rw_nlog++] = id;
	green_yield();
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	return NULL;
}

START_TEST(rwlock_shares_reads_excludes_writes_and_grants_in_arrival_order)
{
	struct green *g[4];

	gsync_rwlock_init(&rw, 1); /* not GSYNC_RW_PREFER_READERS */
	rw_nlog = 0;
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), -EPERM);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, false, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(gsync_rwlock_trylock(&rw, false), 0); /* readers share */
	ck_assert_int_eq(gsync_rwlock_trylock(&rw, true), -EBUSY);
	/* Queued: a writer (1), then readers (2, 4), then a writer (3). */
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)1, &g[0]), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)2, &g[1]), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)4, &g[2]), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)3, &g[3]), 0);
	green_yield();
	ck_assert_int_eq(rw_nlog, 0);
	/* A writer waits: without reader preference a new reader queues. */
	ck_assert_int_eq(gsync_rwlock_trylock(&rw, false), -EBUSY);
	ck_assert(gsync_rwlock_busy(&rw));
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	ck_assert_int_eq(rw_nlog, 0); /* one reader still holds it */
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(rw_nlog, 4);
	ck_assert_int_eq(rw_log[0], 1);
	/* Both readers were granted together when the writer left. */
	ck_assert_int_eq(rw_log[1] + rw_log[2], 2 + 4);
	ck_assert_int_eq(rw_log[3], 3);
	ck_assert(!gsync_rwlock_busy(&rw));
}
END_TEST

START_TEST(rwlock_reader_preference_deadlock_and_a_writer_that_times_out)
{
	struct green *g;

	gsync_rwlock_init(&rw, GSYNC_RW_PREFER_READERS);
	rw_nlog = 0;
	ck_assert_int_eq(gsync_rwlock_lock(&rw, true, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, true, GS_NO_DEADLINE), -EDEADLK);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, false, GS_NO_DEADLINE), -EDEADLK);
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, false, GS_NO_DEADLINE), 0);
	/* A writer queues behind the reader and gives up; a reader that
	 * queued behind the writer is let in then, not left waiting. */
	gsync_rwlock_init(&rw, 1);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, false, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)2, &g), 0);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, true, gs_deadline_after(3 * 1000000)),
			 -ETIMEDOUT);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(rw_nlog, 1);
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	/* With reader preference, readers pass a waiting writer. */
	gsync_rwlock_init(&rw, GSYNC_RW_PREFER_READERS);
	ck_assert_int_eq(gsync_rwlock_lock(&rw, false, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)1, &g), 0);
	green_yield();
	ck_assert_int_eq(gsync_rwlock_trylock(&rw, false), 0);
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(rw_log[1], 1);
}
END_TEST

/* With reader preference (glibc's default), a reader queued behind a
 * waiting writer goes in as soon as the writer that held the lock leaves,
 * before the waiting writer, as glibc lets readers in whenever no writer
 * holds the lock. */
START_TEST(rwlock_with_reader_preference_lets_queued_readers_pass_a_waiting_writer)
{
	struct green *g[3];

	gsync_rwlock_init(&rw, GSYNC_RW_PREFER_READERS);
	rw_nlog = 0;
	ck_assert_int_eq(gsync_rwlock_lock(&rw, true, GS_NO_DEADLINE), 0);
	/* Queued: a writer (1), then readers (2, 4). */
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)1, &g[0]), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)2, &g[1]), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)4, &g[2]), 0);
	green_yield();
	ck_assert_int_eq(rw_nlog, 0);
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(rw_nlog, 3);
	ck_assert_int_eq(rw_log[0] + rw_log[1], 2 + 4);
	ck_assert_int_eq(rw_log[2], 1);
	ck_assert(!gsync_rwlock_busy(&rw));
}
END_TEST

static int rw_release(void)
{
	return gsync_rwlock_unlock(&rw);
}

static int rw_retake(void)
{
	return gsync_rwlock_trylock(&rw, true);
}

/* A release wakes the waiter, which tries again when it runs: meanwhile
 * the thread that released may take the lock once more, as natively with
 * glibc's lock (a lock handed to a waiter that has not run yet made a
 * convoy of threads on two hubs). A waiter that keeps losing has it handed
 * over once it has waited a millisecond. */
START_TEST(rwlock_lets_a_running_thread_in_yet_starves_no_waiter)
{
	struct green *g;
	int64_t start;

	gsync_rwlock_init(&rw, GSYNC_RW_PREFER_READERS);
	rw_nlog = 0;
	ck_assert_int_eq(gsync_rwlock_lock(&rw, true, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_spawn(NULL, rw_take, (void *)(intptr_t)1, &g), 0);
	start = gs_now_ns(); /* no later than the writer queues */
	green_yield();
	ck_assert_int_gt(barge_until_handed(rw_release, rw_retake, g, &rw_nlog, start), 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(rw_nlog, 1);
	/* Hand-off ended with the grant: a free lock is anyone's again. */
	ck_assert_int_eq(gsync_rwlock_trylock(&rw, false), 0);
	ck_assert_int_eq(gsync_rwlock_unlock(&rw), 0);
	ck_assert(!gsync_rwlock_busy(&rw));
}
END_TEST

static struct gsync_barrier bar;
static int bar_serial, bar_passed[3];

static void *barrier_rounds(void *arg)
{
	int id = (int)(intptr_t)arg;

	/* The others wait at the barrier meanwhile: busy, whatever order
	 * the hub runs the three in. */
	if (id == 0)
		ck_assert_int_eq(green_sleep_until(gs_deadline_after(5 * 1000000LL)), 0);
	for (int round = 0; round < 5; round++) {
		int r = gsync_barrier_wait(&bar);

		ck_assert(r == 0 || r == GSYNC_BARRIER_SERIAL);
		bar_serial += r == GSYNC_BARRIER_SERIAL;
		/* Nobody is a round ahead of anyone else. */
		for (int i = 0; i < 3; i++)
			ck_assert_int_ge(bar_passed[i], round);
		bar_passed[id] = round + 1;
	}
	return NULL;
}

START_TEST(barrier_lets_a_round_through_together_with_one_serial_thread)
{
	struct green *g[3];

	ck_assert_int_eq(gsync_barrier_init(&bar, 0), -EINVAL);
	ck_assert_int_eq(gsync_barrier_init(&bar, 3), 0);
	bar_serial = 0;
	for (int i = 0; i < 3; i++) {
		bar_passed[i] = 0;
		ck_assert_int_eq(green_spawn(NULL, barrier_rounds, (void *)(intptr_t)i, &g[i]), 0);
	}
	green_yield();
	ck_assert(gsync_barrier_busy(&bar));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(bar_serial, 5);
	ck_assert(!gsync_barrier_busy(&bar));
}
END_TEST

Suite *suite_sync(void)
{
	Suite *s = suite_create("sync");
	TCase *t = tcase_create("primitives");

	tcase_add_test(t, waitq_wakes_one_at_a_time_in_fifo_order_then_all);
	tcase_add_test(t, a_timed_out_waiter_leaves_the_queue_and_is_not_woken_later);
	tcase_add_test(t, mutex_excludes_across_switches_inside_the_critical_section);
	tcase_add_test(t, mutex_errors_busy_perm_deadlk_and_timeout);
	tcase_add_test(t, a_woken_waiter_that_keeps_losing_the_race_gets_the_mutex);
	tcase_add_test(t, a_running_owner_relocks_until_the_waiter_starves);
	tcase_add_test(t, cond_producer_consumer_delivers_every_item);
	tcase_add_test(t, cond_timedwait_times_out_with_the_mutex_held_again);
	tcase_add_test(t, semaphore_counts_wakes_waiters_in_order_and_times_out);
	tcase_add_test(t, a_posting_thread_may_take_its_unit_back_until_the_waiter_starves);
	tcase_add_test(t, rwlock_shares_reads_excludes_writes_and_grants_in_arrival_order);
	tcase_add_test(t, rwlock_reader_preference_deadlock_and_a_writer_that_times_out);
	tcase_add_test(t, rwlock_lets_a_running_thread_in_yet_starves_no_waiter);
	tcase_add_test(t, rwlock_with_reader_preference_lets_queued_readers_pass_a_waiting_writer);
	tcase_add_test(t, barrier_lets_a_round_through_together_with_one_serial_thread);
	suite_add_tcase(s, t);
	return s;
}
