/*
 * A signal mask per green thread.
 *
 * All green threads of a hub share one OS thread, hence one kernel signal
 * mask. Each green thread keeps the mask the program gave it
 * (green->sigmask, the kernel's 64-bit word) and the hub puts it in the
 * kernel when it switches to that thread. The hub's own context runs with
 * the signals that every live green thread blocks blocked: natively a
 * process-directed signal is delivered as soon as any thread does not
 * block it, and while the hub waits in epoll_wait it stands in for the
 * threads that wait.
 *
 * Cost: nothing for a program that never changes a mask (the hub's
 * `masks` flag stays false and a switch tests one bool). Once a green
 * thread changes its mask, a switch between two threads whose masks
 * differ costs one rt_sigprocmask; the hub's mask is computed from 64
 * counters (h->nblock[s]: live threads blocking s), and only when one of
 * them changed.
 *
 * The preemption signal (src/preempt.c) is never blocked in the kernel
 * while preemption is on, whatever the program's mask says: the program
 * still reads back the mask it set.
 *
 * Signals for one green thread (pthread_kill, raise) that it blocks are
 * kept pending for it here (green->tsig), as the kernel keeps a thread's
 * own pending signals: they are sent for real on its own context when it
 * unblocks them, and a sigwait of it takes them before the OS thread's and
 * the process's. Those it lets in, sent by another thread, with a handler
 * of the program's, are kept the same way, and sent for real on its own
 * context when it next runs (green_take_due; a waiting thread is woken for
 * it, hub_sigwake): its handler runs on its stack and TLS, as natively,
 * not on the sender's. A thread in sigwait (green->waitset) has its set
 * blocked in the kernel while it or the hub runs, so that a signal of the
 * set stays pending until the thread takes it (preload/sigwait.c).
 *
 * And on every other hub too, whatever thread runs there (waited): Linux
 * gives a signal sent to the process to its main thread when that one
 * takes it, and a thread in sigwait does. A program whose main thread
 * waits in sigwait for a signal that another thread lets in gets it there
 * natively, every time; under greenshim the other thread's hub took it
 * (sigwait waits in the hub, not in the kernel), and at the signal's
 * default action the process died of it (until 2026-12-07; two hubs,
 * every run). Blocked everywhere, it stays pending for the process, and
 * the waiter's signalfd, which sees the process's pending signals from
 * any hub, ends its wait. When main is not the waiter the kernel may give
 * such a signal to either thread: greenshim always gives it to the
 * waiter, one of the native outcomes. Never blocked so: the signals the
 * kernel sends a thread for what it did (faults, SIGPIPE, SIGXFSZ), which
 * are that thread's, and glibc's own (32, 33). The other hubs follow a
 * change at their next poll (sigmask_follow_waits), woken or kicked for
 * it, and the change is taken out again around an exec and in a fork's
 * child, which start on the caller's own mask. A signal stays so blocked
 * WAITED_GRACE_NS after its last waiter left (a timer of that waiter's
 * hub ends it): a signal thread that takes one, handles it and waits
 * again sets it once, where waking every other hub twice per signal cost
 * some 55 µs of CPU per sigwait with two hubs (20,000 SIGUSR1 into a
 * sigwait loop beside four sleeping threads: 0.7 s of CPU before the
 * change, 1.9 s with it and no grace). A signal that comes meanwhile, and
 * that another thread lets in, waits for it as for a hub's switch.
 */
#include "hub_impl.h"
#include "sys.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

/* Set for good once any hub counts masks: until then every green thread
 * of the process has the mask it started with. */
static atomic_bool masks_anywhere;

/* The signals some green thread of the process waits for in sigwait,
 * blocked on every hub (the head comment): how many wait for each, the
 * set of those with any, and a generation the hubs follow. */
static atomic_int nwaiting[64];
static _Atomic uint64_t waited;
static atomic_uint waited_gen;
/* Held to make waited from the counts: the last to make it saw every
 * change of the counts made before it took the lock. */
static atomic_flag waited_lock = ATOMIC_FLAG_INIT;

#define WAITED_GRACE_NS 2000000

/* The signals whose disposition is a handler of the program's
 * (preload/signal.c): those sent to another green thread than the caller
 * are kept for it, to run on its own context (sigmask_thread_kill). */
