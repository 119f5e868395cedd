/*
 * The hub: one scheduler per OS thread.
 *
 * What it owns: the OS thread's libev loop (ev_loop_new, never the default
 * loop, which would take SIGCHLD from the program), the FIFO run queue of
 * ready green threads, and two contexts: the root (the OS thread's own stack,
 * the code that was running when the hub was made, e.g. main()) and the hub
 * context, a small stack of its own on which the loop and every libev
 * callback run.
 *
 * Scheduling: a green thread that parks or yields switches straight to the
 * next ready green thread when there is one; the hub context is entered only
 * when the run queue is empty, or when HUB_POLL_EVERY direct switches and
 * HUB_POLL_INTERVAL_NS have both passed since the last poll, so that fd and
 * timer events are never starved by threads that keep yielding, and yet a
 * storm of yields does not pay for an epoll_wait every few switches.
 * There the hub runs the loop once (blocking only if nothing is ready):
 * watcher callbacks complete waits, which moves their threads to the run
 * queue, and the hub switches to the first of them. A thread runs until it
 * waits, yields or exits, or until the preemption tick moves it aside at a
 * safe point (preempt.c).
 *
 * Invariants:
 *  - exactly one context of a hub runs at a time, on the hub's OS thread;
 *    a green thread never moves to another hub;
 *  - a READY green is in the run queue exactly once; a PARKED one is
 *    referenced by the wait that will unpark it;
 *  - the thread pointer loaded is h->fs; a context runs with its own
 *    (tls.c), except the hub's, which runs on whatever is loaded when the
 *    TLS is loaded with arch_prctl;
 *  - errno is saved across a switch for every context whose TLS another
 *    may use meanwhile (shares_tls);
 *  - a dead detached green is released by the next context to run, once
 *    nothing runs on its stack any more (h->zombie).
 *
 * Stuck: when the run queue is empty, the loop has no active watcher (only
 * the cross-thread ev_async, which does not count) and no remote completion
 * was announced, nothing can ever wake a parked green. The hub then calls
 * the stuck hook once (the deadlock report builds on it) when it has green
 * threads besides its root, and keeps waiting for a remote wake-up,
 * exactly as a native deadlock would hang.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "runtime.h"
#include "sys.h"

#ifdef GS_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

static __thread struct hub *tls_hub __attribute__((tls_model("initial-exec")));
/* hub_create is running on this OS thread. Making a hub allocates, and a
 * program's own malloc (jemalloc: redis-server) locks a pthread mutex,
 * whose wrapper asks for the hub: until it exists, the OS thread has none
 * (hub_get answers NULL), so those calls get the no-hub behaviour instead
 * of making a hub inside the making of one, for ever. */
static __thread bool tls_hub_creating __attribute__((tls_model("initial-exec")));
static void (*stuck_hook)(struct hub *);
static void end_default(struct hub *h);
static void (*end_hook)(struct hub *) = end_default;

/* The last thread of the process's main OS thread ended without exit():
 * the process exits with status 0, atexit handlers and stdio included, as
 * it does natively when the last thread calls pthread_exit. */
static void end_default(struct hub *h)
{
	(void)h;
	exit(0);
}

void hub_set_end_hook(void (*hook)(struct hub *))
{
	end_hook = hook != NULL ? hook : end_default;
}
static atomic_uint_fast64_t next_green_id = 1;

/* fds the hubs opened for themselves (libev's epoll fd and eventfd): the
 * close wrappers must not let a program close them under the runtime. */
#define OWN_FDS_MAX 64
static atomic_int own_fds[OWN_FDS_MAX];
static atomic_int n_own_fds;

bool hub_is_own_fd(int fd)
{
	int n = atomic_load_explicit(&n_own_fds, memory_order_acquire);

	for (int i = 0; i < n && i < OWN_FDS_MAX; i++)
		if (atomic_load_explicit(&own_fds[i], memory_order_relaxed) == fd)
			return true;
	return false;
}

