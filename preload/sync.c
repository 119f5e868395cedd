/*
 * Mutexes, condition variables, semaphores, rwlocks, barriers, once,
 * spinlocks: green.
 *
 * Each object lives in the program's own pthread_mutex_t, pthread_cond_t
 * or sem_t (the runtime's gsync_* layouts fit inside them, see
 * src/runtime.h): the static initializers are valid green objects, kind
 * included, so objects used before our constructor, or never passed to an
 * init function, work. A wait parks the green thread in the hub.
 *
 * Process-shared objects (PTHREAD_PROCESS_SHARED, semaphores of sem_open)
 * are glibc's: green queues hold addresses of one process. They keep
 * glibc's layout, and a wait on one polls it without blocking the OS
 * thread (trylock, then a green sleep that doubles from 50 us to 5 ms).
 * glibc marks them where this file looks: the mutex kind's pshared bit,
 * bit 0 of a condition variable's __wrefs, a semaphore's private word.
 *
 * A process-shared mutex names its owner by its OS thread's id, and a
 * robust one is on its OS thread's list of robust mutexes, which the
 * kernel walks when the process dies: glibc's calls on one run with that
 * list (tls_robust_begin), and a green thread that holds one whose unlock
 * checks the owner stays on its hub until it lets go (green's os_locks).
 * The robust ones a green thread still holds when it ends are marked as a
 * dead owner's (sync_thread_exit).
 *
 * The process's only program thread waits for a process-shared
 * semaphore in glibc's call: nothing else could run meanwhile, and a
 * signal ends it as natively.
 *
 * Not green yet (the thread issue): private robust and priority mutexes
 * beyond their plain locking; waits on process-shared semaphores of one of
 * several threads are not interrupted by signals (private ones are, as
 * glibc's).
 */
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <string.h>

#include "preload.h"
#include "../src/sys.h"

#define MUTEX_PSHARED 128 /* glibc's PTHREAD_MUTEX_PSHARED_BIT */
#define MUTEX_ROBUST 16   /* PTHREAD_MUTEX_ROBUST_NORMAL_NP */
#define MUTEX_PRIO_INHERIT 32 /* PTHREAD_MUTEX_PRIO_INHERIT_NP */
#define MUTEX_TYPE_MASK 3 /* PTHREAD_MUTEX_KIND_MASK_NP */
#define COND_PSHARED 1u   /* __wrefs bits, as glibc's pthread_cond_init sets */
#define COND_MONOTONIC 2u

_Static_assert(sizeof(struct gsync_mutex) <= sizeof(pthread_mutex_t), "mutex fits");
_Static_assert(offsetof(struct gsync_mutex, kind) == offsetof(pthread_mutex_t, __data.__kind),
	       "kind where the static initializers put it");
_Static_assert(sizeof(struct gsync_cond) <= offsetof(pthread_cond_t, __data.__wrefs),
	       "cond leaves __wrefs alone");
_Static_assert(sizeof(struct gsync_sem) <= sizeof(sem_t), "sem fits");
_Static_assert(offsetof(struct gsync_sem, reserved) == 8,
	       "glibc's private word (struct new_sem, 64-bit) left where glibc reads it");

static inline struct gsync_mutex *gm(pthread_mutex_t *m)
{
	return (struct gsync_mutex *)(void *)m;
}

static inline struct gsync_cond *gc(pthread_cond_t *c)
{
	return (struct gsync_cond *)(void *)c;
}

static inline struct gsync_sem *gs(sem_t *s)
{
	return (struct gsync_sem *)(void *)s;
}

static bool mutex_shared(pthread_mutex_t *m)
{
	return m->__data.__kind & MUTEX_PSHARED;
}

static bool cond_shared(const pthread_cond_t *c)
{
	return c->__data.__wrefs & COND_PSHARED;
}

static bool sem_shared(sem_t *s)
{
	return gs(s)->reserved[0] != 0; /* glibc's "private" word: 0 = private */
}

/* The calling context's green thread, the hub's own included. */
static struct green *self(void)
{
	struct hub *h = hub_get();

	return h != NULL ? hub_current(h) : NULL;
}

/* Polls a process-shared object: try() until it stops saying busy. */
static int shared_poll(int (*try)(void *), void *obj, int busy, int64_t deadline)
{
	int64_t pause = 50000;

	for (;;) {
		int r = try(obj);

		if (r != busy)
			return r;
		if (gs_now_ns() >= deadline)
			return ETIMEDOUT;
		if (preload_hub() == NULL)
			REAL(sched_yield)();
		else
			green_sleep_until(gs_deadline_after(pause));
		if (pause < 5000000)
			pause *= 2;
	}
}

/* ---- mutexes ----------------------------------------------------------- */

/* glibc's mutexes serve only GREENSHIM_THREADS=native (and process-shared
 * ones). The runtime's own OS threads lock the program's private mutexes
 * as green threads do, for program code runs there too: a pool worker's
 * NSS lookup calls the program's malloc, and jemalloc locks its arenas
 * (glibc's lock on a green mutex waited for ever, and its unlock woke no
 * green waiter). Such a thread has no green to park: it owns a mutex under
 * an address of its own (runtime_owner) and, while the mutex is taken,
 * tries again after pauses that grow from a spin to MUTEX_POLL_MAX_NS. */
