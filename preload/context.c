/*
 * May this caller park? The one question every wrapper asks first.
 *
 * Plain libc behaviour is owed to the hub's own context: libev calls read,
 * write and epoll_wait through the PLT, which lands in our wrappers, and to
 * the OS threads the runtime runs for itself (src/osthread.c: the pool,
 * the monitor), which never have a hub; and so is a library the runtime
 * calls on a hub's OS thread (osthread_runtime_begin: libunwind, in the
 * tick's handler on the OS thread's alternate signal stack). Everyone else
 * is a green thread (the OS thread's root included) of the calling OS
 * thread's hub, made on first use; with GREENSHIM_THREADS=native every OS
 * thread is the root of a hub of its own.
 */
#include <pthread.h>

#include "preload.h"
#include "../src/tools.h"

/* An OS thread's hub goes when the thread does (a thread-specific data
 * destructor of glibc's keys): with GREENSHIM_THREADS=native a server that
 * makes a thread per connection would otherwise leak two fds and a loop
 * per connection, and so would the real threads of a library that keeps
 * its threads native (an OpenMP runtime, thread.c). */
static pthread_key_t hub_key;
static pthread_once_t hub_key_once = PTHREAD_ONCE_INIT;

static void hub_at_thread_exit(void *h)
{
	(void)h;
	hub_destroy();
}

static void hub_key_make(void)
{
	REAL(pthread_key_create)(&hub_key, hub_at_thread_exit);
}

struct hub *preload_hub(void)
{
	struct hub *h = hub_peek();

	if (GS_LIKELY(h != NULL)) {
		/* The runtime's call into a library on a hub's OS thread: the
		 * tick's handler reads a thread's stack with libunwind, whose
		 * cache lock, when another hub's handler held it, made the
		 * mutex wrapper sleep (runtime_mutex_take) in nanosleep's,
		 * which parked the thread on the OS thread's alternate stack:
		 * the next tick's frame overwrote its wait, and Node.js died
		 * of SIGSEGV under load. */
		if (GS_UNLIKELY(hub_in_loop(h) || osthread_is_runtime()))
			return NULL;
		/* greenctl stats: calls into the runtime by the wrapper that
		 * made them (ctlcmd.c names the site). */
		if (GS_UNLIKELY(__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED) & GS_STATS_TOOL))
			control_count_call(h, (uintptr_t)__builtin_return_address(0));
		return h;
	}
	if (osthread_is_runtime())
		return NULL;
	h = hub_get();
	if (h != NULL) {
		REAL(pthread_once)(&hub_key_once, hub_key_make);
		REAL(pthread_setspecific)(hub_key, h);
	}
	return h;
}