#define OWN_FD_CEILING 1024

int hub_fd_high(int fd)
{
	struct rlimit rl;
	long ceiling = OWN_FD_CEILING;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)ceiling)
		ceiling = (long)rl.rlim_cur;
	for (long want = ceiling - 1; want > fd; want--) {
		long high;

		if (sys_fcntl((int)want, F_GETFD, 0) != -EBADF)
			continue;
		high = sys_fcntl(fd, F_DUPFD_CLOEXEC, want);
		if (high >= 0) {
			arch_syscall3(SYS_close, fd, 0, 0);
			return (int)high;
		}
		break;
	}
	sys_fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* The hub whose loop this OS thread is making (hub_open_loop). */
static __thread struct hub *tls_opening __attribute__((tls_model("initial-exec")));

/* The hub whose loop is making an fd now: the one being made, or the
 * calling OS thread's when its own context (libev in ev_run) runs. */
static struct hub *making_hub(void)
{
	struct hub *h = tls_opening;

	if (h == NULL && (h = tls_hub) != NULL && h->current != h->hub_green)
		h = NULL;
	return h;
}

bool hub_making_fd(void)
{
	return making_hub() != NULL;
}

void hub_drop_own_fd(int fd)
{
	struct hub *h = tls_hub;

	hub_forget_own_fd(fd);
	for (int i = 0; h != NULL && i < h->n_own_fds; i++)
		if (h->own_fds[i] == fd)
			h->own_fds[i] = h->own_fds[--h->n_own_fds];
}

int hub_take_new_fd(int fd)
{
	struct hub *h = making_hub();

	if (fd < 0 || h == NULL)
		return fd;
	fd = hub_fd_high(fd);
	if (h->n_own_fds < OWN_FDS_PER_HUB)
		h->own_fds[h->n_own_fds++] = fd;
	hub_add_own_fd(fd);
	return fd;
}

/* The lowest free fd numbers: the kernel gives new fds the lowest free
 * number, so those that are open after the loop is made are the loop's. */
static int free_fds(int *out, int max)
{
	int n = 0;

	for (int fd = 0; fd < 65536 && n < max; fd++)
		if (sys_fcntl(fd, F_GETFD, 0) == -EBADF)
			out[n++] = fd;
	return n;
}

static void mark_own_fds(struct hub *h, const int *was_free, int n)
{
	for (int i = 0; i < n; i++) {
		/* Those the wrappers did not take high (no preload). */
		if (sys_fcntl(was_free[i], F_GETFD, 0) >= 0 && h->n_own_fds < OWN_FDS_PER_HUB) {
			int slot = atomic_fetch_add(&n_own_fds, 1);

			if (slot < OWN_FDS_MAX)
				atomic_store(&own_fds[slot], was_free[i]);
			h->own_fds[h->n_own_fds++] = was_free[i];
		}
	}
}

/* An fd of the runtime's that no hub owns (the control socket). */
void hub_add_own_fd(int fd)
{
	int slot = atomic_fetch_add(&n_own_fds, 1);

	if (slot < OWN_FDS_MAX)
		atomic_store(&own_fds[slot], fd);
}

void hub_forget_own_fd(int fd)
{
	for (int i = 0; i < OWN_FDS_MAX; i++) {
		int expected = fd;

		atomic_compare_exchange_strong(&own_fds[i], &expected, -1);
	}
}

static void unmark_own_fds(struct hub *h)
{
	for (int i = 0; i < OWN_FDS_MAX; i++)
		for (int j = 0; j < h->n_own_fds; j++)
			if (atomic_load(&own_fds[i]) == h->own_fds[j])
				atomic_store(&own_fds[i], -1);
}

void hub_tls_adopt(void *tp, struct hub *h)
{
	/* tls_hub is initial-exec: at the same offset from every thread
	 * pointer. */
	long off = (char *)&tls_hub - (char *)arch_tp_get();

	*(struct hub **)((char *)tp + off) = h;
}

struct hub *hub_peek(void)
{
	return tls_hub;
}