static __thread char runtime_mark;
#define MUTEX_POLL_MAX_NS 1000000

static inline bool mutex_glibc(void)
{
	config_load();
	return gs_config.native_threads;
}

static inline struct green *runtime_owner(void)
{
	return (struct green *)(void *)&runtime_mark;
}

/* trylock, or lock (wait) by deadline, for a runtime OS thread. */
static int runtime_mutex_take(pthread_mutex_t *m, bool wait, int64_t deadline)
{
	struct gsync_mutex *g = gm(m);
	struct green *me = runtime_owner();
	int64_t pause = 1000;

	for (;;) {
		if (gsync_mutex_trylock_as(g, me) == 0) {
			g->count = 1;
			return 0;
		}
		if (gsync_mutex_owner(g) == me) {
			if ((g->kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_RECURSIVE) {
				if (g->count == UINT32_MAX)
					return EAGAIN;
				g->count++;
				return 0;
			}
			if (wait && (g->kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_ERRORCHECK)
				return EDEADLK;
			/* A normal mutex locked twice: waits for ever, as glibc's. */
		}
		if (!wait)
			return EBUSY;
		if (deadline != GS_NO_DEADLINE && gs_now_ns() >= deadline)
			return ETIMEDOUT;
		if (pause < 16000) {
			for (int64_t k = 0; k < pause / 32; k++)
				__builtin_ia32_pause();
		} else {
			struct timespec ts = { 0, (long)pause };

			/* In the kernel: the caller may be a hub's OS thread
			 * in the tick's handler (preload_hub). */
			REAL(nanosleep)(&ts, NULL);
		}
		if (pause < MUTEX_POLL_MAX_NS)
			pause *= 2;
	}
}

GS_WRAP int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	if (mutex_glibc())
		return REAL(pthread_mutex_init)(m, attr);
	int type = PTHREAD_MUTEX_DEFAULT, pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr != NULL) {
		pthread_mutexattr_gettype(attr, &type);
		pthread_mutexattr_getpshared(attr, &pshared);
	}
	if (pshared == PTHREAD_PROCESS_SHARED)
		return REAL(pthread_mutex_init)(m, attr);
	memset(m, 0, sizeof *m);
	gsync_mutex_init(gm(m));
	gm(m)->kind = type & MUTEX_TYPE_MASK;
	return 0;
}

GS_WRAP int pthread_mutex_destroy(pthread_mutex_t *m)
{
	if (mutex_glibc())
		return REAL(pthread_mutex_destroy)(m);
	if (mutex_shared(m))
		return REAL(pthread_mutex_destroy)(m);
	return gsync_mutex_busy(gm(m)) ? EBUSY : 0;
}

/* glibc lets only the owner unlock m, a process-shared mutex: it is
 * robust, recursive or error-checking. */
