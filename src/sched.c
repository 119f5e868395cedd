/*
 * The scheduler's hubs: green threads spread over several OS threads.
 *
 * What it owns: the hubs that run the program's green threads (the
 * "scheduler hubs": the main OS thread's, and GREENSHIM_HUBS - 1 more, each
 * an OS thread of its own started here), where a new green thread runs
 * (sched_place), its hand-over to another hub (hub_adopt_remote), and the
 * count of the program's live threads across them, which says when the
 * process ends as a native one would.
 *
 * Design, as it stands:
 *  - A green thread is made by the thread that calls pthread_create, on
 *    that hub: its stack and TLS come from there, so pthread_create returns
 *    at once with a thread that exists. If it is to run elsewhere it is
 *    handed over before it first runs: pushed, lock-free, on the target
 *    hub's adopt list (through its run-queue link, which a thread in
 *    transit does not use) and the target woken; the target links it among
 *    its threads and queues it. From then on it stays on that hub: its fd
 *    watchers, timers and signal state are the hub's, and every wait ends
 *    there (waitq.c posts a wait completed on another hub to the waiter's).
 *  - Placement: the hub with the fewest live green threads, the creator's
 *    own on a tie. A thread-per-connection server thus spreads its
 *    connections evenly; a program that makes threads on one hub and joins
 *    them keeps them near while the others are as full.
 *  - The extra hubs' OS threads block the program's signals: a signal sent
 *    to the process goes to the main OS thread, as before, and runs its
 *    handler there. The signals the runtime needs on every OS thread stay
 *    open: the preemption tick, faults (SIGSEGV for overflow, SIGBUS,
 *    SIGFPE, SIGILL, SIGTRAP) and SIGSYS for trapped system calls.
 *  - The process ends when the last program thread ends (pthread_exit from
 *    main and from every other): hub_ended() asks the count kept here.
 *  - fork keeps one hub, the forking thread's (sched_fork_child).
 *
 *  - A thread's stack and TLS go back, once it is released, to the hub that
 *    made them (its home, in its flags): a server whose accepting thread
 *    makes every connection's thread on one hub would otherwise fill the
 *    other hubs' pools and make new stacks for ever.
 *
 * Rejected so far, and why:
 *  - Making the thread on the target hub (a request and a reply): a
 *    pthread_create would wait for another OS thread, some microseconds,
 *    and could not return the target's errors sooner.
 *  - One run queue for all hubs under a lock: every switch would take it,
 *    and a ready thread would lose its hub's caches; Go and Tokio keep a
 *    queue per processor for the same reason.
 *
 * Not yet (issue 11): stealing ready threads between hubs; signals,
 * per-thread masks and sigwait for threads of the extra hubs; the deadlock
 * report (a hub's threads may wait for another hub's, so a hub alone cannot
 * tell a deadlock: it is off with several hubs). docs/LIMITATIONS.md.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "runtime.h"
#include "sys.h"

static struct hub *hubs[CONFIG_HUBS_MAX];
static atomic_int nhubs = 1;
/* Live program threads on every scheduler hub (not the extra hubs' own
 * contexts), while there are several hubs. */
static atomic_long running;
static atomic_bool counting; /* running is kept: several hubs were asked for */

struct hub *sched_home(struct green *g)
{
	if (!g->hub->sched)
		return g->hub;
	return hubs[(g->flags & GREEN_HOME_MASK) >> GREEN_HOME_SHIFT];
}

int sched_hubs(void)
{
	return atomic_load_explicit(&nhubs, memory_order_relaxed);
}

struct hub *sched_place(struct hub *h)
{
	int n = sched_hubs();
	struct hub *best = h;
	long least;

	if (n == 1 || !h->sched)
		return h;
	least = atomic_load_explicit(&h->live, memory_order_relaxed);
	for (int i = 0; i < n; i++) {
		long l = atomic_load_explicit(&hubs[i]->live, memory_order_relaxed);

		if (l < least) {
			least = l;
			best = hubs[i];
		}
	}
	return best;
}