void hub_set_stuck_hook(void (*hook)(struct hub *))
{
	stuck_hook = hook;
}

void hub_link_green(struct hub *h, struct green *g)
{
	g->hub = h;
	g->id = atomic_fetch_add_explicit(&next_green_id, 1, memory_order_relaxed);
	g->all_prev = NULL;
	g->all_next = h->all;
	if (h->all != NULL)
		h->all->all_prev = g;
	h->all = g;
	h->ngreen++;
	h->nrunning++;
	if (GS_UNLIKELY(h->ngreen == 2)) {
		monitor_green_added();
		trap_hub_start(h);
	}
}

void hub_release_green(struct hub *h, struct green *g)
{
	if (g->all_prev != NULL)
		g->all_prev->all_next = g->all_next;
	else
		h->all = g->all_next;
	if (g->all_next != NULL)
		g->all_next->all_prev = g->all_prev;
	h->ngreen--;
	tls_release(h, g);
	gs_free(g->tsig);
	g->tsig = NULL;
	if (!(g->flags & GREEN_USER_STACK)) {
		struct stack st = g->stack; /* g lives on this stack */

		stack_put(&h->stacks, &st);
	}
}

static void hub_reap(struct hub *h)
{
	struct green *z = h->zombie;

	h->zombie = NULL;
	hub_release_green(h, z);
}

void hub_runq_push(struct hub *h, struct green *g)
{
	g->next = NULL;
	if (h->runq_tail != NULL)
		h->runq_tail->next = g;
	else
		h->runq_head = g;
	h->runq_tail = g;
}

static struct green *runq_pop(struct hub *h)
{
	struct green *g = h->runq_head;

	if (g != NULL) {
		h->runq_head = g->next;
		if (h->runq_head == NULL)
			h->runq_tail = NULL;
	}
	return g;
}

void hub_unpark(struct green *g)
{
	struct hub *h = g->hub;

	h->nparked--;
	g->state = GREEN_READY;
	g->since = h->last_poll;
	hub_runq_push(h, g);
}

#ifdef GS_ASAN
/* ASan must know which stack runs: announce the switch before it, and
 * learn the bounds of the stack we came from after it (the root's, which
 * we did not allocate, are only known that way). */
static void asan_before(struct hub *h, struct green *cur, struct green *next)
{
	h->switch_from = cur;
	__sanitizer_start_switch_fiber(cur->state == GREEN_DEAD ? NULL : &cur->asan_fake,
				       next->asan_bottom, next->asan_size);
}

static void asan_after(struct hub *h, void *fake)
{
	struct green *from = h->switch_from;
	const void *bottom;
	size_t size;

	__sanitizer_finish_switch_fiber(fake, &bottom, &size);
	if (from != NULL && from->asan_size == 0) {
		from->asan_bottom = bottom;
		from->asan_size = size;
	}
}
#endif

void hub_first_run(struct hub *h)
{
#ifdef GS_ASAN
	asan_after(h, NULL);
#endif
	if (h->zombie != NULL)
		hub_reap(h);
	errno = 0;
}

/* errno is saved across a switch only for the contexts whose TLS another
 * context may use meanwhile: the root and the hub's (they share the OS
 * thread's), every green one with GREENSHIM_TLS=shared, and every one
 * when the TLS is loaded with arch_prctl (the hub then runs on the TLS of
 * the thread it came from, below). */
static inline bool shares_tls(const struct green *g)
{
	return !(g->flags & GREEN_OWN_TLS) || gs_tls_mode == TLS_SLOW;
}

/* Loads next's thread pointer if it is not loaded. With arch_prctl (a
 * system call, some 5 us here) the hub's context takes none: it runs on
 * whatever TLS is loaded, whose only runtime variable, tls_hub, is the
 * same in every TLS of the hub, and a hand-off between green threads
 * through the hub costs one load instead of two. */
