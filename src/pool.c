/*
 * The worker pool: real OS threads for calls that have no non-blocking
 * form (DNS lookups, regular-file I/O with GREENSHIM_FILE_IO=pool, waits
 * on futexes and condition variables that other processes share).
 *
 * pool_call(fn, arg) from a green thread queues a job that lives on the
 * caller's stack, and parks the caller in an ordinary wait, so the other
 * green threads of its hub keep running. A worker runs fn(arg) and posts
 * the completion back to the caller's hub (hub_remote_post); the job is not
 * touched after that post, since the caller may have returned by then.
 *
 * Workers are started on demand, at most gs_config.pool_size of them
 * (GREENSHIM_POOL_SIZE), each an OS thread of the runtime's (osthread.c:
 * libc's primitives, every signal blocked, plain libc in every wrapper),
 * named "gs-pool". A worker that finds no job for POOL_IDLE_NS exits, so a
 * program that looked up one name once does not keep ten threads.
 *
 * Invariants:
 *  - the queue and the counters are guarded by pool.mu, a libc mutex taken
 *    through os_ops (never a green one: workers are not green threads),
 *    and held by a green thread only where it cannot be switched out: no
 *    program code under it (a worker is made with it let go);
 *  - a job is announced to its hub (hub_remote_begin) before it is queued,
 *    so that the hub is never reported stuck while a worker holds it, and
 *    posted exactly once;
 *  - the wait is not interruptible: a signal handler runs, but the call
 *    goes on, as getaddrinfo goes on natively (it retries on EINTR); the
 *    worker cannot be stopped half-way anyway.
 *
 * Callers that may not park (no hub, the hub's own context, the runtime's
 * threads) and GREENSHIM_THREADS=native (a real thread may block: it
 * blocks nobody else) run fn(arg) themselves: the result is the same.
 *
 * fork: the child has none of the parent's workers, and the jobs queued
 * belong to threads that do not exist there. pool_fork_child() (called
 * first thing by hub_fork_child, the library's first atfork child handler)
 * makes the pool empty again; workers are started anew on demand.
 */
#include <stdlib.h>
#include <string.h>

#include "hub_impl.h"

struct pool_job {
	struct pool_job *next;
	void (*fn)(void *);
	void *arg;
	struct hub *hub;
	struct wait wait;
	struct remote_msg msg;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_job *head, *tail;
	unsigned queued;   /* jobs in the queue, not yet taken */
	unsigned nthreads; /* workers alive */
	unsigned nidle;    /* of them, waiting for a job */
	unsigned long started; /* workers ever started (tests) */
	int64_t idle_ns;
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.idle_ns = POOL_IDLE_NS,
};

static struct pool_job *queue_pop(void)
{
	struct pool_job *j = pool.head;

	pool.head = j->next;
	if (pool.head == NULL)
		pool.tail = NULL;
	pool.queued--;
	return j;
}

static void *pool_worker(void *arg)
{
	(void)arg;
	os_ops.mutex_lock(&pool.mu);
	for (;;) {
		int64_t idle_since = gs_now_ns();
		struct pool_job *j;

		while (pool.head == NULL) {
			int64_t deadline = idle_since + pool.idle_ns;
			struct timespec ts = { (time_t)(deadline / 1000000000),
					       (long)(deadline % 1000000000) };

			if (gs_now_ns() >= deadline) {
				pool.nthreads--;
				os_ops.mutex_unlock(&pool.mu);
				return NULL;
			}
			pool.nidle++;
			os_ops.cond_clockwait(&pool.cv, &pool.mu, CLOCK_MONOTONIC, &ts);
			pool.nidle--;
		}
		j = queue_pop();
		os_ops.mutex_unlock(&pool.mu);
		j->fn(j->arg);
		/* Posted with the lock held, so that the caller's next call
		 * finds this worker idle rather than starting another. The
		 * last touch of j: once posted, its owner may return. */
		os_ops.mutex_lock(&pool.mu);
		hub_remote_post(j->hub, &j->msg);
	}
}

/* Whether a worker is to be started: when the idle ones cannot take every
 * queued job and one more. Counted at once (nthreads), under pool.mu. */
static bool pool_wants_worker(void)
{
	unsigned max = gs_config.pool_size != 0 ? gs_config.pool_size : CONFIG_POOL_DEFAULT;

	if (pool.queued + 1 <= pool.nidle || pool.nthreads >= max)
		return false;
	pool.nthreads++;
	pool.started++;
	return true;
}

/* Queues j. Called with pool.mu held, a worker alive. */
static void pool_queue(struct pool_job *j)
{
	hub_remote_begin(j->hub);
	j->next = NULL;
	if (pool.tail != NULL)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	pool.queued++;
	if (pool.nidle > 0)
		os_ops.cond_signal(&pool.cv);
}

int pool_call(void (*fn)(void *), void *arg)
{
	struct pool_job j;
	struct hub *h;
	bool start;

	if (osthread_is_runtime() || gs_config.native_threads || (h = hub_get()) == NULL ||
	    h->current == h->hub_green) {
		fn(arg);
		return 0;
	}
	j.fn = fn;
	j.arg = arg;
	j.hub = h;
	wait_init(&j.wait); /* not interruptible: see the head of the file */
	j.msg.wait = &j.wait;
	j.msg.result = 0;
	os_ops.mutex_lock(&pool.mu);
	start = pool_wants_worker();
	if (!start) {
		pool_queue(&j);
		os_ops.mutex_unlock(&pool.mu);
		return wait_park(&j.wait, GS_NO_DEADLINE);
	}
	/* The worker is made with pool.mu let go and j not queued yet:
	 * making a thread calls the program's malloc (glibc allocates the
	 * new thread's TLS with it), which may park this thread (a green
	 * mutex, a futex) or be preempted, and a thread switched out must
	 * hold no lock of libc's that others take (seen: every hub and
	 * worker waiting for pool.mu, its holder parked in jemalloc), nor
	 * have a job that a worker could complete under another wait. */
	os_ops.mutex_unlock(&pool.mu);
	if (osthread_start(NULL, "gs-pool", pool_worker, NULL, true) != 0) {
		os_ops.mutex_lock(&pool.mu);
		pool.nthreads--;
		pool.started--;
		os_ops.mutex_unlock(&pool.mu);
	}
	os_ops.mutex_lock(&pool.mu);
	if (pool.nthreads == 0) {
		/* No worker exists and none can be made: the call blocks this
		 * OS thread, which is still the call's own result. */
		os_ops.mutex_unlock(&pool.mu);
		fn(arg);
		return 0;
	}
	pool_queue(&j);
	os_ops.mutex_unlock(&pool.mu);
	return wait_park(&j.wait, GS_NO_DEADLINE);
}

void pool_fork_child(void)
{
	/* A worker may have held the mutex when the parent forked. */
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

	memcpy(&pool.mu, &mu, sizeof mu);
	memcpy(&pool.cv, &cv, sizeof cv);
	pool.head = pool.tail = NULL;
	pool.queued = pool.nthreads = pool.nidle = 0;
}

void pool_stats(struct pool_stats *st)
{
	os_ops.mutex_lock(&pool.mu);
	st->threads = pool.nthreads;
	st->idle = pool.nidle;
	st->started = pool.started;
	os_ops.mutex_unlock(&pool.mu);
}

void pool_set_idle_ns(int64_t ns)
{
	os_ops.mutex_lock(&pool.mu);
	pool.idle_ns = ns > 0 ? ns : POOL_IDLE_NS;
	os_ops.cond_broadcast(&pool.cv); /* idle workers look at it again */
	os_ops.mutex_unlock(&pool.mu);
}
