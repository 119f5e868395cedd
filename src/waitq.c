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
#include "runtime.h"
#include "tools.h"

void wait_init(struct wait *w)
{
	w->g = green_self();
	w->result = 0;
	w->done = false;
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
}

void wait_complete(struct wait *w, int result)
{
	if (w->done)
		return;
	GS_INVARIANT(w->g->state == GREEN_PARKED || w->g == w->g->hub->current,
		     "a wait is completed for a parked green, or before it parks");
	if (GS_UNLIKELY(__atomic_load_n(&gs_prof_locks_on, __ATOMIC_RELAXED)))
		profile_lock_event(w, result);
	w->done = true;
	w->result = result;
	hub_unpark(w->g);
}

static void wait_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct green *g = GS_CONTAINER_OF(t, struct green, timer);

	(void)loop;
	(void)revents;
	if (g->wait != NULL)
		wait_complete(g->wait, -ETIMEDOUT);
}

int wait_park(struct wait *w, int64_t deadline)
{
	struct green *g = w->g;
	struct hub *h = g->hub;

	GS_INVARIANT(g == h->current && g->state == GREEN_RUNNING,
		     "only the running green parks, on its own hub");
	if (w->done)
		return w->result;
	if (GS_UNLIKELY(w->cancelpoint && green_cancel_due(g)))
		return -ECANCELED; /* acted on before it waits, as glibc's */
	if (deadline != GS_NO_DEADLINE) {
		int64_t left;

		/* libev counts timers from the loop's cached time, which is as
		 * old as the last poll: refresh it, or the wait ends early. */
		ev_now_update(h->loop);
		left = deadline - gs_now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		ev_timer_init(&g->timer, wait_timer_cb, (ev_tstamp)left / 1e9, 0.);
		ev_timer_start(h->loop, &g->timer);
		if (deadline < h->next_deadline)
			h->next_deadline = deadline;
	}
	w->deadline = deadline;
	if (GS_UNLIKELY(__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED)) && w->kind < WAIT_KINDS)
		h->waits[w->kind]++; /* greenctl stats (ctlcmd.c) */
	g->since = h->last_poll; /* exact only with stats on (introspect.c) */
	g->wait_seq++;
	g->wait = w;
	g->state = GREEN_PARKED;
	h->nparked++;
	hub_switch_out(h, g);
	g->wait = NULL;
	if (deadline != GS_NO_DEADLINE)
		ev_timer_stop(h->loop, &g->timer);
	return w->result;
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
	e->q = NULL;
	e->prev = e->next = NULL;
}

struct waiter *waitq_pop_live(struct waitq *q)
{
	struct waiter *e;

	while ((e = q->head) != NULL) {
		waitq_remove(e);
		if (!e->wait->done)
			return e;
	}
	return NULL;
}

int waitq_wake_one(struct waitq *q, int result)
{
	struct waiter *e = waitq_pop_live(q);

	if (e == NULL)
		return 0;
	wait_complete(e->wait, result);
	return 1;
}

unsigned waitq_wake_all(struct waitq *q, int result)
{
	struct waiter *e;
	unsigned n = 0;

	while ((e = waitq_pop_live(q)) != NULL) {
		wait_complete(e->wait, result);
		n++;
	}
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