static inline void hub_load_tls(struct hub *h, struct green *next)
{
	if (GS_LIKELY(next->tp == h->fs) ||
	    (gs_tls_mode == TLS_SLOW && next == h->hub_green))
		return;
	tls_switch(next->tp);
	h->fs = next->tp;
}

/* The only place a context is left and resumed. */
static void hub_switch(struct hub *h, struct green *cur, struct green *next)
{
	if (shares_tls(cur))
		cur->saved_errno = errno;
	next->state = GREEN_RUNNING;
	next->switches++;
	h->current = next;
	h->switches++;
	if (GS_UNLIKELY(__atomic_load_n(&gs_stats_on, __ATOMIC_RELAXED)))
		introspect_account(h, cur, next);
	if (GS_UNLIKELY(h->masks))
		sigmask_switch(h, next);
#ifdef GS_ASAN
	asan_before(h, cur, next);
#endif
	hub_load_tls(h, next);
	/* A call let through by trap.c catches none after it. */
	if (GS_UNLIKELY(h->trap_sel != h->trap_on))
		h->trap_sel = h->trap_on;
	ctx_switch(&cur->ctx, &next->ctx);
	/* Resumed: cur runs again, on the same hub. */
#ifdef GS_ASAN
	asan_after(h, cur->asan_fake);
#endif
	if (h->zombie != NULL)
		hub_reap(h);
	if (shares_tls(cur))
		errno = cur->saved_errno;
}

void hub_switch_out(struct hub *h, struct green *cur)
{
	struct green *next = NULL;

	if (h->runq_head != NULL) {
		if (GS_LIKELY(++h->since_poll < HUB_POLL_EVERY)) {
			next = runq_pop(h);
		} else if (gs_now_ns() - h->last_poll < HUB_POLL_INTERVAL_NS) {
			h->since_poll = 0;
			next = runq_pop(h);
		}
	}
	if (next == NULL)
		next = h->hub_green;
	if (next != cur)
		hub_switch(h, cur, next);
	else
		cur->state = GREEN_RUNNING;
}

void hub_preempt(struct hub *h, struct green *cur)
{
	/* Straight to the hub, which polls first and queues cur after the
	 * threads the poll made ready: a timed wait that has just ended runs
	 * before the thread that kept it waiting. */
	cur->state = GREEN_READY;
	h->preempted = cur;
	hub_switch(h, cur, h->hub_green);
}

static void hub_stuck(struct hub *h)
{
	/* A hub with no green thread but its root belongs to an OS thread
	 * that waits as a real thread would (one that a library made behind
	 * greenshim's back: jemalloc's background thread); another OS thread
	 * may well wake it. Only green threads stuck together are reported. */
	if (!h->stuck_reported && h->nparked > 0 && h->ngreen > 1 &&
	    atomic_load(&h->remote_pending) == 0) {
		h->stuck_reported = true;
		if (stuck_hook != NULL)
			stuck_hook(h);
	}
	if (h->runq_head == NULL) {
		/* Nothing local can wake anyone; wait for another OS thread. */
		ev_ref(h->loop);
		ev_run(h->loop, EVRUN_ONCE);
		ev_unref(h->loop);
	}
}

static void hub_main(void *arg)
{
	struct hub *h = arg;

	hub_first_run(h);
	for (;;) {
		struct green *g;

		if (h->zombie != NULL)
			hub_reap(h);
		if (h->nrunning == 0) {
			/* The root ended (pthread_exit from main) and so did
			 * every other thread: the OS thread ends, as natively. */
			end_hook(h);
		}
		h->since_poll = 0;
		h->last_poll = gs_now_ns();
		h->loops++;
		if (h->runq_head != NULL || h->preempted != NULL)
			ev_run(h->loop, EVRUN_NOWAIT);
		else if (!ev_run(h->loop, EVRUN_ONCE) && h->runq_head == NULL)
			hub_stuck(h);
		if (h->preempted != NULL) {
			hub_runq_push(h, h->preempted);
			h->preempted = NULL;
		}
		g = runq_pop(h);
		if (g != NULL) {
			h->stuck_reported = false;
			if (!h->timer_armed)
				preempt_arm(h);
			hub_switch(h, h->hub_green, g);
		}
	}
}

