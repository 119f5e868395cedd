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
 * pool_syscall_intr(n, a...) is the one kind of job that a signal or a
 * cancellation does stop: a single system call that waits in the kernel
 * with no form to wait on in the hub (a file lock: flock, fcntl F_SETLKW).
 * It runs in arch_intr_syscall (arch/x86_64/intr.S), with the preemption
 * signal let in on the worker for that call only. Its wait is
 * interruptible: a handler due for the caller, or a cancellation, ends it,
 * and the caller then stops the worker's call before anything else (the
 * job is on its stack, and a handler may leave with siglongjmp): it sets
 * the job's stop word and sends the worker the preemption signal marked as
 * a stop (preempt_send_stop), again each STOP_RESEND_NS until the worker is
 * done; the handler (pool_stop_signal) moves the worker's pc out of a call
 * not yet returned to a "return -EINTR". A call that returned first keeps
 * its result. The worker completes the wait under pool.mu, through the
 * wait's own claim (wait_complete), so that the caller, which swaps the
 * wait under the same lock, never has a completion on its way to a wait it
 * has left. Such a job may start a worker beyond GREENSHIM_POOL_SIZE: a
 * lock may be held for ever, and natively every thread that waits for
 * one is an OS thread of its own; jobs queued behind it would never run.
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
	/* A stoppable system call (pool_syscall_intr), or NULL: */
	const long *call; /* its number and five arguments */
	long ret;         /* its result, -errno */
	int stop;         /* set: stop it (read by arch_intr_syscall) */
	int tid;          /* the worker that took it, 0 while queued */
	bool done;        /* it returned (under pool.mu) */
	struct wait *cur; /* the wait its end completes, or NULL (pool.mu) */
};

/* The stop word of the stoppable call a worker makes now, or NULL: read
 * by the preemption signal's handler on that worker (pool_stop_signal). */
static __thread int *worker_stop __attribute__((tls_model("initial-exec")));

/* A stopped call's worker is sent the stop again this often until done:
 * one sent before it let the signal in was taken then, and did nothing. */
#define STOP_RESEND_NS 1000000

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

/* The stoppable call of j, on its worker (tid): made with the preemption
 * signal let in, so that a stop sent for it ends it. */
static void run_stoppable(struct pool_job *j)
{
	uint64_t sig = (uint64_t)1 << (preempt_signal() - 1);

	__atomic_store_n(&worker_stop, &j->stop, __ATOMIC_RELAXED);
	arch_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&sig, 0, sizeof sig, 0, 0);
	j->ret = arch_intr_syscall(&j->stop, j->call[0], j->call[1], j->call[2], j->call[3],
				   j->call[4], j->call[5]);
	arch_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&sig, 0, sizeof sig, 0, 0);
	__atomic_store_n(&worker_stop, NULL, __ATOMIC_RELAXED);
}

/* j has run: its caller is told. The last touch of j: once told, its
 * owner may return. Called with pool.mu held. */
static void job_done(struct pool_job *j)
{
	struct hub *h = j->hub;
	struct wait *w = j->cur;

	if (j->call == NULL) {
		hub_remote_post(h, &j->msg);
		return;
	}
	j->done = true;
	if (w != NULL)
		wait_complete(w, 0); /* false if a signal ended it first */
	/* Not before: a hub that saw nothing on its way would take its
	 * threads for stuck. */
	atomic_fetch_sub(&h->remote_pending, 1);
}

void pool_stop_signal(void *ucp)
{
	ucontext_t *uc = ucp;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	const int *stop = __atomic_load_n(&worker_stop, __ATOMIC_RELAXED);

	if (stop != NULL && __atomic_load_n(stop, __ATOMIC_ACQUIRE) != 0 &&
	    pc >= (uintptr_t)arch_intr_syscall && pc < (uintptr_t)arch_intr_end)
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)arch_intr_stopped;
}

static void *pool_worker(void *arg)
{
	int tid = (int)arch_syscall3(SYS_gettid, 0, 0, 0);

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
		j->tid = tid;
		os_ops.mutex_unlock(&pool.mu);
		if (j->call != NULL)
			run_stoppable(j);
		else
			j->fn(j->arg);
		/* Told with the lock held, so that the caller's next call
		 * finds this worker idle rather than starting another. */
		os_ops.mutex_lock(&pool.mu);
		job_done(j);
	}
}

/* Whether a worker is to be started: when the idle ones cannot take every
 * queued job and one more. Counted at once (nthreads), under pool.mu. */