static bool mutex_names_owner(const pthread_mutex_t *m)
{
	int kind = m->__data.__kind;

	return (kind & MUTEX_ROBUST) || (kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_RECURSIVE ||
	       (kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_ERRORCHECK;
}

/* Which green thread holds each process-shared mutex that names its
 * owner: glibc tells owners apart by their OS thread's id, which the green
 * threads of one hub share, so greenshim answers for them (another's is
 * busy to this one, and not its to unlock); and natively the kernel marks
 * the robust mutexes of a thread that ends, but a green thread's are on
 * its OS thread's list, which lives on. Under held_lock. */
#define OWNER_ENDED ((struct green *)1) /* ended holding a non-robust one */
static struct shared_held {
	pthread_mutex_t *m;
	struct green *owner;
	unsigned count; /* a recursive one's locks */
} *held;
static size_t nheld, held_cap;
static uint16_t held_lock;

static size_t held_find(const pthread_mutex_t *m)
{
	size_t i;

	for (i = 0; i < nheld && held[i].m != m; i++)
		;
	return i;
}

/* m's holder among the green threads, or NULL. */
static struct green *held_by(const pthread_mutex_t *m)
{
	struct green *owner = NULL;
	size_t i;

	gsync_lock(&held_lock);
	if ((i = held_find(m)) < nheld)
		owner = held[i].owner;
	gsync_unlock(&held_lock);
	return owner;
}

static void held_note(pthread_mutex_t *m, struct green *g, int delta)
{
	size_t i;

	gsync_lock(&held_lock);
	i = held_find(m);
	if (delta < 0) {
		if (i < nheld && --held[i].count == 0)
			held[i] = held[--nheld];
	} else if (i < nheld && held[i].owner == g) {
		held[i].count++;
	} else {
		if (i < nheld) /* a dead owner's, taken over (EOWNERDEAD) */
			held[i] = held[--nheld];
		if (nheld == held_cap) {
			size_t cap = held_cap ? held_cap * 2 : 16;
			struct shared_held *v = gs_realloc(held, cap * sizeof *v);

			if (v == NULL)
				goto out; /* not followed: glibc's answer alone */
			held = v;
			held_cap = cap;
		}
		held[nheld++] = (struct shared_held){ m, g, 1 };
	}
out:
	gsync_unlock(&held_lock);
}

/* The calling green thread g took m (delta 1) or let it go (-1). */
static void shared_owned(pthread_mutex_t *m, struct green *g, int delta)
{
	held_note(m, g, delta);
	if (g->os_locks == UINT8_MAX)
		return; /* too many to count: it stays for good */
	if (delta > 0)
		g->os_locks++;
	else if (g->os_locks > 0)
		g->os_locks--;
}

/* glibc's robust list links each mutex a thread holds by its __list: the
 * head's list and each __next point at the next one's __list.__next, each
 * __prev at the previous one's (or at the head), bit 0 marks a
 * priority-inheriting one (nptl's ENQUEUE_MUTEX and DEQUEUE_MUTEX). */
static __pthread_list_t *robust_link(void *p)
{
	return (__pthread_list_t *)((char *)((uintptr_t)p & ~(uintptr_t)1) -
				    offsetof(__pthread_list_t, __next));
}

/* m's owner, a green thread, has ended: m leaves its OS thread's list, as
 * glibc's unlock would take it off, and is marked as the kernel marks a
 * dead thread's (FUTEX_OWNER_DIED, the waiters' bit kept, one waiter
 * woken): the next owner gets EOWNERDEAD. */
static void robust_owner_died(pthread_mutex_t *m, uint32_t tid)
{
	__pthread_list_t *l = &m->__data.__list;
	uint32_t *word = (uint32_t *)&m->__data.__lock;
	uint32_t v = __atomic_load_n(word, __ATOMIC_RELAXED);

	if (l->__next != NULL) {
		__pthread_list_t *prev = robust_link(l->__prev);

		robust_link(l->__next)->__prev = l->__prev;
		prev->__next = (void *)((uintptr_t)l->__next | ((uintptr_t)prev->__next & 1));
		l->__prev = l->__next = NULL;
	}
	while ((v & FUTEX_TID_MASK) == tid) {
		uint32_t dead = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;

		if (__atomic_compare_exchange_n(word, &v, dead, false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			if (v & FUTEX_WAITERS)
				sys_futex_wake(word, 1);
			break;
		}
	}
}

void sync_fork_child(void)
{
	struct green *g = self();

	/* Another hub's thread may have held the lock; the child's thread
	 * holds none of the parent's mutexes (glibc emptied its list). */
	held_lock = 0;
	nheld = 0;
	if (g != NULL)
		g->os_locks = 0;
}

void sync_thread_exit(struct green *g)
{
	pthread_mutex_t *dead[16];
	uint32_t tid;
	size_t n;

	if (g->os_locks == 0)
		return;
	tid = (uint32_t)sys_gettid(); /* g stays on its hub while it holds one */
	do {
		n = 0;
		gsync_lock(&held_lock);
		for (size_t i = 0; i < nheld && n < sizeof dead / sizeof dead[0];) {
			int kind = held[i].m->__data.__kind;

			if (held[i].owner != g) {
				i++;
			} else if ((kind & (MUTEX_ROBUST | MUTEX_PRIO_INHERIT)) != MUTEX_ROBUST) {
				held[i++].owner = OWNER_ENDED; /* locked for good, as natively */
			} else {
				dead[n++] = held[i].m;
				held[i] = held[--nheld];
			}
		}
		gsync_unlock(&held_lock);
		for (size_t i = 0; i < n; i++)
			robust_owner_died(dead[i], tid);
	} while (n == sizeof dead / sizeof dead[0]);
	g->os_locks = 0;
}

/* Before glibc's call on m, a process-shared mutex, from g: a robust one
 * is on the OS thread's list (tls_robust_begin; tls_robust_end(g) after
 * the call when this says yes). */
static bool robust_begin(const pthread_mutex_t *m, const struct green *g)
{
	return (m->__data.__kind & MUTEX_ROBUST) && tls_robust_begin(g);
}

/* glibc's trylock of a process-shared mutex, from a green thread; locking:
 * for a lock, which an error-checking mutex's owner gets EDEADLK from. */
static int shared_take(pthread_mutex_t *m, bool locking)
{
	struct green *g = mutex_names_owner(m) ? self() : NULL;
	bool begun;
	int r;

	if (g != NULL) {
		struct green *owner = held_by(m);

		if (owner != NULL && owner != g)
			return EBUSY;
		if (owner == g && locking && (m->__data.__kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_ERRORCHECK)
			return EDEADLK;
	}
	begun = robust_begin(m, g);
	r = REAL(pthread_mutex_trylock)(m);
	if (begun)
		tls_robust_end(g);
	if (g != NULL && (r == 0 || r == EOWNERDEAD))
		shared_owned(m, g, 1);
	return r;
}

static int shared_trylock(pthread_mutex_t *m)
{
	return shared_take(m, false);
}

static int shared_unlock(pthread_mutex_t *m)
{
	struct green *g = mutex_names_owner(m) ? self() : NULL;
	struct green *owner = g != NULL ? held_by(m) : NULL;
	bool begun;
	int r;

	if (owner != NULL && owner != g)
		return EPERM;
	begun = robust_begin(m, g);
	r = REAL(pthread_mutex_unlock)(m);
	if (begun)
		tls_robust_end(g);
	if (g != NULL && r == 0)
		shared_owned(m, g, -1);
	return r;
}

static int mutex_try_real(void *m)
{
	return shared_take(m, true);
}

/* Locks m by deadline: 0 or the pthread error (ETIMEDOUT, EDEADLK...). */
static int mutex_lock_until(pthread_mutex_t *m, int64_t deadline)
{
	struct gsync_mutex *g = gm(m);
	struct green *me;
	int r;

	if (mutex_shared(m))
		return shared_poll(mutex_try_real, m, EBUSY, deadline);
	me = self();
	if (GS_LIKELY(gsync_mutex_trylock(g) == 0)) {
		g->count = 1;
		return 0;
	}
	if (gsync_mutex_owner(g) == me) {
		switch (g->kind & MUTEX_TYPE_MASK) {
		case PTHREAD_MUTEX_RECURSIVE:
			if (g->count == UINT32_MAX)
				return EAGAIN;
			g->count++;
			return 0;
		case PTHREAD_MUTEX_ERRORCHECK:
			return EDEADLK;
		default: {
			/* A normal mutex locked twice deadlocks, as in glibc:
			 * this thread waits for ever (or until its deadline). */
			struct waitq never;

			waitq_init(&never);
			waitq_wait_as(&never, deadline, WAIT_MUTEX, g);
			return ETIMEDOUT;
		}
		}
	}
	if (preload_hub() == NULL)
		return EDEADLK; /* the hub's own context cannot wait */
	r = gsync_mutex_lock(g, deadline);
	if (r == 0)
		g->count = 1;
	return -r;
}

GS_WRAP int pthread_mutex_lock(pthread_mutex_t *m)
{
	if (preload_native()) {
		if (mutex_glibc() || mutex_shared(m))
			return REAL(pthread_mutex_lock)(m);
		return runtime_mutex_take(m, true, GS_NO_DEADLINE);
	}
	return PRELOAD_SETTLED(mutex_lock_until(m, GS_NO_DEADLINE));
}

GS_WRAP int pthread_mutex_trylock(pthread_mutex_t *m)
{
	if (preload_native()) {
		if (mutex_glibc() || mutex_shared(m))
			return REAL(pthread_mutex_trylock)(m);
		return runtime_mutex_take(m, false, GS_NO_DEADLINE);
	}
	struct gsync_mutex *g = gm(m);
	struct green *me;

	if (mutex_shared(m))
		return shared_trylock(m);
	me = self();
	if (gsync_mutex_trylock(g) == 0) {
		g->count = 1;
		return 0;
	}
	if (gsync_mutex_owner(g) == me && (g->kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_RECURSIVE) {
		if (g->count == UINT32_MAX)
			return EAGAIN;
		g->count++;
		return 0;
	}
	return EBUSY;
}

GS_WRAP int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *abstime)
{
	if (preload_native() && (mutex_glibc() || mutex_shared(m)))
		return REAL(pthread_mutex_clocklock)(m, clk, abstime);
	int64_t deadline;

	/* POSIX: the time is not checked if the lock can be taken at once. */
	if (pthread_mutex_trylock(m) == 0)
		return 0;
	if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME)
		return EINVAL;
	deadline = preload_abs_deadline(clk, abstime);
	if (deadline >= 0 && preload_native())
		return runtime_mutex_take(m, true, deadline);
	return PRELOAD_SETTLED(deadline < 0 ? EINVAL : mutex_lock_until(m, deadline));
}

GS_WRAP int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	if (preload_native() && (mutex_glibc() || mutex_shared(m)))
		return REAL(pthread_mutex_timedlock)(m, abstime);
	return PRELOAD_SETTLED(pthread_mutex_clocklock(m, CLOCK_REALTIME, abstime));
}

GS_WRAP int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (preload_native() && mutex_glibc())
		return REAL(pthread_mutex_unlock)(m);
	struct gsync_mutex *g = gm(m);
	struct green *me;

	if (mutex_shared(m))
		return preload_native() ? REAL(pthread_mutex_unlock)(m) : shared_unlock(m);
	me = preload_native() ? runtime_owner() : self();
	if (gsync_mutex_owner(g) != me) {
		if ((g->kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_RECURSIVE ||
		    (g->kind & MUTEX_TYPE_MASK) == PTHREAD_MUTEX_ERRORCHECK)
			return EPERM;
		/* glibc's normal mutex does not check the owner. */
		if (gsync_mutex_owner(g) == NULL)
			return 0;
		__atomic_store_n(&g->owner, me, __ATOMIC_RELAXED);
	}
	if (g->count > 1) {
		g->count--;
		return 0;
	}
	g->count = 0;
	return -gsync_mutex_unlock_as(g, me);
}

/* ---- condition variables ------------------------------------------------ */

GS_WRAP int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
	if (preload_native())
		return REAL(pthread_cond_init)(c, attr);
	int pshared = PTHREAD_PROCESS_PRIVATE;
	clockid_t clk = CLOCK_REALTIME;

	if (attr != NULL) {
		pthread_condattr_getpshared(attr, &pshared);
		pthread_condattr_getclock(attr, &clk);
	}
	if (pshared == PTHREAD_PROCESS_SHARED)
		return REAL(pthread_cond_init)(c, attr);
	memset(c, 0, sizeof *c);
	gsync_cond_init(gc(c));
	if (clk == CLOCK_MONOTONIC)
		c->__data.__wrefs = COND_MONOTONIC;
	return 0;
}

GS_WRAP int pthread_cond_destroy(pthread_cond_t *c)
{
	if (preload_native())
		return REAL(pthread_cond_destroy)(c);
	if (cond_shared(c))
		return REAL(pthread_cond_destroy)(c);
	return gsync_cond_busy(gc(c)) ? EBUSY : 0;
}

static int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline)
{
	struct gsync_mutex *g = gm(m);
	uint32_t depth;
	int r;

	if (mutex_shared(m) || gsync_mutex_owner(g) != self() || preload_hub() == NULL)
		return EPERM;
	/* A recursive mutex is released whole and taken back whole. */
	depth = g->count;
	r = gsync_cond_wait(gc(c), g, deadline);
	g->count = depth;
	/* Cancelled: the mutex is held again, as POSIX asks before the
	 * cleanup handlers run. */
	if (r == -ECANCELED)
		preload_cancel_act();
	return r == -ETIMEDOUT ? ETIMEDOUT : -r;
}