static _Atomic uint64_t handled;
/* Those of them whose handler has SA_RESTART. */
static _Atomic uint64_t restarting;

static uint64_t bit(int sig)
{
	return (uint64_t)1 << (sig - 1);
}

/* Sends sig to this OS thread, with si's siginfo if not NULL. Raw
 * system calls, here as everywhere in the runtime: the interposed
 * syscall() names a green thread by its gettid, which the kernel does not
 * know (a rt_tgsigqueueinfo to it said ESRCH, and the signal was lost),
 * and makes a green thread's rt_sigprocmask its own mask's change. */
static void send_here(int sig, const siginfo_t *si)
{
	const struct hub *h = hub_peek();

	/* One system call where it can be: the hub knows its OS thread's
	 * id and its process's, and tkill to the calling thread itself has no
	 * race with the id's reuse that tgkill guards against. */
	if (si == NULL && h != NULL && h->tid > 0)
		arch_syscall3(SYS_tkill, h->tid, sig, 0);
	else if (si != NULL && h != NULL && h->tid > 0)
		arch_syscall6(SYS_rt_tgsigqueueinfo, h->pid, h->tid, sig, (long)si, 0, 0);
	else if (si != NULL)
		arch_syscall6(SYS_rt_tgsigqueueinfo, getpid(), sys_gettid(), sig, (long)si, 0, 0);
	else
		arch_syscall3(SYS_tgkill, getpid(), sys_gettid(), sig);
}

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

void sig_set_default(int sig)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	__sigaction(sig, &dfl, NULL);
}

/* By the ids the kernel gives now, not the hub's (send_here): the caller
 * may be the child of a raw fork, whose hub still names its parent's OS
 * thread. */
void sig_default_again(int sig)
{
	sig_set_default(sig);
	arch_syscall3(SYS_tgkill, arch_syscall3(SYS_getpid, 0, 0, 0), arch_syscall3(SYS_gettid, 0, 0, 0),
		      sig);
}

/* Never blocked for another thread's sigwait: a thread's own signals (the
 * head comment), the ones nobody can block, and glibc's. */
static uint64_t thread_own_signals(void)
{
	return bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33) | bit(SIGSEGV) | bit(SIGBUS) |
	       bit(SIGILL) | bit(SIGFPE) | bit(SIGTRAP) | bit(SIGSYS) | bit(SIGPIPE) | bit(SIGXFSZ);
}

static uint64_t waited_now(void)
{
	return atomic_load_explicit(&waited, memory_order_relaxed);
}

static uint64_t kernel_get(void)
{
	uint64_t m = 0;

	arch_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&m, sizeof m, 0, 0);
	return m;
}

/* m as the kernel may have it on h's OS thread: never the preemption
 * tick while preemption is on, nor SIGSYS while raw calls are caught. */
static uint64_t kernel_allows(const struct hub *h, uint64_t m)
{
	if (preempt_active())
		m &= ~bit(preempt_signal());
	if (h->trap_on)
		m &= ~bit(SIGSYS);
	return m;
}

static void kernel_set(struct hub *h, uint64_t m)
{
	m = kernel_allows(h, m | waited_now());
	if (m != h->kmask || h->frames != NULL) {
		arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m, 0, 0);
		h->kmask = m;
	}
}

static void count(struct hub *h, uint64_t m, int delta)
{
	for (int s = 0; m != 0; s++, m >>= 1)
		if (m & 1)
			h->nblock[s] += delta;
	h->hub_mask_dirty = true;
}

void sigmask_green_inherit(struct hub *h, struct green *g)
{
	struct green *parent = h->current;

	if (parent == NULL || parent == h->hub_green)
		parent = h->root;
	/* POSIX: a new thread starts with its creator's mask. */
	g->sigmask = parent != NULL ? parent->sigmask : kernel_get();
}

void sigmask_green_count(struct hub *h, struct green *g)
{
	if (h->masks) {
		count(h, g->sigmask, 1);
		h->nlive++;
	}
}

void sigmask_green_start(struct hub *h, struct green *g)
{
	sigmask_green_inherit(h, g);
	sigmask_green_count(h, g);
}

void sigmask_green_end(struct hub *h, struct green *g)
{
	if (h->masks) {
		count(h, g->sigmask, -1);
		h->nlive--;
	}
}