static void hub_signal_deliver(struct hub *h);

static void hub_async_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	struct hub *h = GS_CONTAINER_OF(a, struct hub, async);
	struct remote_msg *m, *rev = NULL, *next;

	(void)loop;
	(void)revents;
	/* Pushed as a stack: reverse to complete them in the order posted. */
	for (m = atomic_exchange(&h->remote, NULL); m != NULL; m = next) {
		next = m->next;
		m->next = rev;
		rev = m;
	}
	for (m = rev; m != NULL; m = next) {
		next = m->next; /* m may be gone once its wait completes */
		atomic_fetch_sub(&h->remote_pending, 1);
		wait_complete(m->wait, m->result);
	}
	hub_signal_deliver(h);
	if (atomic_load_explicit(&h->ctl_call, memory_order_relaxed) != NULL)
		control_hub_poll(h);
}

/* Signals. The handler runs on whatever context the OS thread was in; it
 * only notes which wait it interrupted (hub_signal) and wakes the loop;
 * the loop ends that wait here, in the hub's context, where the run queue
 * may be touched. The wait sequence number makes sure the wait ended is
 * the one in progress when the signal came, not a later one. */
void hub_signal_target(struct green *g)
{
	struct hub *h = tls_hub;

	if (h != NULL)
		h->kill_target = g;
}

/* Which green thread a process-directed signal is for, as Linux chooses:
 * the main thread unless it blocks the signal; else the running thread if
 * it takes it; else a thread that does not block it. */
static struct green *signal_receiver(struct hub *h, int sig)
{
	if (!h->masks || !sigmask_blocks(h->root, sig))
		return h->root;
	if (h->current != h->hub_green && !sigmask_blocks(h->current, sig))
		return h->current;
	for (struct green *g = h->all; g != NULL; g = g->all_next)
		if (g->state == GREEN_PARKED && !sigmask_blocks(g, sig))
			return g;
	return h->root;
}

struct green *hub_signal(int sig, bool restart)
{
	struct hub *h = tls_hub;
	struct green *t;

	if (h == NULL)
		return NULL;
	t = h->kill_target != NULL ? h->kill_target : signal_receiver(h, sig);
	h->kill_target = NULL;
	if (t->state != GREEN_PARKED || t->wait == NULL || !t->wait->interruptible)
		return t;
	/* Two signals on one wait: EINTR wins over a restart. */
	if (t->intr_seq != t->wait_seq || t->intr_result != -EINTR)
		t->intr_result = restart ? WAKE_SIGNAL : -EINTR;
	t->intr_seq = t->wait_seq;
	h->intr_target = t;
	ev_async_send(h->loop, &h->async); /* async-signal-safe (libev) */
	return t;
}

static void hub_signal_deliver(struct hub *h)
{
	struct green *t = h->intr_target;

	if (t == NULL)
		return;
	h->intr_target = NULL;
	if (t->state == GREEN_PARKED && t->wait != NULL && t->wait->interruptible &&
	    t->intr_seq == t->wait_seq)
		wait_complete(t->wait, t->intr_result);
}

void hub_remote_begin(struct hub *h)
{
	atomic_fetch_add(&h->remote_pending, 1);
}

void hub_remote_post(struct hub *h, struct remote_msg *m)
{
	struct remote_msg *head = atomic_load(&h->remote);

	do
		m->next = head;
	while (!atomic_compare_exchange_weak(&h->remote, &head, m));
	ev_async_send(h->loop, &h->async);
}

/* libev's memory, like the runtime's, is glibc's (runtime.h). */
static void *hub_ev_realloc(void *p, long size)
{
	if (size != 0)
		return gs_realloc(p, (size_t)size);
	gs_free(p);
	return NULL;
}

