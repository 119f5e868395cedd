/*
 * greenshim runtime: struct hub, the whole state of one hub (an OS thread
 * that runs green threads on its libev loop), and what only the runtime's
 * own files (src/) use with it. preload/ never sees these fields: it
 * reaches a hub through the functions runtime.h declares (hub_current,
 * hub_in_loop...), as musl's src/internal/pthread_impl.h keeps struct
 * pthread from the rest of the library. Conventions as in runtime.h.
 */
#ifndef GS_HUB_IMPL_H
#define GS_HUB_IMPL_H

#include "runtime.h"

#include <stddef.h>
#include <sys/resource.h>

#define OWN_FDS_PER_HUB 4
#define HUB_CALL_SITES 64 /* a power of two */

/* The blocking monitor's files of a hub's OS thread, in
 * /proc/self/task/TID/ (monitor.c). */
enum { MON_FILE_SYSCALL, MON_FILE_SCHEDSTAT, MON_FILES };

/* What an OS thread has spent, in ns: on a CPU, and runnable but waiting
 * for one (the kernel's schedstat; -1 where it cannot be read). */
struct mon_times {
	int64_t on_cpu, waiting;
};

struct hub {
	struct ev_loop *loop;
	struct green *current;
	struct green *hub_green; /* runs the libev loop */
	unsigned long program_signals; /* program handlers run (preload/) */
	struct green *root;      /* the OS thread's own context */
	struct green *runq_head, *runq_tail;
	/* The last thread queued by a wake-up (hub_unpark), or NULL: those
	 * come first, in the order woken; then the threads the tick
	 * preempted, that yielded, or are new, in the order queued. */
	struct green *runq_woken;
	int64_t woken_ahead_since; /* woken threads run while others wait
				    * behind them since then (runq_pop), or 0 */
	unsigned since_poll;  /* direct switches since the last poll */
	int64_t last_poll;    /* gs_now_ns() of the last poll */
	unsigned runq_len;    /* threads in the run queue */
	unsigned poll_round;  /* of them, right after the last poll */
	struct green *zombie; /* dead, detached: release once off its stack */
	struct green *all;    /* list of every live green of this hub */
	unsigned long ngreen; /* greens not yet released, root included */
	unsigned long nrunning; /* greens not yet DEAD, root included */
	unsigned long nparked;
	uint64_t switches;     /* read by other threads: __atomic, relaxed */
	uint64_t loops;        /* loop iterations of the hub */
	_Atomic int64_t run_start; /* current run began (stats on), else 0 */
	int64_t longest_run;   /* longest run without a switch seen, ns */
	int64_t cpu_mark;      /* the OS thread's CPU time at the current run's
				* start (GS_STATS_CPU), else 0 */
	/* Other OS threads read a thread's CPU clock (introspect_green_cpu_ns)
	 * through these, written by h's OS thread: odd cpu_seq while
	 * cpu_mark, the run's thread (its id; 0: none of the program's) and
	 * its CPU time when the run began change. __atomic, relaxed inside. */
	unsigned cpu_seq;
	/* introspect.c: the OS thread's getrusage(RUSAGE_THREAD) at the
	 * current run's start, once counting began (ru_counting). */
	struct rusage ru_mark;
	bool ru_counting;
	uint64_t cpu_run_id;
	int64_t cpu_run_base;
	int tid;               /* the OS thread's kernel id */
	int pid;               /* and its process's, both as of the last fork */
	struct hub *reg_next;  /* introspect.c: every hub of the process */
	_Atomic(struct sample *) sample; /* introspect.c: a backtrace asked for */
	uint64_t mon_switches; /* monitor.c's, on its own thread: switches seen */
	int64_t mon_seen;      /* when it first saw that count */
	int64_t mon_reported;  /* its last report of this run, or 0 */
	struct mon_times mon_times; /* the OS thread's times then */
	long mon_sys;          /* the system call it last saw the OS thread in, or -1 */
	struct green *mon_sys_green; /* ... made by that thread */
	int64_t mon_sys_seen;  /* since that sample */
	int64_t mon_sys_reported;
	int mon_sys_missed;    /* samples in a row that found it out of the call */
	int mon_fd[MON_FILES]; /* its files in /proc/self/task/TID/, kept open
				* (high, the runtime's own); 0 while not */
	bool stuck_reported;
	bool stuck_counted;  /* among sched.c's stuck hubs */
	struct stack_pool stacks;
	ev_timer stack_decay; /* runs the pool's periods while it has an excess */
	struct fdw **fds;
	int nfds;
	/* fdwait.c: the epoll set of the waits libev cannot watch (urgent
	 * data, or only an error or a hang-up), its watcher in the loop and
	 * the fds waited on through it; made as the hub is threaded
	 * (hub_make_kept_fds). exc_fd moves when a program dup2s over it
	 * (hub_move_own_fd): the hub's thread reads it inside exc_users. */
	atomic_int exc_fd;
	atomic_int exc_users;
	bool exc_made;
	ev_io exc_w;
	unsigned exc_waits;
	/* The cross-thread wake-up (hub_wake): an eventfd of the hub's own
	 * and its watcher. wake_fd moves when a program dup2s over it
	 * (hub_move_own_fd): writers read it inside wake_users. */
	ev_io wake_w;
	atomic_int wake_fd;
	atomic_int wake_users;
	atomic_bool wake_sent;        /* written, not yet read: no write needed */
	/* The hub spins for a post (hub_spin): a poster that sets wake_sent
	 * then writes nothing; the hub looks at wake_sent once more after it
	 * stops, so one of the two sees the other. */
	atomic_bool spinning;
	atomic_bool in_loop;          /* the OS thread is inside ev_run */
	/* A kick is on its way to the OS thread (preempt_kick): the next post
	 * sends none, until the handler takes it. */
	atomic_bool kicked;
	/* Moves of this hub's fds for its thread to take up before its loop
	 * runs again (hub.c, hub_take_move). */
	atomic_bool move_wake, move_backend, move_exc;
	int backend_libev;            /* the epoll fd's number as libev has it */
	_Atomic(struct remote_msg *) remote;
	_Atomic(struct wait *) remote_waits; /* claimed by other hubs (waitq.c) */
	/* sched.c: new threads handed over by other hubs, to link and run;
	 * dead ones their joiner on another hub is done with, to release;
	 * released ones made here, whose stack and TLS come back (freed). */
	_Atomic(struct green *) adopt, released, freed;
	int sched_index;    /* its place among the scheduler's hubs */
	atomic_long live;   /* live green threads, those handed over included */
	bool sched;         /* one of the scheduler's hubs (sched.c) */
	bool idle_root;     /* its root is no program thread: an extra hub's */
	atomic_bool idle;   /* asleep in its loop with nothing to run */
	_Atomic int64_t idle_since; /* when it last became so */
	bool spin_next;     /* another hub's post ended its last sleep */
	_Atomic(struct close_msg *) closed;
	_Atomic(struct kill_msg *) kills;
	/* id * 64 + sig of a standard signal posted to kills and not yet
	 * taken, or 0: a poster of the same sends nothing (hub_post_kill_id). */
	_Atomic uint64_t kill_last;
	/* Threads another hub is moving here (hub_move_green) that this one
	 * has not linked yet: a signal posted for one meanwhile names a
	 * thread not in h->all, and is held (kills_held, in order, the
	 * hub's own) until it is, not dropped. */
	atomic_int incoming;
	struct kill_msg *kills_held;
	atomic_long remote_pending;
	struct green *volatile intr_target; /* signal handler -> hub */
	struct green *volatile kill_target; /* pthread_kill -> signal handler */
	struct sig_slots deferred; /* hub_defer_signal, hub_defer_kill -> the loop */
	void *altstack;               /* the signal stack made for this thread */
	/* trap.c: Syscall User Dispatch's selector for this OS thread (the
	 * kernel reads it at each system call from outside libc: 1 traps, 0
	 * lets it through), and whether dispatch is on for it. */
	volatile char trap_sel;
	bool trap_on;
	timer_t timer;                /* preempt.c: ticks while a green runs */
	bool have_timer, timer_armed;
	int64_t tick_ns;        /* preempt.c: the tick's interval now */
	int64_t tick_due;       /* preempt.c: about when the timer fires next
				 * (GS_NO_DEADLINE: disarmed) */
	struct handler_frame *frames; /* the handlers running on the current
				       * context, the innermost first; NULL
				       * outside any (hub_switch keeps it per
				       * context) */
	int in_tick;                  /* preempt.c's tick handler is running */
	uint64_t preempt_seen;        /* switches counted at the last tick */
	uint64_t preempt_missed;      /* switches + 1 when a tick due found no
				       * safe point: preempt_at_return may
				       * act until the next switch */
	int64_t next_deadline;        /* earliest timed wait begun since the
				       * last preemption (a hint, for preempt.c) */
	int64_t precise_at;           /* earliest timed wait begun since the
				       * loop last slept past one
				       * (hub_loop_wait) */
	uint64_t preemptions;
	uint64_t moved_out;           /* threads handed to idle hubs (sched.c) */
	uint64_t moved_at_return;     /* of them, at a call's return */
	uint64_t settle_loop;         /* loops when sched_settle last unwound */
	struct green *late;           /* back from a wait its timer ended while
				       * the hub ran others (wait_park; only
				       * compared, never read) */
	uint64_t preempt_ticks;	/* timer signals taken (preempting or not) */
	struct green *preempted;      /* to queue after the next poll, */
	struct hub *move_to;          /* or to hand to this hub (hub_hand_over) */
	/* profile.c: which contended hand-overs the lock profile records */
	struct {
		int64_t window_start, cost_ns;
		uint32_t seen, recorded;
		uint32_t p;           /* the chance to record one, in 1/2^16 */
		uint32_t rng;
	} lock_sampling;
	/* sigmask.c: per-green signal masks, once the program sets one */
	bool masks, hub_mask_dirty;
	uint64_t kmask;               /* the mask the OS thread has now */
	uint64_t hub_mask;            /* blocked by every live green */
	unsigned long nlive;          /* live (not DEAD) greens counted */
	unsigned long nblock[64];     /* of them, those blocking signal s+1 */
	unsigned long nwaitset[64];   /* greens in a sigwait for signal s+1 */
	unsigned waited_gen;          /* sigmask.c's waited set it follows */
	ev_timer waited_grace;        /* a waiter left: the set drops after */
	int n_own_fds;                /* fds the wrappers took for the loop */
	_Atomic(struct ctl_call *) ctl_call; /* control.c: run me, hub */
	struct tls_stash *tls_stash;  /* tls.c: libc blocks of dead greens */
	void *tls_blocks;             /* tls.c: free TLS blocks with a selector */
	struct green *tls_spare;      /* tls.c: the hub context's own, in one */
	void *fs;                     /* the thread pointer loaded now */
	/* ctlcmd.c's counters (greenctl stats), kept while stats are on:
	 * waits begun by kind (calls that would have blocked), and calls into
	 * the runtime by call site (preload_hub's return address). */
	uint64_t waits[WAIT_KINDS];
	uintptr_t call_site[HUB_CALL_SITES];
	uint64_t call_n[HUB_CALL_SITES];
#ifdef GS_ASAN
	struct green *switch_from;
#endif
};