void sigmask_green_exiting(struct hub *h, struct green *g)
{
	const uint64_t keep = bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33) | bit(SIGSEGV) |
			      bit(SIGBUS) | bit(SIGILL) | bit(SIGFPE) | bit(SIGTRAP) | bit(SIGSYS);

	/* As glibc's start_thread before its thread ends: no handler of the
	 * program runs in a thread that has ended. With several hubs its
	 * joiner may go on at once, on another, and a signal it sends then
	 * must find another thread, not this one's mask still in its OS
	 * thread. The hub then keeps masks per thread (the next switch puts
	 * the next thread's back), counted before this one leaves. With one
	 * hub no thread runs before the next switch puts its mask in; while
	 * no thread anywhere has changed its mask, every thread left takes
	 * what this one took: nothing to do in either case. */
	if (!h->sched || sched_hubs() == 1 ||
	    (!h->masks && !atomic_load_explicit(&masks_anywhere, memory_order_relaxed))) {
		sigmask_green_end(h, g);
		return;
	}
	if (!h->masks)
		sigmask_recount(h);
	sigmask_green_end(h, g);
	g->sigmask = ~keep;
	kernel_set(h, g->sigmask | g->waitset);
}

void sigmask_root_init(struct hub *h, struct green *root)
{
	root->sigmask = kernel_get();
	h->kmask = root->sigmask;
}

/* The first mask change on a hub, or a fork: count every live thread's
 * mask. */
void sigmask_recount(struct hub *h)
{
	atomic_store_explicit(&masks_anywhere, true, memory_order_relaxed);
	h->masks = true;
	memset(h->nblock, 0, sizeof h->nblock);
	h->nlive = 0;
	/* Computed again at the next switch, also with no thread counted:
	 * an extra hub's first loop found the zeroed mask it was made with,
	 * and let every signal in until its first thread came (before
	 * 2026-12-07: a signal every thread blocked, sent just after the
	 * first pthread_create, killed the process there). */
	h->hub_mask_dirty = true;
	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		if (g->state == GREEN_DEAD || g == h->hub_green || !green_of_program(g))
			continue;
		count(h, g->sigmask, 1);
		h->nlive++;
	}
}

static uint64_t hub_mask(struct hub *h)
{
	if (h->hub_mask_dirty) {
		uint64_t m = 0;

		for (int s = 0; s < 64; s++)
			if ((h->nlive > 0 && h->nblock[s] == h->nlive) || h->nwaitset[s] > 0)
				m |= (uint64_t)1 << s;
		/* An extra hub with no thread of the program takes none of
		 * its signals: its root's mask, all but the runtime's. */
		if (h->nlive == 0 && h->idle_root)
			m = h->root->sigmask;
		h->hub_mask = m;
		h->hub_mask_dirty = false;
	}
	return h->hub_mask;
}

void sigmask_switch(struct hub *h, struct green *next)
{
	kernel_set(h, next == h->hub_green ? hub_mask(h) : next->sigmask | next->waitset);
}

/* Takes the oldest pending instance of s from t: true, with its siginfo
 * in *info, if it came with one. */
static bool tsig_take(struct green_tsig *t, int s, siginfo_t *info)
{
	struct tsig_info **p = &t->infos, *e;
	bool found = false;

	if (--t->count[s - 1] == 0)
		t->pending &= ~bit(s);
	while ((e = *p) != NULL) {
		if (e->info.si_signo != s) {
			p = &e->next;
		} else if (e->ahead == 0) {
			*info = e->info;
			found = true;
			*p = e->next;
			gs_free(e);
		} else {
			e->ahead--;
			p = &e->next;
		}
	}
	return found;
}

void sigmask_tsig_clear(struct green *g)
{
	struct tsig_info *e;

	if (g->tsig == NULL)
		return;
	while ((e = g->tsig->infos) != NULL) {
		g->tsig->infos = e->next;
		gs_free(e);
	}
	memset(g->tsig, 0, sizeof *g->tsig);
}

void sigmask_tsig_free(struct green *g)
{
	sigmask_tsig_clear(g);
	gs_free(g->tsig);
	g->tsig = NULL;
}

