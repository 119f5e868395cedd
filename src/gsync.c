/*
 * Green mutex, condition variable, counting semaphore, reader-writer lock
 * and barrier.
 *
 * What it owns: the blocking logic the pthread, POSIX semaphore and C11
 * layers (preload/) are built on; those add types, attributes and error
 * checks.
 *
 * Threads on several hubs may use one object: each has a lock of two bytes
 * (gsync_lock) over its queue and counters, taken for a few instructions
 * and never across a switch. A waiter queues under the lock, leaves it,
 * then parks; a waker pops it under the lock and completes its wait there
 * (wait_complete: on another hub that posts it to the waiter's), so the
 * entry it holds is alive, and the waiter takes the lock again to leave
 * the queue once it runs. A mutex is taken without the lock when it is
 * free (a compare-and-swap of its owner, as glibc's), so an uncontended
 * lock and unlock pay two atomic instructions, as glibc's do.
 *
 * Contention across hubs: a lock whose owner runs on another hub's OS
 * thread spins a little before it parks (mutex_spin; rwlock_spin, also
 * while readers hold it).
 *
 * Mutex fairness: unlock frees the mutex and wakes the first waiter, which
 * retries; a running thread may take the mutex first ("barging"), as with
 * glibc, so a thread that unlocks and relocks keeps running without a
 * switch. A woken waiter that loses that race goes back to the head of the
 * queue; once it has waited STARVE_NS it turns the mutex into
 * hand-off mode: the next unlock gives it the mutex directly, and the mode
 * ends with that grant. Barging is cheap, hand-off guarantees no waiter
 * starves; handing over at every loss made convoys across hubs.
 *
 * Reader-writer lock: waiters queue in arrival order; whoever releases
 * wakes the head of the queue (a writer, or the readers in a row there) to
 * try again, and a running thread that finds the lock free may take it
 * first (barging, as glibc's and as the mutex). A woken waiter that loses
 * goes back to the head; once it has waited STARVE_NS, the next release
 * grants the lock to the head (a writer alone, or a run of readers), so no
 * waiter starves. A reader that arrives while no writer holds the lock
 * gets in at once with GSYNC_RW_PREFER_READERS (glibc's default kind),
 * otherwise only while no writer waits; a woken reader, which was at the
 * head, passes the writers queued behind it. With reader preference a
 * release wakes every queued reader, before the writers.
 *
 * Barrier: the thread that completes a round starts the next one and wakes
 * the others; a woken thread checks that its round is over, so a stray
 * wake-up never lets it through early.
 *
 * Semaphore: a post adds its unit to the value and wakes the first waiter
 * to try for it; a running thread may take it first, as with glibc's, and
 * a woken waiter that loses goes back to the head of the queue until it
 * has waited STARVE_NS, when the next post hands its unit straight to
 * the head (the value stays 0). A wait is interruptible as glibc's: a
 * handler ends it with -EINTR, except an SA_RESTART one during a wait
 * without deadline (sem_wait), which waits again; a post after the
 * interruption goes to the value.
 */
#include "hub_impl.h"
#include "sys.h"

__thread unsigned gs_locks_held __attribute__((tls_model("initial-exec")));
__thread struct wait *gs_posts_held __attribute__((tls_model("initial-exec")));

void gsync_post_held(void)
{
	struct wait *w = gs_posts_held, *rev = NULL, *next;

	gs_posts_held = NULL;
	/* Held as a stack: posted in the order they were completed. */
	for (; w != NULL; w = next) {
		next = w->remote_next;
		w->remote_next = rev;
		rev = w;
	}
	for (w = rev; w != NULL; w = next) {
		next = w->remote_next; /* the post links w anew */
		hub_post_wait(w->g->hub, w);
	}
}

void gsync_lock_slow(uint16_t *l)
{
	for (unsigned spins = 0;; spins++) {
		if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
		    __atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) == 0)
			return;
		/* The holder is another OS thread: let the kernel run it
		 * when it is not running now. */
		if (spins >= 100)
			arch_syscall3(SYS_sched_yield, 0, 0, 0);
		else
			__builtin_ia32_pause();
	}
}

int gsync_wait(uint16_t *lock, struct waitq *q, int64_t deadline, enum wait_kind kind,
	       const void *obj)
{
	struct wait w;
	struct waiter e;
	int r;

	wait_init(&w);
	wait_label(&w, kind, obj, 0);
	waitq_add(q, &e, &w, 0);
	gsync_unlock(lock);
	r = wait_park(&w, deadline);
	gsync_lock(lock);
	waitq_remove(&e);
	return r;
}