/* runtime.h's struct hub_view reads these in place. */
_Static_assert(offsetof(struct hub, loop) == offsetof(struct hub_view, loop) &&
		       offsetof(struct hub, current) == offsetof(struct hub_view, current) &&
		       offsetof(struct hub, hub_green) == offsetof(struct hub_view, hub_green) &&
		       offsetof(struct hub, program_signals) ==
			       offsetof(struct hub_view, program_signals),
	       "struct hub begins as struct hub_view");

/* While threads are ready, the loop is polled (fd and timer events) after
 * HUB_POLL_EVERY direct switches, and at least as many as were queued
 * right after the last poll (one round of them), once HUB_POLL_INTERVAL_NS
 * have passed since the last poll, or HUB_POLL_ROUND_MAX_NS whatever the
 * round: I/O waits at most about that long behind threads that keep
 * yielding, a yield storm does not pay a poll per switch, and a long queue
 * of threads woken by the last poll is not polled again before they have
 * run: each poll reported again every fd whose thread was still queued
 * with its data unread (the echo demo at 1,000 connections: 1,000 events a
 * poll, 15.6 for each read; a round took about 8 ms). The cap is Go's
 * (sysmon polls the network after 10 ms without a poll). */
#define HUB_POLL_EVERY 64
#define HUB_POLL_INTERVAL_NS 50000
#define HUB_POLL_ROUND_MAX_NS 10000000
/* An idle scheduler hub whose last sleep another hub's post ended (threads
 * handing work between hubs) spins this long, watching for the next post,
 * before it sleeps in epoll_wait: a mutex + condition variable hand-off
 * between threads of two hubs (gs-threadbench, both CPUs) took 5.4-8.1 us
 * with it, 19-22 us without, native threads 13-17 us. A hub woken by its
 * fds does not spin: spinning after every sleep cost the echo demo without
 * hashing 7-9% of its round trips and 16-18% more CPU per round trip (the
 * spin took CPU from the load generator beside it); spinning only after
 * posts cost it nothing measurable. A thread that only ever hands over to
 * a sleeping hub pays up to this much CPU per hand-over. A post to a hub
 * that spins writes no eventfd (hub.c, wake_post): 3.0-3.1 us per
 * hand-off, 5.1 us with the write. */
