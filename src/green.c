/*
 * Green threads: spawn, exit, join, detach, yield, sleep.
 *
 * What it owns: the life of a struct green. The struct sits at the top of
 * the thread's own stack (as glibc puts struct pthread at the top of a
 * thread stack), so a spawn costs one stack from the pool and nothing else;
 * the struct lives exactly as long as the stack.
 *
 * Life: spawn makes the thread READY at the tail of the run queue and
 * returns, like pthread_create; it first runs when the spawner parks or
 * yields. A thread ends by returning from its start routine or by
 * green_exit(). A joinable thread stays DEAD, stack and all, until joined
 * (natively too, a joinable thread's stack outlives it until the join); a
 * detached one is released by the next context to run, since nothing may
 * free a stack while it is the one in use.
 *
 * A handle outlives its thread: a program may join or detach a thread that
 * was joined already, or that ended detached (stunnel joins every client
 * thread of its list at exit, detached ones too). glibc's descriptor stays
 * in its stack cache, and a join or a detach says ESRCH for a joined
 * thread, EINVAL for one that ended detached; here the struct stays in
 * its stack's pool, marked GREEN_JOINED or detached, until the pool gives
 * the memory back (stack.c: a period or two after it was freed, unless it
 * is among the most recent) and it reads as zeros: id 0,
 * which no thread has (join_refused(); both calls then say EINVAL).
 */
#include <stddef.h>
#include <string.h>

#include "hub_impl.h"
#include "gid.h"

struct green *green_self(void)
{
	struct hub *h = hub_get();

	return h != NULL ? h->current : NULL;
}

#if !defined(GS_ASAN) && !defined(GS_TSAN)
/* It sits at the top of each thread's stack (runtime.h, struct green_tsig). */
_Static_assert(sizeof(struct green) <= 256, "struct green pushes every stack deeper");
_Static_assert(offsetof(struct green, since) + sizeof(int64_t) <= 64,
	       "a switch and a wake-up touch one cache line of struct green");
#endif

static void *(*run_hook)(struct green *);

void green_set_run_hook(void *(*run)(struct green *))
{
	run_hook = run;
}

static void (*cancel_hook)(struct green *);

void green_set_cancel_hook(void (*act)(struct green *))
{
	cancel_hook = act;
}

void green_cancel_now(struct green *g)
{
	if (cancel_hook != NULL)
		cancel_hook(g);
}

static void green_main(void *arg)
{
	struct green *g = arg;

	hub_first_run(g->hub);
	if (g->flags & GREEN_OWN_TLS)
		tls_first_run(g);
	green_take_due(g); /* sent before it first ran */
	green_exit(run_hook != NULL ? run_hook(g) : g->start(g->arg));
}

void green_cancel(struct green *g)
{
	g->flags |= GREEN_CANCEL_PENDING;
	if (green_cancel_due(g) && g->state == GREEN_PARKED && g->wait != NULL &&
	    g->wait->cancelpoint)
		wait_complete(g->wait, -ECANCELED);
}

int green_spawn(const struct green_attr *a, void *(*fn)(void *), void *arg,
		struct green **out)
{
	struct hub *h = hub_get(), *t;
	struct gid_entry *e;
	struct stack st;
	struct green *g;
	unsigned flags = 0;
	char *top;