int sigmask_change(int how, const uint64_t *set, uint64_t *old)
{
	struct hub *h = hub_peek();
	struct green *g;
	uint64_t m;

	if (h == NULL || (g = h->current) == h->hub_green)
		return -ENOSYS; /* not a green thread: the caller asks the kernel */
	if (old != NULL)
		*old = g->sigmask;
	if (set == NULL)
		return 0;
	hub_take_kills_sent(h); /* pending before the mask changes */
	switch (how) {
	case SIG_BLOCK:
		m = g->sigmask | *set;
		break;
	case SIG_UNBLOCK:
		m = g->sigmask & ~*set;
		break;
	case SIG_SETMASK:
		m = *set;
		break;
	default:
		return -EINVAL;
	}
	/* As glibc: SIGKILL and SIGSTOP cannot be blocked, nor glibc's own
	 * SIGCANCEL (32) and SIGSETXID (33). */
	m &= ~(bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33));
	if (!h->masks) {
		if (m == g->sigmask)
			return 0;
		sigmask_recount(h);
	}
	count(h, g->sigmask, -1);
	count(h, m, 1);
	g->sigmask = m;
	/* Unblocking a pending signal delivers it here, before the return,
	 * as natively. */
	kernel_set(h, m | g->waitset);
	if (green_tpending(g) & ~m)
		sigmask_deliver_due(g);
	return 0;
}

bool sigmask_blocks(const struct green *g, int sig)
{
	return sig >= 1 && sig <= 64 && (g->sigmask & bit(sig)) != 0;
}

enum { SLOT_FREE, SLOT_WRITING, SLOT_READY };

bool sig_slots_post(struct sig_slots *q, const struct sig_post *p)
{
	for (int i = 0; i < SIG_SLOTS; i++) {
		struct sig_slot *f = &q->slot[i];
		int free = SLOT_FREE;

		if (atomic_load_explicit(&f->state, memory_order_relaxed) != SLOT_FREE ||
		    !atomic_compare_exchange_strong(&f->state, &free, SLOT_WRITING))
			continue;
		f->seq = atomic_fetch_add(&q->seq, 1);
		f->p = *p;
		atomic_store_explicit(&f->state, SLOT_READY, memory_order_release);
		atomic_store(&q->ready, true);
		return true;
	}
	return false;
}

bool sig_slots_take(struct sig_slots *q, struct sig_post *p)
{
	struct sig_slot *first = NULL;

	if (!atomic_load_explicit(&q->ready, memory_order_relaxed))
		return false;
	/* Cleared before the scan: a post after it sets it again. */
	atomic_store(&q->ready, false);
	for (int i = 0; i < SIG_SLOTS; i++) {
		struct sig_slot *f = &q->slot[i];

		if (atomic_load_explicit(&f->state, memory_order_acquire) == SLOT_READY &&
		    (first == NULL || f->seq < first->seq))
			first = f;
	}
	if (first == NULL)
		return false;
	*p = first->p;
	atomic_store_explicit(&first->state, SLOT_FREE, memory_order_release);
	atomic_store(&q->ready, true); /* there may be more: the next take looks */
	return true;
}

void sig_slots_clear(struct sig_slots *q)
{
	atomic_store(&q->ready, false);
	for (int i = 0; i < SIG_SLOTS; i++)
		atomic_store(&q->slot[i].state, SLOT_FREE);
}

bool sigmask_raised_by_thread(int sig)
{
	const uint64_t own = bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGFPE) |
			     bit(SIGTRAP) | bit(SIGSYS) | bit(SIGPIPE) | bit(SIGXFSZ);

	return sig >= 1 && sig <= 64 && (own & bit(sig)) != 0;
}

void sigmask_set_handled(int sig, bool handler, bool restart)
{
	if (sig < 1 || sig > 64)
		return;
	if (handler)
		atomic_fetch_or_explicit(&handled, bit(sig), memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&handled, ~bit(sig), memory_order_relaxed);
	if (handler && restart)
		atomic_fetch_or_explicit(&restarting, bit(sig), memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&restarting, ~bit(sig), memory_order_relaxed);
}

int sigmask_due_interrupts(const struct green *g)
{
	uint64_t due = green_tpending(g) & ~(g->sigmask | g->waitset) &
		       atomic_load_explicit(&handled, memory_order_relaxed);

	if (due == 0)
		return 0;
	/* Two signals on one wait: EINTR wins over a restart (hub_signal). */
	return (due & ~atomic_load_explicit(&restarting, memory_order_relaxed)) != 0 ? -EINTR
										     : WAKE_SIGNAL;
}