#ifndef HUB_SPIN_NS
#define HUB_SPIN_NS 20000
#endif
/* A thread returning from a call moves to an idle hub (sched_settle) only
 * when the oldest thread ready on its hub has waited SETTLE_QUEUE_NS, or
 * the thread itself has (its timer ended its wait that long before its
 * hub, busy with others, polled), and the other hub has been idle
 * SETTLE_IDLE_NS: hubs that share a steady
 * load are idle for moments and have short queues all the time, and
 * moving their threads about on those cost the echo demo (two hubs, 100
 * connections) some 5% more CPU per round trip, the hashing one 5-10%,
 * for nothing. */
#ifndef SETTLE_QUEUE_NS
#define SETTLE_QUEUE_NS 50000
#endif
#ifndef SETTLE_IDLE_NS
#define SETTLE_IDLE_NS 200000
#endif
/* How long the hub that completes the set of stuck hubs waits for a
 * wake-up before it reports a deadlock (sched.c, sched_stuck_confirm): a
 * signal the kernel gives another hub's OS thread is handled in
 * microseconds there, or some milliseconds on a busy machine. */
#ifndef STUCK_GRACE_NS
#define STUCK_GRACE_NS 20000000
#endif
#define HUB_STACK_SIZE (256 * 1024)

/* Whether g is one of the program's threads: not an extra hub's own
 * root context (sched.c), which the tools leave out. */
static inline bool green_of_program(const struct green *g)
{
	return !(g->hub->idle_root && g == g->hub->root);
}

#endif
