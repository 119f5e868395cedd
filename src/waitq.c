/*
 * Waits and wait queues: the one way a green thread blocks.
 *
 * A struct wait is one blocking episode of one green thread, on that
 * thread's stack. It may sit in several queues at once (struct waiter
 * entries: poll on many fds), and it may end by a wake-up, by its deadline
 * (the green's own ev_timer) or by a message from another OS thread. The
 * first wait_complete() wins and sets the result; whoever comes later finds
 * done set and moves on to the next waiter. Entries stay linked until the
 * waker or, after wake-up, the owner unlinks them, so an entry that is
 * linked always points at a live stack frame.
 *
 * Queues are FIFO: the longest waiter is woken first.
 */
#include "hub_impl.h"
#include "tools.h"

void wait_init(struct wait *w)
{
	w->g = green_self();
	w->result = 0;
	w->state = WAIT_OPEN;
	w->interruptible = false;
	w->cancelpoint = false;
	w->kind = WAIT_OTHER;
	w->obj = NULL;
	w->num = 0;
}

void wait_init_interruptible(struct wait *w)
{
	wait_init(w);
	w->interruptible = true;
	w->cancelpoint = true;
	w->g->flags |= GREEN_INTR_WAIT;
}

/* Ends w on its waiter's own hub, once its result is set: the waiter runs
 * again if it parked on it (else wait_park finds it ended). Nothing may
 * touch w after the store: its owner may return and its frame go. */
static void wait_end(struct wait *w)
{
	struct green *g = w->g;
	bool parked = g->state == GREEN_PARKED && g->wait == w;

	__atomic_store_n(&w->state, WAIT_ENDED, __ATOMIC_RELEASE);
	if (parked)
		hub_unpark(g);
}

bool wait_complete(struct wait *w, int result)
{
	uint8_t open = WAIT_OPEN;
	struct hub *h = w->g->hub;

	if (!__atomic_compare_exchange_n(&w->state, &open, WAIT_CLAIMED, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return false;
	w->result = result;
	if (GS_UNLIKELY(hub_peek() != h)) {
		/* The waiter's hub calls wait_end_claimed; posted once this
		 * thread lets go of the object it woke w from (runtime.h,
		 * gs_locks_held): w may return at once, and free it. */
		if (gs_locks_held > 0) {
			w->remote_next = gs_posts_held;
			gs_posts_held = w;
		} else {
			hub_post_wait(h, w);
		}
		return true;
	}
	GS_INVARIANT(w->g->state == GREEN_PARKED || w->g == h->current,
		     "a wait is completed for a parked green, or before it parks");
	if (GS_UNLIKELY(__atomic_load_n(&gs_prof_locks_on, __ATOMIC_RELAXED)))
		profile_lock_event(w, result);
	wait_end(w);
	return true;
}

void wait_end_claimed(struct wait *w)
{
	GS_INVARIANT(__atomic_load_n(&w->state, __ATOMIC_RELAXED) == WAIT_CLAIMED &&
			     w->g->hub == hub_peek(),
		     "a claimed wait is ended once, on its waiter's hub");
	wait_end(w);
}

static void wait_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct green *g = GS_CONTAINER_OF(t, struct green, timer);

	(void)loop;
	(void)revents;
	if (g->wait != NULL)
		wait_complete(g->wait, -ETIMEDOUT);
}

/* The time left till w's deadline, by a fresh clock: libev counts
 * timers from the loop's cached time, which is as old as the last poll,
 * and the wait would end early. 0 if w has no deadline or has ended; w
 * ends with -ETIMEDOUT if the deadline has passed. */
static int64_t time_left(struct hub *h, struct wait *w, int64_t deadline)
{
	int64_t left;

	if (deadline == GS_NO_DEADLINE || wait_done(w))
		return 0;
	ev_now_update(h->loop);
	left = deadline - gs_now_ns();
	if (left > 0)
		return left;
	wait_complete(w, -ETIMEDOUT);
	return 0;
}

/* g's timer ends its wait in left ns, at deadline. */
static void timer_arm(struct hub *h, struct green *g, int64_t left, int64_t deadline)
{
	ev_timer_init(&g->timer, wait_timer_cb, (ev_tstamp)left / 1e9, 0.);
	ev_timer_start(h->loop, &g->timer);
	if (deadline < h->next_deadline)
		h->next_deadline = deadline;
	if (deadline < h->precise_at)
		h->precise_at = deadline;
	/* Others are ready: one may compute past the deadline. */
	if (h->runq_head != NULL)
		preempt_tick_by(h, deadline);
}

/* g was woken from w, still open, to handle signals kept for it
 * (hub_sigwake). As the kernel does with a thread blocked in a system
 * call: an interruptible wait ends first, with EINTR, or WAKE_SIGNAL for
 * its caller to restart where every handler due has SA_RESTART, and its
 * handlers run once the caller has undone the wait (wait_after), so that
 * one that leaves with siglongjmp leaves nothing of it queued. Any other
 * (a mutex, a join) has its handlers run here, on g's own context, and
 * goes on, as a futex wait that a handler interrupted is made again. A
 * waker may end w meanwhile (its waiters stay queued; wait_end finds g not
 * parked on it), and so may its deadline or a cancellation. Returns the
 * time left till the deadline (time_left). */
static int64_t handle_mid_wait(struct hub *h, struct green *g, struct wait *w, int64_t deadline)
{
	int r;

	g->flags &= ~GREEN_SIGWAKE;
	if (!w->interruptible)
		sigmask_deliver_due(g);
	else if ((r = sigmask_due_interrupts(g)) != 0)
		wait_complete(w, r);
	if (w->cancelpoint && green_cancel_due(g))
		wait_complete(w, -ECANCELED);
	return time_left(h, w, deadline);
}

int wait_park(struct wait *w, int64_t deadline)
{
	struct green *g = w->g;
	struct hub *h = g->hub;
	int64_t left;

	GS_INVARIANT(g == h->current && g->state == GREEN_RUNNING,
		     "only the running green parks, on its own hub");
	/* Signals kept for it and due already: handled before it waits, as
	 * the kernel delivers them before a system call is made; an
	 * interruptible wait ends at once instead, and its caller runs them
	 * once it has undone the wait (wait_after). */
	if (GS_UNLIKELY(g->tsig != NULL)) {
		int r = w->interruptible ? sigmask_due_interrupts(g) : 0;

		if (r != 0)
			wait_complete(w, r);
		else if (!w->interruptible)
			sigmask_deliver_due(g);
	}
	/* The waiter ends its own wait the way a waker does: a waker on
	 * another hub may have claimed it meanwhile, and then its result
	 * (a mutex handed over) is the one to return, once it arrives. */
	if (GS_UNLIKELY(w->cancelpoint && green_cancel_due(g)))
		wait_complete(w, -ECANCELED); /* acted on before it waits, as glibc's */
	left = time_left(h, w, deadline);
	if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == WAIT_ENDED)
		return w->result;
	if (left > 0)
		timer_arm(h, g, left, deadline);
	w->deadline = deadline;
	if (GS_UNLIKELY(__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED) & GS_STATS_TOOL) &&
	    w->kind < WAIT_KINDS)
		h->waits[w->kind]++; /* greenctl stats (ctlcmd.c) */
	for (;;) {
		g->since = h->last_poll; /* exact only with stats on (introspect.c) */
		g->wait_seq++;
		g->wait = w;
		g->state = GREEN_PARKED;
		h->nparked++;
		hub_switch_out(h, g);
		g->wait = NULL;
		if (GS_LIKELY(!(g->flags & GREEN_SIGWAKE)))
			break;
		if (left > 0)
			ev_timer_stop(h->loop, &g->timer);
		left = handle_mid_wait(h, g, w, deadline);
		if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == WAIT_ENDED)
			return w->result;
		if (left > 0)
			timer_arm(h, g, left, deadline);
	}
	if (left > 0) {
		ev_timer_stop(h->loop, &g->timer);
		/* Its timer ended it while the hub ran others, which kept it
		 * waiting from its deadline to the poll that found it: a
		 * thread that may move as it returns (sched_settle). */
		if (w->result == -ETIMEDOUT && h->last_poll - deadline >= SETTLE_QUEUE_NS)
			h->late = g;
	}
	/* A signal kept for it while its wait was ending (hub_sigwake found
	 * it done): handled now, or by an interruptible wait's caller once it
	 * has undone the wait (wait_after). */
	if (!w->interruptible)
		green_take_due(g);
	return w->result;
}