/* Makes h's loop and its cross-thread wake-up, and notes the fds libev
 * opened (hub_create, and the fork child). */
static bool hub_open_loop(struct hub *h)
{
	int was_free[OWN_FDS_PER_HUB];
	int nfree = free_fds(was_free, OWN_FDS_PER_HUB);

	ev_set_allocator(hub_ev_realloc);
	h->n_own_fds = 0;
	/* EVFLAG_NOSIGMASK: the signal mask is the program's, not ours. The
	 * fds libev opens reach hub_take_new_fd through the wrappers. */
	tls_opening = h;
	h->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (h->loop != NULL) {
		ev_set_userdata(h->loop, h);
		ev_async_init(&h->async, hub_async_cb);
		ev_async_start(h->loop, &h->async); /* libev's eventfd, made now */
	}
	tls_opening = NULL;
	if (h->loop == NULL)
		return false;
	ev_unref(h->loop); /* a possible remote wake-up keeps nothing alive */
	/* Without the wrappers (the runtime linked into a program), the fds
	 * libev took are found among the lowest free numbers. Never with
	 * them: another OS thread may have opened one of those numbers
	 * meanwhile, and it would be taken for the hub's (seen with
	 * GREENSHIM_THREADS=native: a program's socket hidden as ours). */
	if (h->n_own_fds == 0)
		mark_own_fds(h, was_free, nfree);
	return true;
}

static void hub_close_loop(struct hub *h)
{
	unmark_own_fds(h);
	ev_ref(h->loop);
	ev_async_stop(h->loop, &h->async);
	ev_loop_destroy(h->loop);
	h->loop = NULL;
}

static struct hub *hub_create_once(void)
{
	struct hub *h = gs_calloc(1, sizeof *h);
	struct green *root = gs_calloc(1, sizeof *root);
	struct stack st;
	struct green *hg;

	config_load();
	if (h == NULL || root == NULL)
		goto fail;
	if (!hub_open_loop(h))
		goto fail;
	if (stack_get(&h->stacks, HUB_STACK_SIZE, &st) < 0)
		goto fail;
	hg = (struct green *)((uintptr_t)(st.hi - sizeof *hg) & ~(uintptr_t)63);
	memset(hg, 0, sizeof *hg);
	hg->hub = h;
	hg->flags = GREEN_HUB;
	hg->stack = st;
	hg->state = GREEN_READY;
	hg->tp = arch_tp_get(); /* the OS thread's own TLS, shared with the root */
	h->fs = hg->tp;
	strcpy(hg->name, "hub");
#ifdef GS_ASAN
	hg->asan_bottom = st.lo;
	hg->asan_size = (size_t)(st.hi - st.lo);
#endif
	ctx_make(&hg->ctx, hg, hub_main, h);
	h->hub_green = hg;
	h->next_deadline = GS_NO_DEADLINE;

	root->flags = GREEN_ROOT;
	root->tp = hg->tp;
	root->state = GREEN_RUNNING;
	hub_link_green(h, root);
	h->root = root;
	h->current = root;
	sigmask_root_init(h, root);
	h->altstack = overflow_init_thread();
	preempt_init_hub(h);
	tls_hub = h;
	introspect_hub_register(h);
	return h;
fail:
	if (h != NULL && h->loop != NULL)
		hub_close_loop(h);
	if (h != NULL)
		stack_pool_destroy(&h->stacks);
	gs_free(root);
	gs_free(h);
	return NULL;
}

static struct hub *hub_create(void)
{
	struct hub *h;

	if (tls_hub_creating)
		return NULL;
	tls_hub_creating = true;
	h = hub_create_once();
	tls_hub_creating = false;
	return h;
}

struct hub *hub_get(void)
{
	struct hub *h = tls_hub;

	return GS_LIKELY(h != NULL) ? h : hub_create();
}