	if (h == NULL)
		return -EAGAIN;
	tls_init();
	if (a != NULL && a->stack_addr != NULL && a->stack_size < sizeof *g + 256)
		return -EINVAL;
	e = gid_entry_new();
	if (e == NULL)
		return -EAGAIN;
	if (a != NULL && a->stack_addr != NULL) {
		st.lo = a->stack_addr;
		st.hi = st.lo + a->stack_size;
		st.guard = 0;
		stack_adopt(&st);
		flags |= GREEN_USER_STACK;
	} else {
		size_t size = (a != NULL && a->stack_size != 0) ? a->stack_size : gs_config.stack_size;
		int r;

		/* As glibc: a size the program asked for includes the TLS. */
		if (size < stack_round(0) + tls_reserve())
			size = stack_round(0) + tls_reserve();
		r = stack_get(&h->stacks, size, &st);

		if (r < 0) {
			gid_entry_drop(e);
			return r;
		}
	}
	g = (struct green *)((uintptr_t)(st.hi - sizeof *g) & ~(uintptr_t)63);
	memset(g, 0, sizeof *g);
	g->flags = flags;
	g->detached = a != NULL && a->detached;
	g->stack = st;
	g->start = fn;
	g->arg = arg;
	g->tp = h->hub_green->tp;
	memset(green_ru(g), 0, sizeof(struct green_rusage));
	top = (char *)green_ru(g);
	if (gs_tls_mode != TLS_SHARED) {
		int r = tls_make(h, g, &top);

		if (r < 0) {
			if (!(flags & GREEN_USER_STACK))
				hub_stack_put(h, &st);
			else
				stack_disown(&st);
			gid_entry_drop(e);
			return r;
		}
	}
#ifdef GS_ASAN
	g->asan_bottom = st.lo;
	g->asan_size = (size_t)(top - st.lo);
#endif
	ctx_make(&g->ctx, top, green_main, g);
	t = a != NULL && a->here ? h : sched_place(h);
	tls_spare_for(h, t);
	sched_thread_started(t);
	g->state = GREEN_READY;
	g->id = hub_new_green_id();
	gid_add(g, e, t); /* before it can run: a tgkill of its own finds it */
	if (t != h) {
		/* Linked and queued by t, before it first runs (sched.c). */
		g->hub = t;
		g->flags |= (unsigned)h->sched_index << GREEN_HOME_SHIFT;
		sigmask_green_inherit(h, g);
		tls_move(g, t);
		if (out != NULL)
			*out = g;
		hub_adopt_remote(t, g);
		return 0;
	}
	hub_link_green(h, g);
	sigmask_green_start(h, g);
	hub_runq_push(h, g);
	if (!h->timer_armed)
		preempt_arm(h); /* the spawner may now compute for long */
	if (out != NULL)
		*out = g;
	return 0;
}

static void (*exit_hook)(struct green *);

void green_set_exit_hook(void (*hook)(struct green *))
{
	exit_hook = hook;
}

_Noreturn void green_exit(void *retval)
{
	struct green *g = green_self();
	struct hub *h;

	tls_exit(g);
	if (exit_hook != NULL)
		exit_hook(g);
	/* After the destructors (the program's code, which may be preempted
	 * and moved to another hub). A signal that another hub's thread sent
	 * g before now (pthread_kill returned) is handled here, before its
	 * mask shuts, as the kernel delivers one to a running thread before
	 * it runs on: it waited in h's list until h's next poll, and one
	 * that came after g ended found no thread and was lost (a computing
	 * thread keeps its hub until a tick). A handler may move g. */
	hub_take_kills_sent(hub_get());
	green_take_due(g);
	h = hub_get();
	g->retval = retval;
	h->nrunning--;
	sched_thread_ended(h);
	sigmask_green_exiting(h, g);
	gid_remove(g); /* its kernel id names no thread from now on */
	/* A joiner or a detach may come from another hub: DEAD, the joiner's
	 * wait and detached are read and written under join_lock. */
	gsync_lock(&g->join_lock);
	g->state = GREEN_DEAD;
	if (g->flags & GREEN_ROOT) {
		gsync_unlock(&g->join_lock);
		/* The OS thread's own context has no stack of ours to end on;
		 * the pthread layer decides what exiting it means. */
		for (;;)
			hub_switch_out(h, g);
	}
	if (g->join_wait != NULL)
		wait_complete(g->join_wait, 0);
	if (g->detached)
		h->zombie = g;
	gsync_unlock(&g->join_lock);
	hub_switch_out(h, g);
	__builtin_unreachable();
}