/* Whether sig, which g lets in, is kept for g to handle on its own
 * context: g is not the caller, the program has a handler for it. g is
 * this hub's, or on its way from here to another (hub_move_green: it
 * handles it there). */
static bool for_its_context(const struct green *g, int sig)
{
	const struct hub *h = hub_peek();

	return h != NULL && (g->hub == h || (g->flags & GREEN_MOVING)) && g != h->current &&
	       g != h->hub_green &&
	       g->state != GREEN_DEAD &&
	       (atomic_load_explicit(&handled, memory_order_relaxed) & bit(sig)) != 0;
}

/* Keeps sig pending for g alone, with si's siginfo if not NULL: 0, or
 * -EAGAIN without memory. A standard signal already pending is not
 * queued again (signal(7)): the first keeps its siginfo; real-time
 * signals are, each instance delivered with its own. */
static int tsig_keep(struct green *g, int sig, const siginfo_t *si)
{
	struct green_tsig *t;

	if (g->tsig == NULL && (g->tsig = gs_calloc(1, sizeof *g->tsig)) == NULL)
		return -EAGAIN;
	t = g->tsig;
	if (t->count[sig - 1] == 0 || (sig >= SIGRTMIN && t->count[sig - 1] < UINT16_MAX)) {
		if (si != NULL) {
			struct tsig_info *e = gs_malloc(sizeof *e), **p = &t->infos;

			if (e == NULL)
				return -EAGAIN;
			e->next = NULL;
			e->ahead = t->count[sig - 1];
			e->info = *si;
			e->info.si_signo = sig;
			while (*p != NULL)
				p = &(*p)->next;
			*p = e;
		}
		t->count[sig - 1]++;
	}
	t->pending |= bit(sig);
	return 0;
}

int sigmask_thread_kill(struct green *g, int sig, const siginfo_t *si)
{
	bool later;
	int r;

	if (sig < 1 || sig > 64)
		return 0;
	later = !sigmask_blocks(g, sig) && !(g->waitset & bit(sig));
	if (later && !for_its_context(g, sig))
		return 0;
	if ((r = tsig_keep(g, sig, si)) != 0)
		return r;
	if (later)
		hub_sigwake(g); /* its handler runs when it next runs */
	else if ((g->waitset & bit(sig)) && g->state == GREEN_PARKED && g->wait != NULL &&
		 g->hub == hub_peek())
		wait_complete(g->wait, 0);
	return 1;
}

/* The mask the kernel is to have while g runs, as kernel_set puts it. */
static uint64_t kernel_mask_of(const struct hub *h, const struct green *g)
{
	return kernel_allows(h, g->sigmask | g->waitset | waited_now());
}

static void set_mask(struct hub *h, struct green *g, uint64_t m)
{
	if (h->masks) {
		count(h, g->sigmask, -1);
		count(h, m, 1);
	}
	g->sigmask = m;
}

uint64_t sigmask_handler_enter(struct hub *h, struct green *g, uint64_t extra, uint64_t *kmask)
{
	uint64_t old = g->sigmask;
	uint64_t m = (old | extra) & ~(bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33));

	/* The kernel blocked extra on entry, as it does for the thread a
	 * handler runs on; the thread's mask says so too, which a switch
	 * away from the handler (a wait in it) must put back: the hub counts
	 * masks from that switch on (hub_switch), if it did not yet. */
	if (m != old)
		set_mask(h, g, m);
	h->kmask = (*kmask | extra) & ~(bit(SIGKILL) | bit(SIGSTOP));
	return old;
}

void sigmask_handler_leave(struct hub *h, struct green *g, uint64_t old, uint64_t at_entry,
			   uint64_t *kmask)
{
	/* sigreturn puts the mask of the signal's frame in the kernel: the
	 * thread's from before the handler, unless the handler changed the
	 * frame's (then that one, as natively). The hub may have moved
	 * the thread's mask in the kernel meanwhile (a switch): the frame's
	 * is made the thread's as the hub keeps it. */
	if (*kmask != at_entry)
		old = *kmask & ~(bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33));
	if (g->sigmask != old)
		set_mask(h, g, old);
	if (h->masks)
		*kmask = kernel_mask_of(h, g);
	h->kmask = *kmask;
}