void hub_fork_child(void)
{
	struct hub *h = tls_hub;
	struct green *cur;

	pool_fork_child(); /* even without a hub: a plain thread may use it */
	if (h == NULL)
		return;
	cur = h->current;
	/* The other green threads do not exist in the child (POSIX keeps
	 * only the thread that forked). Their watchers go, so that the new
	 * loop never sees them; their stacks stay mapped, as a native
	 * child keeps the other threads' stacks, until exec. */
	for (int fd = 0; fd < h->nfds; fd++) {
		if (h->fds[fd] != NULL) {
			fdw_drop(h, h->fds[fd]);
			gs_free(h->fds[fd]);
		}
	}
	gs_free(h->fds);
	h->fds = NULL;
	h->nfds = 0;
	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		ev_timer_stop(h->loop, &g->timer);
		if (g == cur)
			continue;
		/* A wait of a thread that is gone counts as ended, so that
		 * no waker (a mutex unlock, cur's exit and its joiner) ever
		 * hands it anything or brings it back. */
		if (g->wait != NULL) {
			g->wait->done = true;
			g->wait->result = -ECANCELED;
		}
		g->state = GREEN_DEAD;
	}
	/* The parent's epoll set and eventfd are shared with the child
	 * through the inherited descriptors: the child closes its copies
	 * and makes its own. */
	hub_close_loop(h);
	if (!hub_open_loop(h)) {
		static const char msg[] =
			"greenshim: fork: the child cannot make its event loop; stopping\n";

		sys_write(2, msg, sizeof msg - 1);
		_exit(127);
	}
	cur->all_prev = cur->all_next = NULL;
	h->all = cur;
	h->root = cur; /* the child's only thread is its main thread */
	h->ngreen = h->nrunning = 1;
	h->nparked = 0;
	h->runq_head = h->runq_tail = NULL;
	h->zombie = NULL;
	h->preempted = NULL;
	h->intr_target = h->kill_target = NULL;
	/* A child starts with no signal pending (fork(2)). */
	if (cur->tsig != NULL)
		memset(cur->tsig, 0, sizeof *cur->tsig);
	memset(h->nwaitset, 0, sizeof h->nwaitset);
	atomic_store(&h->remote, NULL);
	atomic_store(&h->remote_pending, 0);
	atomic_store(&h->ctl_call, NULL); /* the parent's control thread's */
	h->stuck_reported = false;
	h->since_poll = 0;
	h->next_deadline = GS_NO_DEADLINE;
	if (h->masks)
		sigmask_recount(h);
	/* POSIX timers are not inherited; the new one must name the
	 * child's thread. */
	h->have_timer = h->timer_armed = false;
	preempt_init_hub(h);
	/* Nor is Syscall User Dispatch: on again with a second thread. */
	h->trap_on = false;
	h->trap_sel = 0;
	waitq_init(&h->file_q);
	/* The other hubs' OS threads and the monitor are not in the child;
	 * the monitor's file named the parent's thread. */
	monitor_forget_hub(h);
	introspect_fork_child(h);
	monitor_fork_child();
	/* The kernel wrote the child's id into the forking thread's
	 * descriptor only; the hub's context runs on the OS thread's. The
	 * child runs on the forking thread's TLS. */
	tls_set_tid(h->hub_green->tp, h->tid);
	h->fs = arch_tp_get();
}

void hub_destroy(void)
{
	struct hub *h = tls_hub;

	if (h == NULL || h->current != h->root || h->ngreen != 1)
		return;
	if (h->zombie != NULL)
		hub_reap(h);
	introspect_hub_unregister(h);
	monitor_forget_hub(h); /* the monitor sees h no more */
	hub_close_loop(h);
	for (int fd = 0; fd < h->nfds; fd++)
		gs_free(h->fds[fd]);
	gs_free(h->fds);
	preempt_fini_hub(h);
	trap_hub_stop(h);
	tls_hub_fini(h);
	gs_free(h->stdio);
	stack_pool_destroy(&h->stacks);
	overflow_fini_thread(h->altstack);
	gs_free(h->root->tsig);
	gs_free(h->root);
	gs_free(h);
	tls_hub = NULL;
}