/* g has ended and its joiner or detacher is done with it: released on its
 * own hub, its stack and TLS going back to its home's. A thread on a stack
 * of the program's own (pthread_attr_setstack) lives there, and the
 * program may reuse that memory once pthread_join returns: if another hub
 * is to finish the release, the caller waits for it (free_green). */
static void release(struct hub *h, struct green *g)
{
	struct wait w;

	if ((g->flags & GREEN_USER_STACK) && (g->hub != h || sched_home(g) != h)) {
		wait_init(&w);
		wait_label(&w, WAIT_JOIN, g, 0);
		g->join_wait = &w;
		if (g->hub == h)
			hub_release_green(h, g);
		else
			hub_release_remote(g);
		wait_park(&w, GS_NO_DEADLINE);
		return;
	}
	if (g->hub == h)
		hub_release_green(h, g);
	else
		hub_release_remote(g);
}

/* Under g's join_lock: 0 if g may be joined or detached now; else what
 * glibc says. A joined thread's descriptor is marked released there:
 * ESRCH. EINVAL for a detached thread, a root, one being joined, and one
 * released with its memory given back since (id 0: the file's opening
 * comment). */
static int join_refused(const struct green *g)
{
	if (g->detached == GREEN_JOINED)
		return -ESRCH;
	if (g->detached || (g->flags & GREEN_ROOT) || g->join_wait != NULL || g->id == 0)
		return -EINVAL;
	return 0;
}

int green_join(struct green *g, void **retval, int64_t deadline)
{
	struct hub *h = hub_get();
	int r = 0;

	if (g == h->current)
		return -EDEADLK;
	gsync_lock(&g->join_lock);
	r = join_refused(g);
	if (r < 0) {
		gsync_unlock(&g->join_lock);
		return r;
	}
	if (g->state != GREEN_DEAD) {
		struct wait w;

		if (deadline == 0) {
			gsync_unlock(&g->join_lock);
			return -EBUSY;
		}
		wait_init(&w);
		w.cancelpoint = true; /* pthread_join is one */
		wait_label(&w, WAIT_JOIN, g, 0);
		g->join_wait = &w;
		gsync_unlock(&g->join_lock);
		r = wait_park(&w, deadline);
		gsync_lock(&g->join_lock);
		g->join_wait = NULL;
	}
	if (r == 0)
		g->detached = GREEN_JOINED;
	gsync_unlock(&g->join_lock);
	if (r < 0)
		return r;
	if (retval != NULL)
		*retval = g->retval;
	release(h, g);
	return 0;
}

int green_detach(struct green *g)
{
	struct hub *h = hub_get();
	bool dead;
	int r;

	gsync_lock(&g->join_lock);
	r = g->join_wait != NULL ? 0 : join_refused(g); /* glibc: a join goes on */
	if (r < 0 || g->join_wait != NULL) {
		gsync_unlock(&g->join_lock);
		return r;
	}
	dead = g->state == GREEN_DEAD;
	g->detached = true;
	gsync_unlock(&g->join_lock);
	if (dead)
		release(h, g);
	return 0;
}

void green_yield(void)
{
	struct hub *h = hub_get();
	struct green *g = h->current;

	hub_requeue(h, g);
	hub_switch_out(h, g);
	green_take_due(g);
}

int green_nap_until(int64_t deadline)
{
	struct wait w;
	int r;

	wait_init_interruptible(&w);
	wait_label(&w, WAIT_SLEEP, NULL, 0);
	r = wait_park(&w, deadline);
	wait_after(&w);
	return r == -ETIMEDOUT ? 0 : r;
}

int green_sleep_until(int64_t deadline)
{
	/* A sleep ends early on any handled signal, SA_RESTART or not
	 * (signal(7)): -EINTR. */
	int r = green_nap_until(deadline);

	return r == WAKE_SIGNAL ? -EINTR : r;
}