/* A wait on a process-shared condition variable: glibc's, which lets m go
 * as it waits and takes it back. */
struct cond_call {
	pthread_cond_t *c;
	pthread_mutex_t *m;
	enum { COND_UNTIMED, COND_TIMED, COND_CLOCKED } how;
	clockid_t clk;
	const struct timespec *abstime;
	int r;
};

static void cond_call_run(void *arg)
{
	struct cond_call *k = arg;

	if (k->how == COND_UNTIMED)
		k->r = REAL(pthread_cond_wait)(k->c, k->m);
	else if (k->how == COND_TIMED)
		k->r = REAL(pthread_cond_timedwait)(k->c, k->m, k->abstime);
	else
		k->r = REAL(pthread_cond_clockwait)(k->c, k->m, k->clk, k->abstime);
}

/* On a worker of the pool while the hub's other threads run, when m is
 * glibc's and its unlock does not check the owner (the worker lets it go
 * and takes it back for the caller); else, and for the process's only
 * thread, in the caller, whose OS thread waits. */
static int shared_cond_wait(struct cond_call *k)
{
	struct hub *h = preload_hub();
	struct green *g, *owner;
	bool begun;

	if (!mutex_shared(k->m) || !mutex_names_owner(k->m)) {
		if (h != NULL && !sched_alone(h) && mutex_shared(k->m)) {
			pool_call(cond_call_run, k);
			return k->r;
		}
		cond_call_run(k);
		return k->r;
	}
	/* Its owner is a green thread (held): none while glibc lets it go in
	 * the wait, so that a thread of another hub may take it. */
	g = self();
	owner = g != NULL ? held_by(k->m) : NULL;
	if (owner != NULL && owner != g)
		return EPERM;
	if (owner != NULL)
		shared_owned(k->m, g, -1);
	begun = robust_begin(k->m, g);
	cond_call_run(k);
	if (begun)
		tls_robust_end(g);
	if (owner != NULL && k->r != EPERM && k->r != ENOTRECOVERABLE)
		shared_owned(k->m, g, 1);
	return k->r;
}