static bool pool_wants_worker(bool unbounded)
{
	unsigned max = gs_config.pool_size != 0 ? gs_config.pool_size : CONFIG_POOL_DEFAULT;

	if (pool.queued + 1 <= pool.nidle || (pool.nthreads >= max && !unbounded))
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

/* Queues j, with a worker for it (started here if none is idle, up to
 * GREENSHIM_POOL_SIZE unless unbounded): false, and j not queued, if no
 * worker exists and none can be made.
 *
 * A worker is made with pool.mu let go and j not queued yet: making a
 * thread calls the program's malloc (glibc allocates the new thread's TLS
 * with it), which may park this thread (a green mutex, a futex) or be
 * preempted, and a thread switched out must hold no lock of libc's that
 * others take (seen: every hub and worker waiting for pool.mu, its holder
 * parked in jemalloc), nor have a job that a worker could complete under
 * another wait. */
static bool pool_submit(struct pool_job *j, bool unbounded)
{
	os_ops.mutex_lock(&pool.mu);
	if (pool_wants_worker(unbounded)) {
		os_ops.mutex_unlock(&pool.mu);
		if (osthread_start(NULL, "gs-pool", pool_worker, NULL, true) != 0) {
			os_ops.mutex_lock(&pool.mu);
			pool.nthreads--;
			pool.started--;
			os_ops.mutex_unlock(&pool.mu);
		}
		os_ops.mutex_lock(&pool.mu);
		if (pool.nthreads == 0) {
			os_ops.mutex_unlock(&pool.mu);
			return false;
		}
	}
	pool_queue(j);
	os_ops.mutex_unlock(&pool.mu);
	return true;
}

/* May the calling thread wait for a worker? Not without a hub, in the
 * hub's own context or a runtime thread, nor with native threads (a real
 * thread may block: it blocks nobody else). */
static struct hub *pool_caller_hub(void)
{
	struct hub *h;

	if (osthread_is_runtime() || gs_config.native_threads || (h = hub_get()) == NULL ||
	    h->current == h->hub_green)
		return NULL;
	return h;
}

int pool_call(void (*fn)(void *), void *arg)
{
	struct pool_job j;
	struct hub *h = pool_caller_hub();

	if (h == NULL) {
		fn(arg);
		return 0;
	}
	memset(&j, 0, sizeof j);
	j.fn = fn;
	j.arg = arg;
	j.hub = h;
	wait_init(&j.wait); /* not interruptible: see the head of the file */
	wait_label(&j.wait, WAIT_POOL, &j, 0);
	j.msg.wait = &j.wait;
	j.msg.result = 0;
	if (!pool_submit(&j, false)) {
		/* No worker exists and none can be made: the call blocks this
		 * OS thread, which is still the call's own result. */
		fn(arg);
		return 0;
	}
	return wait_park(&j.wait, GS_NO_DEADLINE);
}

/* Takes j off the queue: false if a worker has taken it. With pool.mu. */
static bool queue_unlink(struct pool_job *j)
{
	struct pool_job *prev = NULL;

	for (struct pool_job *c = pool.head; c != NULL; prev = c, c = c->next) {
		if (c != j)
			continue;
		if (prev != NULL)
			prev->next = j->next;
		else
			pool.head = j->next;
		if (pool.tail == j)
			pool.tail = prev;
		pool.queued--;
		return true;
	}
	return false;
}

/* The caller's wait for j ended before j did (a signal, a cancellation):
 * j is taken off the queue if no worker has it yet, else its call is
 * stopped and waited for, on this OS thread (a few microseconds: the
 * worker's handler, then its return). After this nothing touches j. */
static void stop_job(struct pool_job *j)
{
	int64_t sent = 0;

	os_ops.mutex_lock(&pool.mu);
	j->cur = NULL;
	if (j->tid == 0 && queue_unlink(j)) {
		atomic_fetch_sub(&j->hub->remote_pending, 1);
		os_ops.mutex_unlock(&pool.mu);
		return;
	}
	__atomic_store_n(&j->stop, 1, __ATOMIC_RELEASE);
	while (!j->done) {
		int tid = j->tid;
		int64_t now;

		os_ops.mutex_unlock(&pool.mu);
		now = gs_now_ns();
		if (now - sent >= STOP_RESEND_NS) {
			preempt_send_stop(tid);
			sent = now;
		} else {
			arch_syscall3(SYS_sched_yield, 0, 0, 0);
		}
		os_ops.mutex_lock(&pool.mu);
	}
	os_ops.mutex_unlock(&pool.mu);
}

long pool_syscall_intr(const long call[6], bool cancelpoint, int *why)
{
	struct pool_job j;
	struct hub *h = pool_caller_hub();
	int r;

	*why = 0;
	if (h == NULL || !preempt_handler_ready())
		return arch_syscall6(call[0], call[1], call[2], call[3], call[4], call[5], 0);
	memset(&j, 0, sizeof j);
	j.call = call;
	j.hub = h;
	wait_init_interruptible(&j.wait);
	j.wait.cancelpoint = cancelpoint;
	wait_label(&j.wait, WAIT_POOL, &j, call[0]);
	j.cur = &j.wait;
	if (!pool_submit(&j, true)) {
		wait_after(&j.wait);
		return arch_syscall6(call[0], call[1], call[2], call[3], call[4], call[5], 0);
	}
	r = wait_park(&j.wait, GS_NO_DEADLINE);
	if (r != 0) {
		*why = r;
		stop_job(&j);
	}
	wait_after(&j.wait); /* the handlers, once the call is over */
	return j.done ? j.ret : -EINTR;
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