int sigmask_take_pending(struct green *g, uint64_t set, siginfo_t *info, bool *queued)
{
	/* The kernel's order (next_signal): synchronous signals first. */
	const uint64_t sync = bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGTRAP) |
			      bit(SIGFPE) | bit(SIGSYS);
	uint64_t m;
	int s;

	hub_take_kills_sent(g->hub);
	m = green_tpending(g) & set;
	if (m == 0)
		return 0;
	if (m & sync)
		m &= sync;
	s = __builtin_ctzll(m) + 1;
	*queued = tsig_take(g->tsig, s, info);
	return s;
}

uint64_t sigmask_own_pending(struct hub *h)
{
	hub_take_kills_sent(h);
	return green_tpending(h->current);
}

/* waited made again from the counts; the other hubs follow a change. */
static void waited_update(struct hub *h)
{
	uint64_t w = 0, was;

	while (atomic_flag_test_and_set_explicit(&waited_lock, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
	for (int s = 0; s < 64; s++)
		if (atomic_load(&nwaiting[s]) > 0)
			w |= (uint64_t)1 << s;
	was = atomic_exchange(&waited, w);
	if (w != was)
		atomic_fetch_add(&waited_gen, 1);
	atomic_flag_clear_explicit(&waited_lock, memory_order_release);
	if (w != was)
		sched_follow_waits(h);
}

/* The grace after a waiter left is over (in h's loop). */
static void waited_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hub *h = w->data;

	(void)revents;
	ev_ref(loop); /* counted out while it ran (sigmask_sigwait) */
	waited_update(h);
	sigmask_follow_waits(h);
}

void sigmask_hub_init(struct hub *h)
{
	ev_timer_init(&h->waited_grace, waited_grace_cb, (double)WAITED_GRACE_NS / 1e9, 0.);
	h->waited_grace.data = h;
}

void sigmask_hub_stop(struct hub *h)
{
	if (ev_is_active(&h->waited_grace)) {
		ev_ref(h->loop);
		ev_timer_stop(h->loop, &h->waited_grace);
	}
}

void sigmask_sigwait(struct hub *h, struct green *g, uint64_t set)
{
	uint64_t everywhere = ~thread_own_signals(), added = 0;
	bool dropped = false;

	if (!h->masks)
		sigmask_recount(h);
	for (int s = 0; s < 64; s++) {
		uint64_t b = (uint64_t)1 << s;

		if (g->waitset & b) {
			h->nwaitset[s]--;
			if ((b & everywhere) && atomic_fetch_sub(&nwaiting[s], 1) == 1)
				dropped = true;
		}
		if (set & b) {
			h->nwaitset[s]++;
			if ((b & everywhere) && atomic_fetch_add(&nwaiting[s], 1) == 0)
				added |= b;
		}
	}
	g->waitset = set;
	h->hub_mask_dirty = true;
	/* A signal still blocked from the last wait's grace needs nothing. */
	if (added & ~waited_now())
		waited_update(h);
	if (dropped && !ev_is_active(&h->waited_grace)) {
		ev_timer_set(&h->waited_grace, (double)WAITED_GRACE_NS / 1e9, 0.);
		ev_timer_start(h->loop, &h->waited_grace);
		ev_unref(h->loop); /* keeps nothing alive */
	}
	kernel_set(h, g->sigmask | set);
}

void sigmask_follow_waits(struct hub *h)
{
	unsigned gen = atomic_load_explicit(&waited_gen, memory_order_acquire);

	if (GS_LIKELY(gen == h->waited_gen))
		return;
	h->waited_gen = gen;
	if (!h->masks)
		sigmask_recount(h);
	kernel_set(h, h->current == h->hub_green ? hub_mask(h)
						 : h->current->sigmask | h->current->waitset);
}

bool sigmask_exec_begin(void)
{
	struct hub *h = hub_peek();
	struct green *g;
	uint64_t m;

	if (h == NULL || waited_now() == 0 || (g = h->current) == h->hub_green)
		return false;
	/* kernel_set's mask, but for the waited set. */
	m = kernel_allows(h, g->sigmask | g->waitset);
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m, 0, 0);
	h->kmask = m;
	return true;
}

void sigmask_exec_end(bool begun)
{
	struct hub *h = hub_peek();

	if (begun && h != NULL)
		kernel_set(h, h->current->sigmask | h->current->waitset);
}