GS_WRAP int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (preload_native())
		return REAL(pthread_cond_wait)(c, m);
	if (cond_shared(c))
		return PRELOAD_SETTLED(shared_cond_wait(&(struct cond_call){ c, m, COND_UNTIMED }));
	return PRELOAD_SETTLED(cond_wait_until(c, m, GS_NO_DEADLINE));
}

GS_WRAP int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
				   const struct timespec *abstime)
{
	if (preload_native())
		return REAL(pthread_cond_clockwait)(c, m, clk, abstime);
	int64_t deadline;

	if (cond_shared(c))
		return PRELOAD_SETTLED(shared_cond_wait(
			&(struct cond_call){ c, m, COND_CLOCKED, clk, abstime }));
	if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME)
		return EINVAL;
	deadline = preload_abs_deadline(clk, abstime);
	return PRELOAD_SETTLED(deadline < 0 ? EINVAL : cond_wait_until(c, m, deadline));
}

GS_WRAP int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				   const struct timespec *abstime)
{
	if (preload_native())
		return REAL(pthread_cond_timedwait)(c, m, abstime);
	if (cond_shared(c))
		return PRELOAD_SETTLED(shared_cond_wait(
			&(struct cond_call){ c, m, COND_TIMED, 0, abstime }));
	return PRELOAD_SETTLED(pthread_cond_clockwait(
		c, m, (c->__data.__wrefs & COND_MONOTONIC) ? CLOCK_MONOTONIC : CLOCK_REALTIME,
		abstime));
}

