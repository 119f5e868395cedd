/*
 * Green mutex, condition variable, counting semaphore, reader-writer lock
 * and barrier.
 *
 * What it owns: the blocking logic the pthread, POSIX semaphore and C11
 * layers (preload/) are built on; those add types, attributes and error
 * checks. All objects are local to one hub: every thread that uses one runs
 * on the same OS thread, so no atomics are needed.
 *
 * Mutex fairness: unlock frees the mutex and wakes the first waiter, which
 * retries; a running thread may take the mutex first ("barging"), as with
 * glibc, so a thread that unlocks and relocks keeps running without a
 * switch. A woken waiter that loses that race goes back to the head of the
 * queue and turns the mutex into hand-off mode: the next unlock gives it the
 * mutex directly. Barging is cheap, hand-off guarantees no waiter starves.
 *
 * Reader-writer lock: waiters queue in arrival order; whoever releases
 * grants the lock to the head of the queue while it can (a writer alone,
 * or a run of readers), so a woken thread owns what it waited for. A reader
 * that arrives while no writer holds the lock gets in at once with
 * GSYNC_RW_PREFER_READERS (glibc's default kind), otherwise only while no
 * writer waits.
 *
 * Barrier: the thread that completes a round starts the next one and wakes
 * the others; a woken thread checks that its round is over, so a stray
 * wake-up never lets it through early.
 *
 * Semaphore: a post with waiters hands its unit straight to the first one
 * (its value stays 0), so units cannot be stolen from a woken waiter. A
 * wait is interruptible as glibc's: a handler ends it with -EINTR, except
 * an SA_RESTART one during a wait without deadline (sem_wait), which
 * waits again; a post after the interruption goes to the value.
 */
#include "runtime.h"

void gsync_mutex_init(struct gsync_mutex *m)
{
	m->owner = NULL;
	m->count = 0;
	m->handoff = false;
	waitq_init(&m->q);
}

int gsync_mutex_trylock(struct gsync_mutex *m)
{
	struct green *self = green_self();

	if (m->owner != NULL)
		return m->owner == self ? -EDEADLK : -EBUSY;
	m->owner = self;
	return 0;
}

int gsync_mutex_lock(struct gsync_mutex *m, int64_t deadline)
{
	struct green *self = green_self();
	bool front = false;

	if (GS_LIKELY(m->owner == NULL)) {
		m->owner = self;
		return 0;
	}
	if (m->owner == self)
		return -EDEADLK;
	for (;;) {
		struct wait w;
		struct waiter e;
		int r;

		wait_init(&w);
		wait_label(&w, WAIT_MUTEX, m, 0);
		if (front)
			waitq_add_front(&m->q, &e, &w, 0);
		else
			waitq_add(&m->q, &e, &w, 0);
		r = wait_park(&w, deadline);
		waitq_remove(&e);
		if (r == WAKE_OWNED)
			return 0;
		if (r < 0) {
			if (waitq_empty(&m->q))
				m->handoff = false;
			return r;
		}
		if (m->owner == NULL) {
			m->owner = self;
			return 0;
		}
		front = true;
		m->handoff = true;
	}
}

int gsync_mutex_unlock(struct gsync_mutex *m)
{
	struct waiter *e;

	if (m->owner != green_self())
		return -EPERM;
	if (m->handoff) {
		e = waitq_pop_live(&m->q);
		if (e != NULL) {
			m->owner = e->wait->g;
			wait_complete(e->wait, WAKE_OWNED);
			if (waitq_empty(&m->q))
				m->handoff = false;
			return 0;
		}
		m->handoff = false;
	}
	m->owner = NULL;
	waitq_wake_one(&m->q, WAKE_RETRY);
	return 0;
}

void gsync_cond_init(struct gsync_cond *c)
{
	waitq_init(&c->q);
}

int gsync_cond_wait(struct gsync_cond *c, struct gsync_mutex *m, int64_t deadline)
{
	struct wait w;
	struct waiter e;
	int r, r2;

	if (m->owner != green_self())
		return -EPERM;
	wait_init(&w);
	w.cancelpoint = true; /* pthread_cond_wait is one */
	wait_label(&w, WAIT_COND, c, 0);
	waitq_add(&c->q, &e, &w, 0);
	gsync_mutex_unlock(m);
	r = wait_park(&w, deadline);
	waitq_remove(&e);
	/* POSIX: the mutex is held again on return, whatever the outcome. */
	do
		r2 = gsync_mutex_lock(m, GS_NO_DEADLINE);
	while (r2 < 0 && r2 != -EDEADLK);
	return r < 0 ? r : 0;
}

void gsync_cond_signal(struct gsync_cond *c)
{
	waitq_wake_one(&c->q, WAKE_OK);
}

void gsync_cond_broadcast(struct gsync_cond *c)
{
	waitq_wake_all(&c->q, WAKE_OK);
}