void wait_after(struct wait *w)
{
	struct green *g = w->g;

	g->flags &= ~GREEN_INTR_WAIT;
	hub_take_deferred(g->hub);
	green_take_due(g);
}

static void waiter_link(struct waiter *e, struct waitq *q, struct wait *w, unsigned flags)
{
	e->q = q;
	e->wait = w;
	e->flags = flags;
	e->revents = 0;
}

void waitq_add(struct waitq *q, struct waiter *e, struct wait *w, unsigned flags)
{
	waiter_link(e, q, w, flags);
	e->next = NULL;
	e->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
}

void waitq_add_front(struct waitq *q, struct waiter *e, struct wait *w, unsigned flags)
{
	waiter_link(e, q, w, flags);
	e->prev = NULL;
	e->next = q->head;
	if (q->head != NULL)
		q->head->prev = e;
	else
		q->tail = e;
	q->head = e;
}

void waitq_remove(struct waiter *e)
{
	struct waitq *q = e->q;

	if (q == NULL)
		return;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	e->prev = e->next = NULL;
	__atomic_store_n(&e->q, NULL, __ATOMIC_RELAXED); /* waitq_linked */
}

struct waiter *waitq_pop_live(struct waitq *q)
{
	struct waiter *e;

	while ((e = q->head) != NULL) {
		waitq_remove(e);
		if (!wait_done(e->wait))
			return e;
	}
	return NULL;
}

/* A waiter popped live may still be ended by its own hub (a timer, a
 * signal) before the waker's wait_complete: then the next one is woken. */
int waitq_wake_one(struct waitq *q, int result)
{
	struct waiter *e;

	while ((e = waitq_pop_live(q)) != NULL)
		if (wait_complete(e->wait, result))
			return 1;
	return 0;
}

unsigned waitq_wake_all(struct waitq *q, int result)
{
	struct waiter *e;
	unsigned n = 0;

	while ((e = waitq_pop_live(q)) != NULL)
		n += wait_complete(e->wait, result);
	return n;
}

int waitq_wait(struct waitq *q, int64_t deadline)
{
	return waitq_wait_as(q, deadline, WAIT_OTHER, NULL);
}

int waitq_wait_as(struct waitq *q, int64_t deadline, enum wait_kind kind, const void *obj)
{
	struct wait w;
	struct waiter e;
	int r;

	wait_init(&w);
	wait_label(&w, kind, obj, 0);
	waitq_add(q, &e, &w, 0);
	r = wait_park(&w, deadline);
	waitq_remove(&e);
	return r;
}