GS_WRAP int pthread_cond_signal(pthread_cond_t *c)
{
	if (preload_native())
		return REAL(pthread_cond_signal)(c);
	if (cond_shared(c))
		return REAL(pthread_cond_signal)(c);
	gsync_cond_signal(gc(c));
	return 0;
}

GS_WRAP int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (preload_native())
		return REAL(pthread_cond_broadcast)(c);
	if (cond_shared(c))
		return REAL(pthread_cond_broadcast)(c);
	gsync_cond_broadcast(gc(c));
	return 0;
}

/* ---- semaphores ---------------------------------------------------------- */

GS_WRAP int sem_init(sem_t *s, int pshared, unsigned value)
{
	if (preload_native())
		return REAL(sem_init)(s, pshared, value);
	if (value > GSYNC_SEM_MAX)
		return preload_fail(-EINVAL);
	if (pshared)
		return REAL(sem_init)(s, pshared, value);
	memset(s, 0, sizeof *s);
	return gsync_sem_init(gs(s), value) == 0 ? 0 : preload_fail(-EINVAL);
}

GS_WRAP int sem_destroy(sem_t *s)
{
	if (preload_native())
		return REAL(sem_destroy)(s);
	return sem_shared(s) ? REAL(sem_destroy)(s) : 0;
}

static int sem_try_real(void *s)
{
	return REAL(sem_trywait)(s) == 0 ? 0 : errno;
}

/* A wait on a process-shared semaphore by the process's only program
 * thread: glibc's, in the kernel, as native (nothing else could run
 * meanwhile; a signal ends it with EINTR, which the polling wait cannot
 * tell). deadline is CLOCK_MONOTONIC's. */
static int sem_wait_kernel(sem_t *s, int64_t deadline)
{
	struct timespec ts = { deadline / 1000000000, deadline % 1000000000 };

	if (deadline == GS_NO_DEADLINE)
		return REAL(sem_wait)(s);
	return REAL(sem_clockwait)(s, CLOCK_MONOTONIC, &ts);
}

static int sem_wait_until(sem_t *s, int64_t deadline)
{
	struct hub *h;
	int r;

	if (sem_shared(s)) {
		if ((h = preload_hub()) != NULL && sched_alone(h))
			return sem_wait_kernel(s, deadline);
		r = shared_poll(sem_try_real, s, EAGAIN, deadline);
		return r == 0 ? 0 : preload_fail(-r);
	}
	if (gsync_sem_trywait(gs(s)) == 0)
		return 0;
	if (preload_hub() == NULL)
		return preload_fail(-EDEADLK);
	r = gsync_sem_wait(gs(s), deadline);
	return r == 0 ? 0 : preload_fail(r);
}

GS_WRAP int sem_wait(sem_t *s)
{
	if (preload_native())
		return REAL(sem_wait)(s);
	return PRELOAD_SETTLED(sem_wait_until(s, GS_NO_DEADLINE));
}

GS_WRAP int sem_trywait(sem_t *s)
{
	if (preload_native())
		return REAL(sem_trywait)(s);
	if (sem_shared(s))
		return REAL(sem_trywait)(s);
	return gsync_sem_trywait(gs(s)) == 0 ? 0 : preload_fail(-EAGAIN);
}

GS_WRAP int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abstime)
{
	if (preload_native())
		return REAL(sem_clockwait)(s, clk, abstime);
	int64_t deadline;
	int saved = errno;

	/* POSIX: the time is not checked if a unit can be taken at once.
	 * When none can, errno is the wait's alone (sem_trywait's EAGAIN
	 * must not leak into a later success). */
	if (sem_trywait(s) == 0)
		return 0;
	errno = saved;
	if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME)
		return preload_fail(-EINVAL);
	deadline = preload_abs_deadline(clk, abstime);
	if (deadline < 0)
		return preload_fail(-EINVAL);
	return PRELOAD_SETTLED(sem_wait_until(s, deadline));
}

GS_WRAP int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	if (preload_native())
		return REAL(sem_timedwait)(s, abstime);
	return PRELOAD_SETTLED(sem_clockwait(s, CLOCK_REALTIME, abstime));
}

GS_WRAP int sem_post(sem_t *s)
{
	if (preload_native())
		return REAL(sem_post)(s);
	if (sem_shared(s))
		return REAL(sem_post)(s);
	return gsync_sem_post(gs(s)) == 0 ? 0 : preload_fail(-EOVERFLOW);
}

GS_WRAP int sem_getvalue(sem_t *s, int *value)
{
	if (preload_native())
		return REAL(sem_getvalue)(s, value);
	if (sem_shared(s))
		return REAL(sem_getvalue)(s, value);
	*value = (int)gsync_sem_value(gs(s));
	return 0;
}

/* ---- once and spinlocks ---------------------------------------------------- */

#define ONCE_RUNNING 1
#define ONCE_DONE 2 /* glibc's __PTHREAD_ONCE_DONE */