void gsync_mutex_init(struct gsync_mutex *m)
{
	m->owner = NULL;
	m->count = 0;
	m->handoff = false;
	m->lock = 0;
	waitq_init(&m->q);
}

static bool mutex_take(struct gsync_mutex *m, struct green *self)
{
	struct green *none = NULL;

	return __atomic_compare_exchange_n(&m->owner, &none, self, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

int gsync_mutex_trylock_as(struct gsync_mutex *m, struct green *owner)
{
	if (mutex_take(m, owner))
		return 0;
	return gsync_mutex_owner(m) == owner ? -EDEADLK : -EBUSY;
}

int gsync_mutex_trylock(struct gsync_mutex *m)
{
	return gsync_mutex_trylock_as(m, green_self());
}

/* A woken waiter that loses the object (mutex, rwlock, semaphore unit) to
 * a running thread, after waiting this long since it first queued, has the
 * next release hand it over (Go's sync.Mutex turns to starvation mode
 * after 1 ms the same way). Handing it over at the first loss made a convoy
 * across hubs: the object owned by a thread still waiting for its hub's
 * turn, every other taker behind it. */
#define STARVE_NS 1000000

/* Queues w (labelled) on q, under the object's lock: at the back the first
 * time (*since: now), at the head once woken to try again and beaten to
 * it. True when such a waiter has waited STARVE_NS: the object is to be
 * handed to it. */
static bool queue_contender(struct waitq *q, struct waiter *e, struct wait *w, unsigned flags,
			    bool woken, int64_t *since)
{
	if (!woken) {
		*since = gs_now_ns();
		waitq_add(q, e, w, flags);
		return false;
	}
	waitq_add_front(q, e, w, flags);
	return gs_now_ns() - *since >= STARVE_NS;
}

/* Spins before a contended lock parks: rounds of MUTEX_SPIN_PAUSES pauses. */
#define MUTEX_SPIN_ROUNDS 4
#define MUTEX_SPIN_PAUSES 30

/* The owner of a contended mutex runs on another hub's OS thread right
 * now, and nothing else is ready on the caller's hub: the owner will most
 * likely unlock within its short critical section, sooner than a park and
 * a wake-up from another hub would take (a few microseconds), so try again
 * a few times first, as glibc's adaptive mutexes and Go's sync.Mutex do
 * when the holder runs on another CPU. With one hub the owner is never
 * running elsewhere: no spin. Which thread each hub runs is read without
 * a lock (sched_runs_elsewhere): a hint, as a stale one only ends the spin
 * or makes one round more; the owner itself is only compared, never read
 * (it may have ended holding the mutex, its memory gone). */
static bool mutex_spin(struct gsync_mutex *m, struct green *self)
{
	for (int round = 0; round < MUTEX_SPIN_ROUNDS; round++) {
		struct green *o = gsync_mutex_owner(m);

		if (o == NULL) {
			if (mutex_take(m, self))
				return true;
			continue;
		}
		if (self->hub->runq_head != NULL || !sched_runs_elsewhere(self->hub, o))
			return false;
		for (int k = 0; k < MUTEX_SPIN_PAUSES; k++)
			__builtin_ia32_pause();
	}
	return mutex_take(m, self);
}

int gsync_mutex_lock(struct gsync_mutex *m, int64_t deadline)
{
	struct green *self = green_self();
	int64_t since = 0;
	bool front = false;

	if (GS_LIKELY(mutex_take(m, self)))
		return 0;
	if (gsync_mutex_owner(m) == self)
		return -EDEADLK;
	if (mutex_spin(m, self))
		return 0;
	gsync_lock(&m->lock);
	for (;;) {
		struct wait w;
		struct waiter e;
		int r;

		/* Under the lock an unlock cannot pass between this try and
		 * the queueing: it would find no waiter to wake. */
		if (mutex_take(m, self)) {
			gsync_unlock(&m->lock);
			return 0;
		}
		/* Woken to retry, and a barging thread took the mutex first:
		 * back to the head of the queue; once it has waited STARVE_NS,
		 * the next unlock hands it over, so no waiter starves. */
		wait_init(&w);
		wait_label(&w, WAIT_MUTEX, m, 0);
		if (queue_contender(&m->q, &e, &w, 0, front, &since))
			m->handoff = true;
		gsync_unlock(&m->lock);
		r = wait_park(&w, deadline);
		if (r == WAKE_OWNED)
			return 0; /* unlinked by the unlock that handed it over */
		gsync_lock(&m->lock);
		waitq_remove(&e);
		if (r < 0) {
			if (waitq_empty(&m->q))
				m->handoff = false;
			gsync_unlock(&m->lock);
			return r;
		}
		front = true;
	}
}

int gsync_mutex_unlock(struct gsync_mutex *m)
{
	return gsync_mutex_unlock_as(m, green_self());
}

int gsync_mutex_unlock_as(struct gsync_mutex *m, struct green *owner)
{
	struct waiter *e;

	if (gsync_mutex_owner(m) != owner)
		return -EPERM;
	gsync_lock(&m->lock);
	if (m->handoff) {
		while ((e = waitq_pop_live(&m->q)) != NULL) {
			__atomic_store_n(&m->owner, e->wait->g, __ATOMIC_RELAXED);
			if (wait_complete(e->wait, WAKE_OWNED)) {
				m->handoff = false;
				gsync_unlock(&m->lock);
				return 0;
			}
		}
		m->handoff = false;
	}
	__atomic_store_n(&m->owner, NULL, __ATOMIC_RELEASE);
	waitq_wake_one(&m->q, WAKE_RETRY);
	gsync_unlock(&m->lock);
	return 0;
}

bool gsync_mutex_busy(struct gsync_mutex *m)
{
	bool busy;

	gsync_lock(&m->lock);
	busy = gsync_mutex_owner(m) != NULL || !waitq_empty(&m->q);
	gsync_unlock(&m->lock);
	return busy;
}

void gsync_cond_init(struct gsync_cond *c)
{
	waitq_init(&c->q);
	c->lock = 0;
	c->waiters = 0;
}

int gsync_cond_wait(struct gsync_cond *c, struct gsync_mutex *m, int64_t deadline)
{
	struct wait w;
	struct waiter e;
	int r, r2;

	if (gsync_mutex_owner(m) != green_self())
		return -EPERM;
	wait_init(&w);
	w.cancelpoint = true; /* pthread_cond_wait is one */
	wait_label(&w, WAIT_COND, c, 0);
	/* Queued before the mutex is released: a signal sent once it is
	 * free finds this waiter. */
	gsync_lock(&c->lock);
	waitq_add(&c->q, &e, &w, 0);
	__atomic_store_n(&c->waiters, c->waiters + 1, __ATOMIC_RELAXED);
	gsync_unlock(&c->lock);
	gsync_mutex_unlock(m);
	r = wait_park(&w, deadline);
	if (r != WAKE_OK) {
		/* Not woken by a signal (timed out, cancelled): a signaller on
		 * another hub may have unlinked e and not yet tried w, which
		 * cond_wake does under the lock. So the lock is taken even
		 * when e looks unlinked: w and e, on this stack, outlive that
		 * try (without it, its claim of a w gone wrote its result
		 * into the frames that had replaced it: CPython 3.13's GIL
		 * with two hubs, a register's upper half zeroed). */
		gsync_lock(&c->lock);
		if (waitq_linked(&e)) {
			waitq_remove(&e);
			__atomic_store_n(&c->waiters, c->waiters - 1, __ATOMIC_RELAXED);
		}
		gsync_unlock(&c->lock);
	}
	/* POSIX: the mutex is held again on return, whatever the outcome. */
	do
		r2 = gsync_mutex_lock(m, GS_NO_DEADLINE);
	while (r2 < 0 && r2 != -EDEADLK);
	return r < 0 ? r : 0;
}

/* Unlinks the waiters woken, and counts them off. Without waiters it
 * returns at once, as glibc's does on a relaxed load of its own count: a
 * waiter that queued before the signaller took the mutex is seen. */
static void cond_wake(struct gsync_cond *c, bool all)
{
	struct waiter *e;

	if (__atomic_load_n(&c->waiters, __ATOMIC_RELAXED) == 0)
		return;
	gsync_lock(&c->lock);
	while ((e = c->q.head) != NULL) {
		bool woke;

		waitq_remove(e);
		__atomic_store_n(&c->waiters, c->waiters - 1, __ATOMIC_RELAXED);
		woke = wait_complete(e->wait, WAKE_OK);
		if (woke && !all)
			break;
	}
	gsync_unlock(&c->lock);
}

void gsync_cond_signal(struct gsync_cond *c)
{
	cond_wake(c, false);
}

void gsync_cond_broadcast(struct gsync_cond *c)
{
	cond_wake(c, true);
}

bool gsync_cond_busy(struct gsync_cond *c)
{
	bool busy;

	gsync_lock(&c->lock);
	busy = !waitq_empty(&c->q);
	gsync_unlock(&c->lock);
	return busy;
}

int gsync_sem_init(struct gsync_sem *s, unsigned long value)
{
	if (value > GSYNC_SEM_MAX)
		return -EINVAL;
	s->count = (uint32_t)value;
	s->lock = 0;
	s->handoff = 0;
	waitq_init(&s->q);
	return 0;
}

int gsync_sem_trywait(struct gsync_sem *s)
{
	int r = -EAGAIN;

	gsync_lock(&s->lock);
	if (s->count > 0) {
		s->count--;
		r = 0;
	}
	gsync_unlock(&s->lock);
	return r;
}

/* A waiter woken by a post tries for the unit when it runs, and a running
 * thread may take it first, as with glibc's semaphore; one that has lost
 * for STARVE_NS has the next post's unit handed to it. Handing every unit
 * to the first waiter made a semaphore used as a lock (CPython's
 * threading.Lock) a convoy across hubs, as it did the mutex. */
int gsync_sem_wait(struct gsync_sem *s, int64_t deadline)
{
	int64_t since = 0;
	bool woken = false;
	struct wait w;
	struct waiter e;
	int r;

	do {
		gsync_lock(&s->lock);
		if (s->count > 0) {
			s->count--;
			gsync_unlock(&s->lock);
			return 0;
		}
		wait_init_interruptible(&w);
		wait_label(&w, WAIT_SEM, s, 0);
		if (queue_contender(&s->q, &e, &w, 0, woken, &since))
			s->handoff = 1;
		gsync_unlock(&s->lock);
		r = wait_park(&w, deadline);
		if (r != WAKE_OWNED) {
			/* Not handed a unit: under the lock even if e looks
			 * unlinked, as in gsync_cond_wait (a post on another
			 * hub may be between unlinking e and trying w). */
			gsync_lock(&s->lock);
			waitq_remove(&e);
			if (r != WAKE_RETRY && waitq_empty(&s->q))
				s->handoff = 0;
			gsync_unlock(&s->lock);
		}
		wait_after(&w);
		woken = r == WAKE_RETRY;
		/* glibc waits in FUTEX_WAIT_BITSET: without a timeout an
		 * SA_RESTART handler restarts it, with one the kernel ends it
		 * with EINTR (signal(7)). */
	} while (r == WAKE_RETRY || (r == WAKE_SIGNAL && deadline == GS_NO_DEADLINE));
	if (r == WAKE_SIGNAL)
		return -EINTR;
	return r == WAKE_OWNED ? 0 : r;
}

int gsync_sem_post(struct gsync_sem *s)
{
	struct waiter *e;
	int r = 0;

	gsync_lock(&s->lock);
	if (s->handoff) {
		while ((e = waitq_pop_live(&s->q)) != NULL)
			if (wait_complete(e->wait, WAKE_OWNED)) {
				s->handoff = 0;
				gsync_unlock(&s->lock);
				return 0;
			}
		s->handoff = 0;
	}
	if (s->count >= GSYNC_SEM_MAX) {
		r = -EOVERFLOW;
	} else {
		s->count++;
		waitq_wake_one(&s->q, WAKE_RETRY);
	}
	gsync_unlock(&s->lock);
	return r;
}

unsigned gsync_sem_value(struct gsync_sem *s)
{
	unsigned v;

	gsync_lock(&s->lock);
	v = s->count;
	gsync_unlock(&s->lock);
	return v;
}

#define RW_WRITER 0x100u /* waiter flag: wants to write */

void gsync_rwlock_init(struct gsync_rwlock *l, uint32_t kind)
{
	l->readers = 0;
	l->writers_waiting = 0;
	l->writer = NULL;
	l->lock = 0;
	l->handoff = 0;
	waitq_init(&l->q);
	l->kind = kind;
}

/* Hand-off: grants the lock to the head of the queue for as long as it
 * can; the caller holds l->lock. Once it granted something, the lock goes
 * back to letting whoever comes take it. */
static void rwlock_grant(struct gsync_rwlock *l)
{
	struct waiter *e;

	while ((e = l->q.head) != NULL) {
		bool write = e->flags & RW_WRITER;

		if (wait_done(e->wait)) {
			waitq_remove(e);
			continue;
		}
		if (l->writer != NULL || (write && l->readers > 0))
			return;
		waitq_remove(e);
		if (write)
			l->writer = e->wait->g;
		else
			l->readers++;
		if (!wait_complete(e->wait, WAKE_OWNED)) {
			/* Ended by its own hub meanwhile: not granted. */
			if (write)
				l->writer = NULL;
			else
				l->readers--;
			continue;
		}
		l->handoff = 0;
		if (write)
			return;
	}
}

/* With reader preference, every reader queued (behind a writer that
 * held the lock) may go in once no writer holds it, waiting writers or
 * not, as with glibc's default kind: all of them are woken. Whether one
 * was; the caller holds l->lock. */
static bool rwlock_wake_readers(struct gsync_rwlock *l)
{
	struct waiter *e, *next;
	bool woken = false;

	for (e = l->q.head; e != NULL; e = next) {
		next = e->next;
		if (e->flags & RW_WRITER)
			continue;
		waitq_remove(e);
		woken |= wait_complete(e->wait, WAKE_RETRY);
	}
	return woken;
}

/* The lock is released, or a waiter left: the head of the queue (a writer,
 * or the readers in a row there; with reader preference, every reader
 * queued) is woken to try again if the lock looks free to it now; the
 * caller holds l->lock. */
static void rwlock_wake(struct gsync_rwlock *l)
{
	struct waiter *e;
	bool readers_woken = false;

	if (l->handoff) {
		rwlock_grant(l);
		return;
	}
	if (l->writer == NULL && l->kind == GSYNC_RW_PREFER_READERS && rwlock_wake_readers(l))
		return;
	while (l->writer == NULL && (e = l->q.head) != NULL) {
		bool write = e->flags & RW_WRITER;

		if (write && (l->readers > 0 || readers_woken))
			return;
		waitq_remove(e);
		/* One its own hub ended meanwhile: the next is the head. */
		if (!wait_complete(e->wait, WAKE_RETRY))
			continue;
		if (write)
			return;
		readers_woken = true;
	}
}

/* woken: the caller was at the head of the queue, woken to try again, so
 * the writers that wait are behind it. */
static bool rwlock_take(struct gsync_rwlock *l, bool write, struct green *self, bool woken)
{
	bool can;

	if (l->handoff)
		return false;
	can = write ? l->writer == NULL && l->readers == 0
		    : l->writer == NULL && (woken || l->kind == GSYNC_RW_PREFER_READERS ||
					    l->writers_waiting == 0);
	if (!can)
		return false;
	if (write)
		l->writer = self;
	else
		l->readers++;
	return true;
}

int gsync_rwlock_trylock(struct gsync_rwlock *l, bool write)
{
	bool took;

	gsync_lock(&l->lock);
	took = rwlock_take(l, write, green_self(), false);
	gsync_unlock(&l->lock);
	return took ? 0 : -EBUSY;
}

/* Whether a thread that finds the lock taken should watch it a little
 * before it queues, as mutex_spin: another hub runs now, nothing else is
 * ready on the caller's, and a writer that holds it runs there (readers
 * that hold it are not known; they hold it for short on the whole). The
 * caller holds l->lock. */
static bool rwlock_worth_spinning(const struct gsync_rwlock *l, struct green *self)
{
	if (sched_hubs() == 1 || self->hub->runq_head != NULL)
		return false;
	return l->writer == NULL || sched_runs_elsewhere(self->hub, l->writer);
}

/* Watches l, the caller not holding l->lock, until it looks free to the
 * caller or the spin ends (mutex_spin's rounds); the caller then tries
 * again. Each look takes l->lock for an instant: readers and writers of
 * l's words all hold it. */
static void rwlock_spin(struct gsync_rwlock *l, bool write, struct green *self)
{
	for (int round = 0; round < MUTEX_SPIN_ROUNDS; round++) {
		bool looks_free;

		for (int k = 0; k < MUTEX_SPIN_PAUSES; k++)
			__builtin_ia32_pause();
		gsync_lock(&l->lock);
		looks_free = l->writer == NULL && (!write || l->readers == 0);
		gsync_unlock(&l->lock);
		if (looks_free || self->hub->runq_head != NULL)
			return;
	}
}

/* Barging, as glibc's: whoever finds the lock free takes it, so a woken
 * waiter never holds it before it runs. Handing it to the head of the queue
 * instead made a convoy of threads on two hubs: a lock owned by a thread
 * still waiting for its hub's turn, and every other taker queued behind it
 * (stunnel under OpenSSL 3's locks, docs/BENCHMARKS.md). */
int gsync_rwlock_lock(struct gsync_rwlock *l, bool write, int64_t deadline)
{
	struct green *self = green_self();
	int64_t since = 0;
	bool woken = false, spun = false;

	gsync_lock(&l->lock);
	if (l->writer == self) {
		gsync_unlock(&l->lock);
		return -EDEADLK;
	}
	l->writers_waiting += write;
	for (;;) {
		struct wait w;
		struct waiter e;
		int r;

		if (rwlock_take(l, write, self, woken))
			break;
		if (!spun && !woken && rwlock_worth_spinning(l, self)) {
			spun = true;
			gsync_unlock(&l->lock);
			rwlock_spin(l, write, self);
			gsync_lock(&l->lock);
			continue;
		}
		wait_init(&w);
		wait_label(&w, WAIT_RWLOCK, l, 0);
		if (queue_contender(&l->q, &e, &w, write ? RW_WRITER : 0, woken, &since))
			l->handoff = 1;
		gsync_unlock(&l->lock);
		r = wait_park(&w, deadline);
		gsync_lock(&l->lock);
		waitq_remove(&e);
		if (r == WAKE_OWNED)
			break; /* granted by the unlock */
		if (r < 0) {
			l->writers_waiting -= write;
			if (waitq_empty(&l->q))
				l->handoff = 0;
			/* Whoever it kept waiting (readers behind a writer)
			 * may go now. */
			rwlock_wake(l);
			gsync_unlock(&l->lock);
			return -ETIMEDOUT;
		}
		woken = true;
	}
	l->writers_waiting -= write;
	gsync_unlock(&l->lock);
	return 0;
}

int gsync_rwlock_unlock(struct gsync_rwlock *l)
{
	int r = 0;

	gsync_lock(&l->lock);
	if (l->writer != NULL) {
		if (l->writer != green_self())
			r = -EPERM;
		else
			l->writer = NULL;
	} else if (l->readers > 0) {
		l->readers--;
	} else {
		r = -EPERM;
	}
	if (r == 0)
		rwlock_wake(l);
	gsync_unlock(&l->lock);
	return r;
}

bool gsync_rwlock_busy(struct gsync_rwlock *l)
{
	bool busy;

	gsync_lock(&l->lock);
	busy = l->writer != NULL || l->readers > 0 || !waitq_empty(&l->q);
	gsync_unlock(&l->lock);
	return busy;
}

int gsync_barrier_init(struct gsync_barrier *b, unsigned count)
{
	if (count == 0)
		return -EINVAL;
	b->count = count;
	b->arrived = 0;
	b->round = 0;
	b->lock = 0;
	waitq_init(&b->q);
	return 0;
}

int gsync_barrier_wait(struct gsync_barrier *b)
{
	uint16_t round;

	gsync_lock(&b->lock);
	if (++b->arrived == b->count) {
		b->arrived = 0;
		b->round++;
		waitq_wake_all(&b->q, WAKE_OK);
		gsync_unlock(&b->lock);
		return GSYNC_BARRIER_SERIAL;
	}
	round = b->round;
	while (b->round == round) {
		struct wait w;
		struct waiter e;

		wait_init(&w);
		wait_label(&w, WAIT_BARRIER, b, 0);
		waitq_add(&b->q, &e, &w, 0);
		gsync_unlock(&b->lock);
		wait_park(&w, GS_NO_DEADLINE);
		gsync_lock(&b->lock);
		waitq_remove(&e);
	}
	gsync_unlock(&b->lock);
	return 0;
}

bool gsync_barrier_busy(struct gsync_barrier *b)
{
	bool busy;

	gsync_lock(&b->lock);
	busy = b->arrived > 0;
	gsync_unlock(&b->lock);
	return busy;
}