void sched_thread_started(struct hub *h)
{
	atomic_fetch_add_explicit(&h->live, 1, memory_order_relaxed);
	if (h->sched && atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_add_explicit(&running, 1, memory_order_relaxed);
}

void sched_thread_ended(struct hub *h)
{
	atomic_fetch_sub_explicit(&h->live, 1, memory_order_relaxed);
	if (h->sched && atomic_load_explicit(&counting, memory_order_relaxed))
		atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
}

bool hub_ended(struct hub *h)
{
	if (!h->sched || !atomic_load_explicit(&counting, memory_order_relaxed))
		return h->nrunning == 0;
	return atomic_load_explicit(&running, memory_order_relaxed) == 0;
}

struct hub_start {
	int index;
	atomic_int state; /* 0 starting, 1 running, -1 failed */
};

/* An extra hub's OS thread: its root context waits for ever while the
 * hub's context runs the threads handed over to it. */
static void *hub_thread(void *arg)
{
	struct hub_start *s = arg;
	char name[16];
	sigset_t open;
	struct hub *h;
	struct wait never;

	snprintf(name, sizeof name, "gs-hub-%d", s->index);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	sigemptyset(&open);
	sigaddset(&open, preempt_signal());
	sigaddset(&open, SIGSEGV);
	sigaddset(&open, SIGBUS);
	sigaddset(&open, SIGFPE);
	sigaddset(&open, SIGILL);
	sigaddset(&open, SIGTRAP);
	sigaddset(&open, SIGSYS);
	os_ops.thread_sigmask(SIG_UNBLOCK, &open, NULL);
	h = hub_get();
	if (h == NULL) {
		atomic_store(&s->state, -1);
		return NULL;
	}
	h->sched = true;
	h->sched_index = s->index;
	h->idle_root = true;
	h->nrunning--; /* its root is no program thread */
	hubs[s->index] = h;
	atomic_store(&s->state, 1);
	wait_init(&never);
	wait_label(&never, WAIT_OTHER, NULL, 0);
	for (;;)
		wait_park(&never, GS_NO_DEADLINE);
}

int sched_start(void)
{
	struct hub *h;
	unsigned want = gs_config.hubs;
	sigset_t all, old;

	if (want <= 1)
		return 0;
	h = hub_get();
	if (h == NULL)
		return -ENOMEM;
	h->sched = true;
	hubs[0] = h;
	/* Every thread of the main hub so far: its root (main). */
	atomic_store(&running, (long)h->nrunning);
	atomic_store(&h->live, (long)h->nrunning);
	atomic_store(&counting, true);
	sigfillset(&all);
	for (unsigned i = 1; i < want; i++) {
		struct hub_start s = { .index = (int)i };
		pthread_t t;
		int r;

		atomic_init(&s.state, 0);
		os_ops.thread_sigmask(SIG_SETMASK, &all, &old);
		r = os_ops.create(&t, NULL, hub_thread, &s);
		os_ops.thread_sigmask(SIG_SETMASK, &old, NULL);
		if (r != 0)
			return -r;
		os_ops.detach(t);
		while (atomic_load(&s.state) == 0)
			arch_syscall3(SYS_sched_yield, 0, 0, 0);
		if (atomic_load(&s.state) < 0)
			return -ENOMEM;
		atomic_store(&nhubs, (int)i + 1);
	}
	return 0;
}

void sched_fork_child(struct hub *h)
{
	if (!atomic_load(&counting))
		return;
	/* The child's only thread is the forking one, on h. */
	atomic_store(&nhubs, 1);
	atomic_store(&counting, false);
	hubs[0] = h;
	h->sched = true;
	h->sched_index = 0;
	h->idle_root = false; /* the forking thread is the child's main */
	h->current->flags &= ~GREEN_HOME_MASK; /* its pools are h's now */
	atomic_store(&h->live, 1);
}