/* Every thread waiting for a once to finish, and the lock over it and the
 * once words' changes (threads of several hubs may race for one). */
static struct waitq once_q;
static uint16_t once_lock;

static void once_settle(pthread_once_t *once, int value)
{
	gsync_lock(&once_lock);
	__atomic_store_n(once, value, __ATOMIC_RELEASE);
	waitq_wake_all(&once_q, WAKE_OK);
	gsync_unlock(&once_lock);
}

/* fn did not return: it threw (C++) or its thread was cancelled or
 * exited. As glibc's cleanup in __pthread_once_slow: the once goes back
 * to "not run", and a waiter runs fn in its turn. Runs during the unwind
 * (the library is built with -fexceptions). */
static void once_unwound(pthread_once_t **armed)
{
	if (*armed == NULL)
		return;
	once_settle(*armed, 0);
}

GS_WRAP int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	if (preload_native())
		return REAL(pthread_once)(once, fn);
	if (__atomic_load_n(once, __ATOMIC_ACQUIRE) == ONCE_DONE)
		return 0;
	if (preload_hub() == NULL)
		return REAL(pthread_once)(once, fn);
	gsync_lock(&once_lock);
	while (__atomic_load_n(once, __ATOMIC_ACQUIRE) == ONCE_RUNNING) {
		/* Another thread runs fn. */
		struct wait w;
		struct waiter e;

		wait_init(&w);
		wait_label(&w, WAIT_ONCE, once, 0);
		waitq_add(&once_q, &e, &w, 0);
		gsync_unlock(&once_lock);
		wait_park(&w, GS_NO_DEADLINE);
		gsync_lock(&once_lock);
		waitq_remove(&e);
	}
	if (*once == ONCE_DONE) {
		gsync_unlock(&once_lock);
		return 0;
	}
	__atomic_store_n(once, ONCE_RUNNING, __ATOMIC_RELAXED);
	gsync_unlock(&once_lock);
	{
		pthread_once_t *armed __attribute__((cleanup(once_unwound))) = once;

		fn();
		armed = NULL;
	}
	once_settle(once, ONCE_DONE);
	return 0;
}

GS_WRAP int pthread_spin_lock(pthread_spinlock_t *l)
{
	if (preload_native())
		return REAL(pthread_spin_lock)(l);
	/* Spinning on one OS thread would never end: yield instead. */
	while (pthread_spin_trylock(l) == EBUSY) {
		if (preload_hub() == NULL)
			REAL(sched_yield)();
		else
			green_yield();
	}
	return 0;
}

/* ---- rwlocks --------------------------------------------------------------- */

/* Inside pthread_rwlock_t: glibc's __shared (offset 28) tells a
 * process-shared rwlock and __flags (offset 48) its kind; the green lock
 * (src/gsync.c) keeps both where glibc has them. */
_Static_assert(sizeof(struct gsync_rwlock) <= sizeof(pthread_rwlock_t), "rwlock fits");
_Static_assert(offsetof(struct gsync_rwlock, reserved[2]) ==
		       offsetof(pthread_rwlock_t, __data.__shared),
	       "__shared left where glibc reads it");
_Static_assert(offsetof(struct gsync_rwlock, kind) == offsetof(pthread_rwlock_t, __data.__flags),
	       "kind where the static initializers put it");
_Static_assert(GSYNC_RW_PREFER_READERS == PTHREAD_RWLOCK_PREFER_READER_NP, "same kinds");

static inline struct gsync_rwlock *grw(pthread_rwlock_t *l)
{
	return (struct gsync_rwlock *)(void *)l;
}

static bool rw_shared(pthread_rwlock_t *l)
{
	return l->__data.__shared != 0;
}

static int rw_lock_until(pthread_rwlock_t *rw, bool write, int64_t deadline, bool try)
{
	int r = gsync_rwlock_trylock(grw(rw), write);

	if (r == 0 || try)
		return -r;
	if (preload_hub() == NULL)
		return EDEADLK; /* the hub's own context cannot wait */
	return -gsync_rwlock_lock(grw(rw), write, deadline);
}

static int rw_try_real(void *l)
{
	return REAL(pthread_rwlock_trywrlock)(l);
}

static int rw_try_real_rd(void *l)
{
	return REAL(pthread_rwlock_tryrdlock)(l);
}

static int rw_lock(pthread_rwlock_t *rw, bool write, clockid_t clk, const struct timespec *abstime,
		   bool try)
{
	int64_t deadline = GS_NO_DEADLINE;

	if (rw_shared(rw)) {
		if (try)
			return write ? REAL(pthread_rwlock_trywrlock)(rw) : REAL(pthread_rwlock_tryrdlock)(rw);
		if (abstime != NULL && (deadline = preload_abs_deadline(clk, abstime)) < 0)
			return EINVAL;
		return shared_poll(write ? rw_try_real : rw_try_real_rd, rw, EBUSY, deadline);
	}
	if (abstime != NULL) {
		/* POSIX: the time is not checked if the lock is free. */
		if (rw_lock_until(rw, write, 0, true) == 0)
			return 0;
		if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME)
			return EINVAL;
		deadline = preload_abs_deadline(clk, abstime);
		if (deadline < 0)
			return EINVAL;
	}
	return rw_lock_until(rw, write, deadline, try);
}

