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
 *    its threads and queues it. Every wait ends on the hub the thread
 *    parked on (waitq.c posts a wait completed on another hub to the
 *    waiter's).
 *  - Moves: a thread the preemption tick takes off its CPU while others
 *    are ready on its hub goes to an idle hub instead of the back of the
 *    queue (sched_share, hub_move_green), when its stack shows nothing
 *    below the program's own code but the thread's start (movable()):
 *    no greenshim frame that keeps its hub in a local, no libc frame that
 *    holds a lock by its OS thread's id. Only the tick's handler and
 *    hub_switch are then above it, and both read the hub again when the
 *    thread resumes. A hub says it is idle (h->idle) while it sleeps in
 *    its loop with nothing to run; the busy hub claims it with an
 *    exchange, so two hubs do not both hand it one.
 *  - Moves at a call's return: a thread that returns from an interposed
 *    call that may wait (read, recv, accept, poll, epoll_wait, the
 *    sleeps, the mutex, condition variable, semaphore, rwlock, barrier
 *    and futex waits, join) while threads wait in its hub's run queue and
 *    another hub is idle goes on there (sched_settle, hub_hand_over): it
 *    is the last thing the interposed function does, after its wait is
 *    undone on its hub (timer stopped, waiter unlinked), so no frame of
 *    the runtime's above the program's keeps a hub in a local. The stack
 *    below must pass the same test as a preempted thread's, read with
 *    glibc's backtrace(); at most one try per hub per poll of its loop
 *    (h->settle_loop), so a stack that does not pass costs one unwinding
 *    per round, not one per call; and only once the oldest ready thread
 *    has waited SETTLE_QUEUE_NS, or the returning thread itself has (its
 *    timer ended its wait that long before its hub, busy with others,
 *    polled: two threads that take turns, each sleeping while the other
 *    computes, never find one queued behind them), and the idle hub has
 *    been so for SETTLE_IDLE_NS (runtime.h): hubs that share a steady load have short
 *    queues and idle moments all the time, and moving threads between
 *    them costs more than it gives. This is what takes the place of work
 *    stealing for threads woken from waits: the thread that would be
 *    stolen hands itself over, at the one point where it can.
 *  - Idle: a hub with nothing to run sleeps in epoll_wait; if another
 *    hub's post ended its last sleep it first spins up to HUB_SPIN_NS for
 *    the next one (hub.c, hub_spin; runtime.h has the measurements).
 *  - Placement: the hub with the fewest live green threads, the creator's
 *    own on a tie. A thread-per-connection server thus spreads its
 *    connections evenly; a program that makes threads on one hub and joins
 *    them keeps them near while the others are as full.
 *  - The extra hubs start with the program's second thread, not before
 *    main: a program that never makes one never has them (nor pays for
 *    them), and a forked child starts its own the same way.
 *  - Signals: every hub's OS thread has the mask of what it runs in the
 *    kernel (sigmask.c; an extra hub with no program thread blocks all
 *    but the runtime's), so the kernel picks, for a signal sent to the
 *    process, a hub where some thread takes it. A signal or cancellation
 *    for one thread of another hub is posted to that hub (hub_post_kill),
 *    which delivers it as if sent there: at once where it runs a thread
 *    that may be stopped (a kick to its OS thread, preempt_kick), else at
 *    its next turn through its loop, and before the target ends.
 *  - The process ends when the last program thread ends (pthread_exit from
 *    main and from every other): hub_ended() asks the count kept here.
 *  - Deadlock: the process is stuck when every hub is (sched_stuck_begin,
 *    below), not when one is: a hub's threads may wait for another's.
 *  - fork keeps one hub, the forking thread's (sched_fork_child).
 *  - A thread's stack and TLS go back, once it is released, to the hub that
 *    made them (its home, in its flags): a server whose accepting thread
 *    makes every connection's thread on one hub would otherwise fill the
 *    other hubs' pools and make new stacks for ever.
 *
 * Rejected so far, and why:
 *  - Stealing any ready thread, pulled by the idle hub from a busy one's
 *    queue (Go, Tokio): a thread woken from a wait resumes inside the
 *    runtime's wait code, whose frames (some forty wrappers) keep the hub
 *    they parked on in a local, and whose wait may still hold a timer or
 *    a waiter entry of that hub's; moving it would need each of them to
 *    look again after every park. And a pull needs the busy hub's run
 *    queue shared (a lock or a lock-free deque on every switch), where a
 *    push at the tick or at a call's return costs nothing until some hub
 *    is idle. What a push gives up: a ready thread waits for the thread
 *    ahead of it to reach a return or a tick, and the thread that moves
 *    is the one running (its cache stays behind), not the one queued.
 *  - Making the thread on the target hub (a request and a reply): a
 *    pthread_create would wait for another OS thread, some microseconds,
 *    and could not return the target's errors sooner.
 *  - One run queue for all hubs under a lock: every switch would take it,
 *    and a ready thread would lose its hub's caches; Go and Tokio keep a
 *    queue per processor for the same reason.
 *  - Starting the extra hubs before main: every program, threaded or
 *    not, paid for N - 1 OS threads, and a single-threaded one showed
 *    them in /proc.
 *  - Sending another hub's thread's signal from the sender's own OS
 *    thread: the handler would run there, beside the target on another
 *    CPU, and could not end the target's wait (only its hub may).
 *
 * Measured (docs/BENCHMARKS.md, *Many hubs*): tools/bench/uneven.sh with
 * threads that compute in 0.4 ms bursts between short sleeps.
 */
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "hub_impl.h"
#include "tools.h"
#include "sys.h"

static struct hub *hubs[CONFIG_HUBS_MAX];
static atomic_int nhubs = 1;
/* Live program threads on every scheduler hub (not the extra hubs' own
 * contexts), while there are several hubs. */
static atomic_long running;
static atomic_bool counting; /* running is kept: the extra hubs started */
static atomic_bool spread;   /* the extra hubs were started (or tried) */

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

static int start_extra_hubs(struct hub *h);

struct hub *sched_place(struct hub *h)
{
	int n = sched_hubs();
	struct hub *best = h;
	long least;

	if (!h->sched)
		return h;
	if (n == 1) {
		/* The program's second thread: now the other hubs start. */
		if (atomic_load_explicit(&spread, memory_order_relaxed) || start_extra_hubs(h) <= 1)
			return h;
		n = sched_hubs();
	}
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

/* Frames enough for a deep interpreter's stack; a deeper one stays put. */
#define SHARE_FRAMES_MAX 256

/* The frames from index from down to the thread's start, of a thread that
 * is to run on another OS thread from now on: every one is the program's
 * own or another library's (never libc's nor the loader's, which may hold
 * a lock across a call back into the program, glibc's recursive ones by
 * their OS thread's id), and the runtime's are only the thread's start, at
 * the bottom (a runtime frame in the middle, pthread_once's or a
 * destructor's caller, keeps its hub in a local). pcs are return
 * addresses: each call is just before its own. */
static bool frames_movable(const uintptr_t *pcs, int from, int n)
{
	bool start = false;

	if (n >= SHARE_FRAMES_MAX)
		return false;
	for (int k = from; k < n; k++) {
		enum pc_kind kind = preempt_pc_kind(pcs[k] - 1);

		if (kind == PC_LIBC || (start && kind != PC_RUNTIME))
			return false;
		start = kind == PC_RUNTIME;
	}
	return start;
}

/* May g, preempted, run on another OS thread from where it stopped? Only
 * when the tick interrupted the program's own code, or late code (a
 * library it loaded later, a JIT compiler's: until 2026-12-05 a thread
 * stopped there stayed, and a JVM's C2 compiler thread never left the
 * hub of the threads it kept waiting), and nothing on its stack below can
 * tell (frames_movable). */
static bool movable(struct green *g)
{
	uintptr_t pcs[SHARE_FRAMES_MAX];
	int sig_at, n = introspect_backtrace_pcs(g, pcs, SHARE_FRAMES_MAX, &sig_at);

	if (n <= 0 || sig_at < 0 || !preempt_safe_point(pcs[sig_at]))
		return false;
	return frames_movable(pcs, sig_at + 1, n);
}

/* May the running thread, about to return from the interposed call whose
 * return address is ra, go on on another OS thread? Only the runtime's
 * frames are above ra (this one's, and the interposed function's, which
 * returns at once: it asked), and from ra down (called_from_outside)
 * nothing can tell either (frames_movable).
 *
 * Its own stack, read by glibc's backtrace() (libgcc's unwinder, which
 * glibc loaded when the extra hubs started), not libunwind's: libunwind
 * makes a pipe of its own the first time it unwinds, two descriptors the
 * program could not dup2 over (docs/LIMITATIONS.md), and every program
 * whose threads wait on several hubs would have them. A frame libgcc
 * cannot unwind ends the walk before the thread's start: no move. */
static bool movable_at_return(uintptr_t ra)
{
	void *pcs[SHARE_FRAMES_MAX];
	int k = 0, n = backtrace(pcs, SHARE_FRAMES_MAX);

	while (k < n && (uintptr_t)pcs[k] != ra) {
		if (preempt_pc_kind((uintptr_t)pcs[k] - 1) != PC_RUNTIME)
			return false;
		k++;
	}
	return k > 0 && k < n && frames_movable((const uintptr_t *)pcs, k + 1, n);
}

/* Called from the program or another library: not from the runtime (an
 * interposed function that calls another, recv calling recvfrom, settles
 * itself), nor from libc or libunwind (PC_LIBC). */
static bool called_from_outside(uintptr_t ra)
{
	enum pc_kind kind = preempt_pc_kind(ra - 1);

	return kind == PC_PROGRAM || kind == PC_OTHER;
}

/* Another scheduler hub than h that says it is idle (since before
 * 'before'), or NULL. */
static struct hub *idle_hub(struct hub *h, int64_t before)
{
	int n = sched_hubs();

	for (int i = 1; i < n; i++) {
		struct hub *c = hubs[(h->sched_index + i) % n];

		if (atomic_load_explicit(&c->idle, memory_order_relaxed) &&
		    atomic_load_explicit(&c->idle_since, memory_order_relaxed) <= before)
			return c;
	}
	return NULL;
}

bool sched_runs_elsewhere(struct hub *h, const struct green *g)
{
	int n = sched_hubs();

	if (n == 1 || !h->sched)
		return false;
	for (int i = 1; i < n; i++) {
		struct hub *c = hubs[(h->sched_index + i) % n];

		if (__atomic_load_n(&c->current, __ATOMIC_RELAXED) == g)
			return true;
	}
	return false;
}

/* Moves allowed (0) and moves under way (claimed, not yet linked). */
#define SCHED_PAUSE_WAIT_NS 100000000
static atomic_int moves_paused, moves_in_transit;

void sched_moves_pause(void)
{
	int64_t until = gs_now_ns() + SCHED_PAUSE_WAIT_NS;

	atomic_fetch_add(&moves_paused, 1);
	/* A hub links what it is handed at its next turn; one that does not
	 * come back to its loop (a thread that never yields) is not waited
	 * for long. */
	while (atomic_load(&moves_in_transit) != 0 && gs_now_ns() < until)
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
}

void sched_moves_resume(void)
{
	atomic_fetch_sub(&moves_paused, 1);
}

void sched_moved_in(struct green *g)
{
	g->flags &= ~GREEN_MOVING;
	atomic_fetch_sub(&moves_in_transit, 1);
}

/* t, seen idle, is h's to hand a thread: no other hub hands it one too,
 * and the move is counted in transit unless moves are paused (the count
 * first, then the check, as sched_moves_pause sets then waits). */
static bool claim(struct hub *h, struct hub *t)
{
	atomic_fetch_add(&moves_in_transit, 1);
	if (atomic_load(&moves_paused) != 0 ||
	    !atomic_exchange_explicit(&t->idle, false, memory_order_relaxed)) {
		atomic_fetch_sub(&moves_in_transit, 1);
		return false;
	}
	atomic_fetch_sub_explicit(&h->live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->live, 1, memory_order_relaxed);
	h->moved_out++;
	return true;
}

/* g, of h, is a program thread that could run on another hub. Only with
 * preemption on: preempt.c knows then which code is whose (preempt_pc_kind),
 * and GREENSHIM_PREEMPT_MS=0 keeps every thread where it was placed. Not
 * while it holds a FILE lock, or one of glibc's mutexes that checks its
 * owner: glibc names h's OS thread their owner. Nor inside a program's
 * signal handler: its frame returns on the OS thread it was delivered on
 * (the mask and signal stack it restores are that thread's). */
static bool may_move(struct hub *h, struct green *g)
{
	return sched_hubs() > 1 && h->sched && gs_config.preempt_ns != 0 && h->frames == NULL &&
	       !(g->flags & (GREEN_ROOT | GREEN_HUB | GREEN_FLOCK_MASK)) && g->os_locks == 0 &&
	       green_of_program(g);
}

bool sched_share(struct hub *h, struct green *g)
{
	struct hub *t;

	if (!may_move(h, g) || (t = idle_hub(h, INT64_MAX)) == NULL || !movable(g) ||
	    !claim(h, t))
		return false;
	hub_move_green(h, g, t);
	return true;
}

void sched_settle(uintptr_t ra)
{
	struct hub *h = hub_peek(), *t;
	struct green *g;
	int saved_errno;
	int64_t now;
	bool late;

	if (sched_hubs() == 1 || h == NULL)
		return;
	g = h->current;
	late = h->late == g;
	h->late = NULL;
	/* Cheap first: threads wait here or this one did, none was tried
	 * since the last poll. */
	if ((h->runq_head == NULL && !late) || h->settle_loop == h->loops ||
	    osthread_is_runtime() || !may_move(h, g) || !called_from_outside(ra))
		return;
	/* Then: the queue is old or this thread came late, and another hub
	 * has been idle a while. */
	now = gs_now_ns();
	if ((!late && now - h->runq_head->since < SETTLE_QUEUE_NS) ||
	    (t = idle_hub(h, now - SETTLE_IDLE_NS)) == NULL)
		return;
	h->settle_loop = h->loops; /* one unwinding per round, at most */
	saved_errno = errno;
	if (movable_at_return(ra) && claim(h, t)) {
		h->moved_at_return++;
		hub_hand_over(h, g, t); /* returns on t */
		green_take_due(g);
	}
	errno = saved_errno;
}

struct green *sched_root_named(struct hub *h, uintptr_t self)
{
	struct hub *first = h->sched ? hubs[0] : h;

	if (green_of_program(h->root) && (uintptr_t)h->root->tp == self)
		return h->root;
	if (first != h && (uintptr_t)first->root->tp == self)
		return first->root;
	return NULL;
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

bool sched_shared(const struct hub *h)
{
	/* h->live is kept only once there are several hubs; nrunning
	 * always, by h's own OS thread, the caller's. */
	return h->nrunning - (h->idle_root ? 1 : 0) > 1;
}

bool sched_alone(const struct hub *h)
{
	if (!h->sched || !atomic_load_explicit(&counting, memory_order_relaxed))
		return !sched_shared(h);
	return atomic_load_explicit(&running, memory_order_relaxed) <= 1;
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
	sigmask_idle_root(h);
	/* Now, while the program's only thread waits for this start. */
	hub_make_kept_fds(h);
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

	if (gs_config.hubs <= 1)
		return 0;
	h = hub_get();
	if (h == NULL)
		return -ENOMEM;
	h->sched = true;
	hubs[0] = h;
	return 0;
}

/* Starts the extra hubs, once, from the first hub h (the program's only
 * thread so far is on it, and is making its second); the number of hubs
 * there are then. */
static int start_extra_hubs(struct hub *h)
{
	unsigned want = gs_config.hubs;
	sigset_t all, old;

	atomic_store(&spread, true);
	/* glibc's backtrace loads libgcc's unwinder at its first call: here,
	 * not in the middle of a wait's return (sched_settle). */
	{
		void *pc;

		backtrace(&pc, 1);
	}
	/* The handler that takes another hub's kicks (preempt_kick), with
	 * preemption and the monitor both off too. */
	preempt_handler_ready();
	/* Every thread of the first hub so far is a program thread. */
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
		if (r == 0) {
			os_ops.detach(t);
			while (atomic_load(&s.state) == 0)
				arch_syscall3(SYS_sched_yield, 0, 0, 0);
		}
		if (r != 0 || atomic_load(&s.state) < 0) {
			static const char msg[] = "greenshim: GREENSHIM_HUBS: the system refused an "
						  "OS thread for a hub; running on fewer hubs\n";

			sys_write(STDERR_FILENO, msg, sizeof msg - 1);
			break;
		}
		atomic_store(&nhubs, (int)i + 1);
	}
	/* The first hub now shares the program with others: raw system
	 * calls are trapped and the blocking monitor watches, as on a hub
	 * with a second thread of its own (hub_link_green). */
	if (sched_hubs() > 1)
		hub_threaded(h);
	return sched_hubs();
}

/*
 * Signals sent to the process. Linux gives one to the main thread unless
 * it blocks it (or has one pending already), else to another thread that
 * does not. The kernel sees hubs, not threads: it may give a signal to an
 * extra hub's OS thread while the main thread, parked on the first hub,
 * would take it (the first hub's OS thread ran a thread that blocks it,
 * or had a tick pending). Such a signal goes on to the first hub: its
 * siginfo is kept here, one per standard signal number (they coalesce as
 * the kernel's do), one per instance of a real-time one (they queue, in
 * the order they came: a slot of forward_rt each), and the first hub
 * raises it on its own OS thread with that siginfo (the kernel lets a
 * thread queue any siginfo to itself, not to another). Until 2026-12-06 a
 * real-time signal sent again meanwhile was lost: `tools/soak/run.sh
 * build signals` handled 27,689 of 30,000 queued SIGRTMIN. With every
 * slot taken, one stays where it came, handled there. The synchronous
 * signals and those the kernel sends a thread for what it did (SIGPIPE,
 * SIGXFSZ) stay where they are.
 */
static siginfo_t forwarded[64];
static atomic_uint_least64_t forward_claimed, forward_ready;
static struct sig_slots forward_rt;

bool sched_forward_signal(struct hub *h, int sig, const siginfo_t *si)
{
	uint64_t b;
	struct green *main;

	if (!h->idle_root || !h->sched || sig < 1 || sig > 64)
		return false;
	b = 1ull << (sig - 1);
	main = hubs[0]->root;
	if (sigmask_raised_by_thread(sig) || !green_of_program(main) || main->state == GREEN_DEAD ||
	    sigmask_blocks(main, sig))
		return false;
	if (sig >= 32) {
		struct sig_post p = { .si = *si, .has_info = true };

		if (!sig_slots_post(&forward_rt, &p))
			return false;
		hub_wake(hubs[0]);
		return true;
	}
	if (atomic_fetch_or(&forward_claimed, b) & b)
		return true; /* one on its way already: coalesced */
	forwarded[sig - 1] = *si;
	atomic_fetch_or(&forward_ready, b);
	hub_wake(hubs[0]);
	return true;
}

void sched_take_forwarded(struct hub *h)
{
	uint64_t ready;
	bool self = false;

	if (h != hubs[0])
		return;
	for (struct sig_post p; sig_slots_take(&forward_rt, &p);)
		if (sigmask_kill_here(h, h->root, p.si.si_signo, &p.si))
			sigmask_raise_due(h, h->root); /* the rest stay in forward_rt */
	if (atomic_load_explicit(&forward_ready, memory_order_relaxed) == 0)
		return;
	ready = atomic_exchange(&forward_ready, 0);
	for (int sig = 1; ready != 0; sig++, ready >>= 1) {
		siginfo_t si;

		if (!(ready & 1))
			continue;
		si = forwarded[sig - 1];
		atomic_fetch_and(&forward_claimed, ~(1ull << (sig - 1)));
		self |= sigmask_kill_here(h, h->root, sig, &si);
	}
	/* main's own, running, once all are kept (its handler may wait). */
	if (self)
		sigmask_raise_due(h, h->root);
}

void sched_follow_waits(struct hub *h)
{
	int n = sched_hubs();

	for (int i = 0; i < n; i++) {
		struct hub *o = hubs[i];

		if (o == NULL || o == h)
			continue;
		hub_wake(o);
		preempt_kick(o);
	}
}

struct hub *sched_hub(int i)
{
	return hubs[i];
}

bool sched_member(const struct hub *h)
{
	return h->sched;
}

/*
 * Deadlock across hubs. Each hub counts itself in stuck_hubs while it
 * sleeps with nothing that could wake a thread of its own, and out again
 * first thing when woken (hub.c, before it clears its wake_sent). The hub
 * whose count completes the set checks that no hub has a wake-up on its
 * way (wake_sent: posted, not yet read; remote_pending: the pool's work)
 * and then that the count still holds: a hub woken meanwhile has counted
 * itself out before its wake_sent went back to false, so one of the two
 * checks sees it.
 *
 * A signal can be on its way with every hub counted: a thread kills the
 * process and waits for what the handler does, and the kernel gives the
 * signal to another hub's OS thread (the main thread's, Linux's first
 * choice), which has not run its handler yet. Until 2026-12-07 that was
 * reported as a deadlock, once in some thirty such hand-offs on two hubs
 * (tests/preload/signal_in_flight.c). So the set, once complete, is a
 * candidate only (sched_stuck_begin): the hub that completed it waits
 * STUCK_GRACE_NS for a wake-up (hub.c, hub_stuck), then reports only if
 * no hub has counted itself out since (stuck_epoch), no wake-up is on its
 * way, and no signal is pending for a hub's OS thread, or for the
 * process, that some hub's OS thread does not block (its /proc status:
 * what the kernel will deliver is what ends a wait there).
 */
static atomic_int stuck_hubs;
static atomic_ulong stuck_epoch; /* hubs counted out, ever */
static atomic_bool deadlock_reported;

/* No hub has a wake-up on its way, and every hub is still counted. */
static bool all_stuck(int n)
{
	for (int i = 0; i < n; i++)
		if (atomic_load(&hubs[i]->wake_sent) || atomic_load(&hubs[i]->remote_pending) != 0)
			return false;
	return atomic_load(&stuck_hubs) == n && atomic_load(&running) >= 2;
}

bool sched_stuck_begin(unsigned long *epoch)
{
	int n = sched_hubs();

	*epoch = atomic_load(&stuck_epoch);
	if (atomic_fetch_add(&stuck_hubs, 1) + 1 != n)
		return false;
	return all_stuck(n);
}

/* The value of a field ("SigPnd:") of a /proc status text, in hex; 0 if
 * absent. */
static uint64_t status_mask(const char *text, const char *field)
{
	const char *p = strstr(text, field);

	return p != NULL ? strtoull(p + strlen(field), NULL, 16) : 0;
}

/* A signal pending for a hub's OS thread that it does not block, or for
 * the process that some hub's OS thread does not block: the kernel will
 * deliver it, and its handler may end a wait. */
static bool signal_on_its_way(int n)
{
	char path[64], text[4096];
	uint64_t shared = 0, takers = 0;

	for (int i = 0; i < n; i++) {
		long fd, len;
		uint64_t blocked;

		snprintf(path, sizeof path, "/proc/self/task/%d/status", hubs[i]->tid);
		fd = arch_syscall6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
		if (fd < 0)
			continue; /* ended: it takes nothing */
		len = arch_syscall3(SYS_read, fd, (long)text, sizeof text - 1);
		arch_syscall3(SYS_close, fd, 0, 0);
		if (len <= 0)
			continue;
		text[len] = '\0';
		blocked = status_mask(text, "\nSigBlk:");
		if (status_mask(text, "\nSigPnd:") & ~blocked)
			return true;
		shared = status_mask(text, "\nShdPnd:");
		takers |= ~blocked;
	}
	return (shared & takers) != 0;
}

bool sched_stuck_confirm(unsigned long epoch)
{
	int n = sched_hubs();

	if (atomic_load(&stuck_epoch) != epoch || !all_stuck(n) || signal_on_its_way(n) ||
	    atomic_load(&stuck_epoch) != epoch)
		return false;
	return !atomic_exchange(&deadlock_reported, true);
}

void sched_stuck_end(void)
{
	/* The epoch first: a confirmation that still sees the count sees it. */
	atomic_fetch_add(&stuck_epoch, 1);
	atomic_fetch_sub(&stuck_hubs, 1);
	atomic_store_explicit(&deadlock_reported, false, memory_order_relaxed);
}

void sched_fork_child(struct hub *h)
{
	if (!atomic_load(&counting))
		return;
	/* The child's only thread is the forking one, on h. */
	atomic_store(&nhubs, 1);
	atomic_store(&counting, false);
	atomic_store(&stuck_hubs, 0);
	atomic_store(&deadlock_reported, false);
	/* No move is under way in the child, nor a greenctl request. */
	atomic_store(&moves_in_transit, 0);
	atomic_store(&moves_paused, 0);
	/* Its own extra hubs start with its second thread, as the
	 * parent's did. Signals pending for the parent are not the child's
	 * (fork(2)): nothing forwarded is left, nor held for coalescing. */
	atomic_store(&spread, false);
	atomic_store(&forward_claimed, 0);
	atomic_store(&forward_ready, 0);
	sig_slots_clear(&forward_rt);
	hubs[0] = h;
	h->sched = true;
	h->sched_index = 0;
	h->idle_root = false; /* the forking thread is the child's main */
	h->current->flags &= ~GREEN_HOME_MASK; /* its pools are h's now */
	atomic_store(&h->live, 1);
}