void sigmask_fork_child(struct hub *h, struct green *self)
{
	uint64_t m = self->sigmask | self->waitset;

	atomic_flag_clear(&waited_lock); /* maybe a copy of another thread's */
	for (int s = 0; s < 64; s++)
		atomic_store(&nwaiting[s], 0);
	if (atomic_exchange(&waited, 0) == 0)
		return;
	h->waited_gen = atomic_fetch_add(&waited_gen, 1) + 1;
	/* The parent's OS thread blocked them for other threads' waits,
	 * which are not in the child. */
	if (preempt_active())
		m &= ~bit(preempt_signal());
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m, 0, 0);
	h->kmask = m;
}

void sigmask_suspend(struct hub *h, uint64_t temp, uint64_t *old)
{
	uint64_t all = ~(uint64_t)0;

	/* The switch must put a mask back: per-thread masks on, even when
	 * temp is the mask the thread has already. */
	if (!h->masks)
		sigmask_recount(h);
	sigmask_change(SIG_SETMASK, &temp, old);
	/* Nothing more is handled on this context before it parks: the next
	 * switch puts the mask of whoever runs in the kernel. */
	if (preempt_active())
		all &= ~bit(preempt_signal());
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all, 0, 0);
	h->kmask = all;
}

void sigmask_handler_mask(struct hub *h, const struct green *t, uint64_t extra)
{
	uint64_t m = t->sigmask | t->waitset | extra | waited_now();

	if (!h->masks)
		return;
	if (preempt_active())
		m &= ~bit(preempt_signal());
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m, 0, 0);
}

void sigmask_raise_here(struct hub *h, struct green *g, int sig, const siginfo_t *si)
{
	/* sig is g's own: other threads' sigwaits do not keep it. */
	uint64_t m = kernel_allows(h, g->sigmask | g->waitset | (waited_now() & ~bit(sig)));

	/* Sent to this OS thread with g's mask in the kernel: delivered
	 * before the call returns, its handler on this context for g
	 * (hub_signal_target), then the hub's mask back. A signal g blocks
	 * stays pending for this OS thread until a thread of h takes it. */
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m, 0, 0);
	hub_signal_target(g);
	send_here(sig, si);
	h->kill_target = NULL; /* if it stayed pending */
	arch_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&h->kmask, 0, sizeof h->kmask, 0, 0);
}

bool sigmask_kill_here(struct hub *h, struct green *g, int sig, const siginfo_t *si)
{
	/* For the running thread (a kick or a mask change took the posts on
	 * its own context): kept, not raised at once, so that its handler,
	 * which may wait there (sigsuspend), runs after the caller's batch. */
	if (g == h->current && g != h->hub_green && sig >= 1 && sig <= 64 &&
	    tsig_keep(g, sig, si) == 0)
		return true;
	if (sigmask_thread_kill(g, sig, si) != 0)
		return false; /* pending for g, or no memory to keep it: lost */
	sigmask_raise_here(h, g, sig, si);
	return false;
}

/* Sends g's own pending signals that its mask lets in, on g's context
 * (the running one): delivered before the caller returns, as natively when
 * a thread unblocks a pending signal, each with the siginfo it came with,
 * the lowest first; as they are (the kernel has g's mask), or with g's mask
 * put in the kernel for each (sigmask_raise_here) when raise_on is g's
 * hub. What is due is looked at again after each handler, which may have
 * taken some (sigsuspend in it) or changed the mask. */
static void send_due(struct hub *raise_on, struct green *g)
{
	uint64_t due;
	siginfo_t info;

	while ((due = green_tpending(g) & ~(g->sigmask | g->waitset)) != 0) {
		int s = __builtin_ctzll(due) + 1;
		const siginfo_t *si = tsig_take(g->tsig, s, &info) ? &info : NULL;

		if (raise_on != NULL) {
			sigmask_raise_here(raise_on, g, s, si);
		} else {
			hub_signal_target(g);
			send_here(s, si);
		}
	}
}

void sigmask_deliver_due(struct green *g)
{
	send_due(NULL, g);
}

void sigmask_raise_due(struct hub *h, struct green *g)
{
	send_due(h, g);
}

void sigmask_idle_root(struct hub *h)
{
	sigmask_recount(h);
}