int gsync_sem_init(struct gsync_sem *s, unsigned long value)
{
	if (value > GSYNC_SEM_MAX)
		return -EINVAL;
	s->count = (uint32_t)value;
	waitq_init(&s->q);
	return 0;
}

int gsync_sem_trywait(struct gsync_sem *s)
{
	if (s->count == 0)
		return -EAGAIN;
	s->count--;
	return 0;
}

int gsync_sem_wait(struct gsync_sem *s, int64_t deadline)
{
	struct wait w;
	struct waiter e;
	int r;

	do {
		if (s->count > 0) {
			s->count--;
			return 0;
		}
		wait_init_interruptible(&w);
		wait_label(&w, WAIT_SEM, s, 0);
		waitq_add(&s->q, &e, &w, 0);
		r = wait_park(&w, deadline);
		waitq_remove(&e);
		/* glibc waits in FUTEX_WAIT_BITSET: without a timeout an
		 * SA_RESTART handler restarts it, with one the kernel ends it
		 * with EINTR (signal(7)). */
	} while (r == WAKE_SIGNAL && deadline == GS_NO_DEADLINE);
	if (r == WAKE_SIGNAL)
		return -EINTR;
	return r == WAKE_OWNED ? 0 : r;
}

int gsync_sem_post(struct gsync_sem *s)
{
	struct waiter *e = waitq_pop_live(&s->q);

	if (e != NULL) {
		wait_complete(e->wait, WAKE_OWNED);
		return 0;
	}
	if (s->count >= GSYNC_SEM_MAX)
		return -EOVERFLOW;
	s->count++;
	return 0;
}

#define RW_WRITER 0x100u /* waiter flag: wants to write */

void gsync_rwlock_init(struct gsync_rwlock *l, uint32_t kind)
{
	l->readers = 0;
	l->writers_waiting = 0;
	l->writer = NULL;
	waitq_init(&l->q);
	l->kind = kind;
}

/* Grants the lock to the head of the queue for as long as it can. */
static void rwlock_grant(struct gsync_rwlock *l)
{
	struct waiter *e;

	while ((e = l->q.head) != NULL) {
		bool write = e->flags & RW_WRITER;

		if (e->wait->done) {
			waitq_remove(e);
			continue;
		}
		if (l->writer != NULL || (write && l->readers > 0))
			return;
		if (write)
			l->writer = e->wait->g;
		else
			l->readers++;
		waitq_remove(e);
		wait_complete(e->wait, WAKE_OWNED);
		if (write)
			return;
	}
}

int gsync_rwlock_trylock(struct gsync_rwlock *l, bool write)
{
	bool can = write ? l->writer == NULL && l->readers == 0 && waitq_empty(&l->q)
			  : l->writer == NULL &&
				    (l->kind == GSYNC_RW_PREFER_READERS || l->writers_waiting == 0);

	if (!can)
		return -EBUSY;
	if (write)
		l->writer = green_self();
	else
		l->readers++;
	return 0;
}

int gsync_rwlock_lock(struct gsync_rwlock *l, bool write, int64_t deadline)
{
	struct wait w;
	struct waiter e;
	int r;

	if (l->writer == green_self())
		return -EDEADLK;
	if (gsync_rwlock_trylock(l, write) == 0)
		return 0;
	wait_init(&w);
	wait_label(&w, WAIT_RWLOCK, l, 0);
	waitq_add(&l->q, &e, &w, write ? RW_WRITER : 0);
	l->writers_waiting += write;
	r = wait_park(&w, deadline);
	l->writers_waiting -= write;
	waitq_remove(&e);
	if (r == WAKE_OWNED)
		return 0;
	rwlock_grant(l); /* readers behind a writer that gave up may go now */
	return -ETIMEDOUT;
}

int gsync_rwlock_unlock(struct gsync_rwlock *l)
{
	if (l->writer != NULL) {
		if (l->writer != green_self())
			return -EPERM;
		l->writer = NULL;
	} else if (l->readers > 0) {
		l->readers--;
	} else {
		return -EPERM;
	}
	rwlock_grant(l);
	return 0;
}

bool gsync_rwlock_busy(const struct gsync_rwlock *l)
{
	return l->writer != NULL || l->readers > 0 || !waitq_empty(&l->q);
}

int gsync_barrier_init(struct gsync_barrier *b, unsigned count)
{
	if (count == 0)
		return -EINVAL;
	b->count = count;
	b->arrived = 0;
	b->round = 0;
	waitq_init(&b->q);
	return 0;
}

int gsync_barrier_wait(struct gsync_barrier *b)
{
	uint32_t round;

	if (++b->arrived == b->count) {
		b->arrived = 0;
		b->round++;
		waitq_wake_all(&b->q, WAKE_OK);
		return GSYNC_BARRIER_SERIAL;
	}
	round = b->round;
	while (b->round == round)
		waitq_wait_as(&b->q, GS_NO_DEADLINE, WAIT_BARRIER, b);
	return 0;
}

bool gsync_barrier_busy(const struct gsync_barrier *b)
{
	return b->arrived > 0;
}
