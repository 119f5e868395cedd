/*
 * The runtime's own OS threads: the worker pool, the blocking monitor, the
 * control socket. They are real threads that never run green code.
 *
 * Invariants:
 *  - they are made with libc's pthread_create, never the interposed one,
 *    and synchronise with libc's mutexes and condition variables
 *    (os_ops), never the green ones: a green object has no atomics and
 *    belongs to one hub;
 *  - every wrapper they reach (an NSS module calling fopen through its
 *    PLT, say) gives them plain libc behaviour: osthread_is_runtime() is
 *    what preload/ asks. But for the program's objects that green threads
 *    share with them: its private mutexes, which they lock as green ones
 *    without parking (preload/sync.c), and its thread-specific data keys,
 *    whose values they keep per OS thread (preload/tsd.c). Program code
 *    runs there: an NSS lookup calls the program's malloc, and jemalloc
 *    locks its arenas and sets its key;
 *  - they block every signal from their first instruction (the mask is
 *    set by the creator around pthread_create, so no window exists): a
 *    process-directed signal always goes to a thread of the program, as
 *    if the runtime's threads were not there;
 *  - they are not in glibc's count of the process's threads
 *    (__nptl_nthreads, which a thread's end decrements; at 0 glibc ends
 *    the process with exit(0)): the creator takes each out once made, and
 *    it puts itself back just before it ends. Counted, they kept a
 *    process whose real threads (GREENSHIM_THREADS=native) had all ended
 *    with pthread_exit alive for ever, as a zombie main thread whose
 *    signals stay pending.
 *
 * os_ops defaults to the functions the runtime was linked with, which are
 * libc's when the runtime is linked into a program (the unit tests). Under
 * LD_PRELOAD those names are our own wrappers, so preload/real.c replaces
 * the table with libc's functions when it resolves them.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "runtime.h"

struct os_ops os_ops = {
	.create = pthread_create,
	.detach = pthread_detach,
	.join = pthread_join,
	.mutex_lock = pthread_mutex_lock,
	.mutex_unlock = pthread_mutex_unlock,
	.cond_clockwait = pthread_cond_clockwait,
	.cond_signal = pthread_cond_signal,
	.cond_broadcast = pthread_cond_broadcast,
	.thread_sigmask = pthread_sigmask,
};

__thread bool gs_osthread_runtime __attribute__((tls_model("initial-exec")));

void osthread_set_ops(const struct os_ops *ops)
{
	os_ops = *ops;
}

bool osthread_runtime_begin(void)
{
	bool was = gs_osthread_runtime;

	gs_osthread_runtime = true;
	return was;
}

void osthread_runtime_end(bool was)
{
	gs_osthread_runtime = was;
}

struct osthread_start_arg {
	void *(*fn)(void *);
	void *arg;
	char name[16];
};

/* glibc's __nptl_nthreads (GLIBC_PRIVATE, for libthread_db); NULL when
 * this libc has none. */
static unsigned *nptl_nthreads(void)
{
	static unsigned *n;
	static bool looked;

	if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&n, dlvsym(RTLD_DEFAULT, "__nptl_nthreads", "GLIBC_PRIVATE"),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&looked, true, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&n, __ATOMIC_RELAXED);
}

static void *osthread_main(void *p)
{
	struct osthread_start_arg a = *(struct osthread_start_arg *)p;
	unsigned *n = nptl_nthreads();
	void *r;

	gs_free(p);
	gs_osthread_runtime = true;
	prctl(PR_SET_NAME, a.name, 0, 0, 0); /* not the interposed setname */
	r = a.fn(a.arg);
	if (n != NULL)
		__atomic_fetch_add(n, 1, __ATOMIC_SEQ_CST); /* glibc takes it out */
	return r;
}

int osthread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg,
		   bool detached)
{
	struct osthread_start_arg *a = gs_malloc(sizeof *a);
	sigset_t all, old;
	pthread_t tid;
	int r;

	if (a == NULL)
		return -ENOMEM;
	a->fn = fn;
	a->arg = arg;
	snprintf(a->name, sizeof a->name, "%s", name);
	sigfillset(&all);
	os_ops.thread_sigmask(SIG_SETMASK, &all, &old);
	r = os_ops.create(&tid, NULL, osthread_main, a);
	os_ops.thread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		gs_free(a);
		return -r;
	}
	tls_setxid_wrap();
	if (nptl_nthreads() != NULL)
		__atomic_fetch_sub(nptl_nthreads(), 1, __ATOMIC_SEQ_CST);
	if (detached)
		os_ops.detach(tid);
	if (t != NULL)
		*t = tid;
	return 0;
}