GS_WRAP int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
	if (preload_native())
		return REAL(pthread_rwlock_init)(rw, attr);
	int pshared = PTHREAD_PROCESS_PRIVATE, kind = PTHREAD_RWLOCK_DEFAULT_NP;

	if (attr != NULL) {
		pthread_rwlockattr_getpshared(attr, &pshared);
		pthread_rwlockattr_getkind_np(attr, &kind);
	}
	if (pshared == PTHREAD_PROCESS_SHARED)
		return REAL(pthread_rwlock_init)(rw, attr);
	memset(rw, 0, sizeof *rw);
	gsync_rwlock_init(grw(rw), (uint32_t)kind);
	return 0;
}

GS_WRAP int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
	if (preload_native())
		return REAL(pthread_rwlock_destroy)(rw);
	if (rw_shared(rw))
		return REAL(pthread_rwlock_destroy)(rw);
	return gsync_rwlock_busy(grw(rw)) ? EBUSY : 0;
}

GS_WRAP int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
	if (preload_native())
		return REAL(pthread_rwlock_rdlock)(rw);
	return PRELOAD_SETTLED(rw_lock(rw, false, CLOCK_REALTIME, NULL, false));
}

GS_WRAP int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
	if (preload_native())
		return REAL(pthread_rwlock_wrlock)(rw);
	return PRELOAD_SETTLED(rw_lock(rw, true, CLOCK_REALTIME, NULL, false));
}

GS_WRAP int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
	if (preload_native())
		return REAL(pthread_rwlock_tryrdlock)(rw);
	return rw_lock(rw, false, CLOCK_REALTIME, NULL, true);
}

GS_WRAP int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
	if (preload_native())
		return REAL(pthread_rwlock_trywrlock)(rw);
	return rw_lock(rw, true, CLOCK_REALTIME, NULL, true);
}

GS_WRAP int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	if (preload_native())
		return REAL(pthread_rwlock_timedrdlock)(rw, abstime);
	return rw_lock(rw, false, CLOCK_REALTIME, abstime, false);
}

GS_WRAP int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	if (preload_native())
		return REAL(pthread_rwlock_timedwrlock)(rw, abstime);
	return rw_lock(rw, true, CLOCK_REALTIME, abstime, false);
}

GS_WRAP int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
				       const struct timespec *abstime)
{
	if (preload_native())
		return REAL(pthread_rwlock_clockrdlock)(rw, clk, abstime);
	return rw_lock(rw, false, clk, abstime, false);
}

GS_WRAP int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
				       const struct timespec *abstime)
{
	if (preload_native())
		return REAL(pthread_rwlock_clockwrlock)(rw, clk, abstime);
	return rw_lock(rw, true, clk, abstime, false);
}

GS_WRAP int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	if (preload_native())
		return REAL(pthread_rwlock_unlock)(rw);
	if (rw_shared(rw))
		return REAL(pthread_rwlock_unlock)(rw);
	return -gsync_rwlock_unlock(grw(rw));
}

/* ---- barriers ---------------------------------------------------------------- */

/* glibc's barrier says at offset 12 whether it is process-shared; the
 * green one leaves that word alone. */
_Static_assert(sizeof(struct gsync_barrier) <= sizeof(pthread_barrier_t), "barrier fits");

static inline struct gsync_barrier *gb(pthread_barrier_t *b)
{
	return (struct gsync_barrier *)(void *)b;
}

static bool barrier_shared(pthread_barrier_t *b)
{
	return gb(b)->reserved != 0;
}

GS_WRAP int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr,
				 unsigned count)
{
	if (preload_native())
		return REAL(pthread_barrier_init)(b, attr, count);
	int pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr != NULL)
		pthread_barrierattr_getpshared(attr, &pshared);
	if (pshared == PTHREAD_PROCESS_SHARED || count == 0)
		return REAL(pthread_barrier_init)(b, attr, count); /* and EINVAL for 0 */
	memset(b, 0, sizeof *b);
	return -gsync_barrier_init(gb(b), count);
}

GS_WRAP int pthread_barrier_destroy(pthread_barrier_t *b)
{
	if (preload_native())
		return REAL(pthread_barrier_destroy)(b);
	if (barrier_shared(b))
		return REAL(pthread_barrier_destroy)(b);
	return gsync_barrier_busy(gb(b)) ? EBUSY : 0;
}

GS_WRAP int pthread_barrier_wait(pthread_barrier_t *b)
{
	if (preload_native())
		return REAL(pthread_barrier_wait)(b);
	if (barrier_shared(b) || preload_hub() == NULL)
		return REAL(pthread_barrier_wait)(b);
	return PRELOAD_SETTLED(gsync_barrier_wait(gb(b)) == GSYNC_BARRIER_SERIAL ? PTHREAD_BARRIER_SERIAL_THREAD : 0);
}
