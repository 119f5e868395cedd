/*
 * The shared object's start: configuration is read and checked before the
 * program's main() runs, so that a bad GREENSHIM_* value stops it at once
 * (docs/CONFIG.md). The libc interposition families live beside this file.
 */
#include <pthread.h>

#include "preload.h"
#include "../src/sys.h"
#include "../src/tools.h"

/* Under LD_PRELOAD, green threads that compute without waiting are
 * preempted on a 2 ms tick (src/preempt.c; GREENSHIM_PREEMPT_MS). */
const int64_t gs_preempt_default_ns = CONFIG_PREEMPT_DEFAULT_MS * 1000000LL;
/* ... and their raw system calls are trapped (src/trap.c;
 * GREENSHIM_SYSCALLS). */
const bool gs_syscalls_default = true;

/* Registered before the program's own handlers (this constructor runs
 * before main), so that its child handlers, which run after this one, find
 * a working hub; the prepare handler runs last, next to the fork. */
void preload_fork_prepare(void)
{
	introspect_fork_prepare();
}

void preload_fork_parent(void)
{
	introspect_fork_parent();
}

void preload_fork_child(void)
{
	dns_fork_child();
	hub_fork_child();
	affinity_fork_child(preload_self_green());
	sync_fork_child();
	stdio_fork_child();
	control_fork_child();
	profile_fork_child();
}

/* A green thread ends: its keys' destructors (the program's code), then
 * the robust mutexes it still holds. */
static void preload_thread_exit(struct green *g)
{
	tsd_thread_exit(g);
	sync_thread_exit(g);
	affinity_thread_exit(g);
}

__attribute__((constructor)) static void preload_init(void)
{
	/* The program finds errno as it was: zero at startup (ISO C), not
	 * what the runtime's start left there (ENOTTY, among others). */
	int err = errno;

	config_load();
	/* How green threads get their TLS, settled before the program runs. */
	tls_init();
	affinity_init();
	green_set_run_hook(preload_pthread_run);
	green_set_cancel_hook(preload_cancel_green);
	green_set_exit_hook(preload_thread_exit);
	preload_rawsys_init();
	pthread_atfork(preload_fork_prepare, preload_fork_parent, preload_fork_child);
	/* The tools that watch a program (src/introspect.c, src/monitor.c):
	 * a report when a thread keeps the others from running, and one when
	 * every thread waits for ever. */
	monitor_enable();
	hub_set_stuck_hook(introspect_deadlock_report);
	control_start();
	profile_start();
	/* GREENSHIM_HUBS: this thread's hub is the first; the others start
	 * with the program's second thread (src/sched.c). */
	if (sched_start() < 0) {
		static const char msg[] = "greenshim: GREENSHIM_HUBS: no memory for the first hub; "
					  "running on one hub\n";

		sys_write(STDERR_FILENO, msg, sizeof msg - 1);
	}
	errno = err;
}
