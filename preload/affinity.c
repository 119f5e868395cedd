/*
 * CPU affinity per green thread: sched_setaffinity, sched_getaffinity,
 * pthread_setaffinity_np, pthread_getaffinity_np and
 * pthread_attr_setaffinity_np, for threads that share OS threads.
 *
 * What it owns: the masks that the program's threads were given (or
 * inherited from a creator that had one), and the mask of the OS threads
 * that run them: every hub of the scheduler (src/sched.c), or the main
 * thread's alone with one hub.
 *
 * Design. A mask belongs to the thread, as the kernel's does: the thread
 * reads back what it was given, and a thread it makes inherits it. The
 * hubs run every thread, so their OS threads get the union of the masks
 * of the live threads; a thread that was never given one counts as the
 * process's CPUs at start (the base). So a program that confines itself
 * (its main thread sets its mask before it makes threads, which inherit
 * it) has its hubs confined, as before 2026-12-07; one that pins each
 * thread to a CPU of its own leaves them free, and the scheduler spreads
 * its threads over the hubs (docs/LIMITATIONS.md says what that is not).
 *
 * The kernel checks a mask: the caller's OS thread is given it, then
 * read, then given back its own, under the lock, so that EFAULT, EINVAL
 * (no CPU of the mask is allowed), the bytes read and the CPUs kept are
 * the kernel's own. Programs set masks at their start, not per request:
 * four system calls then are nothing.
 *
 * Who a call names: a green thread (by its pthread_t or kernel id) of a
 * hub that runs the program's threads; the main thread (its root,
 * by getpid(), 0 from main, or its pthread_t); or any other OS thread,
 * left to the kernel as before (the runtime's, a native library's real
 * threads and the green threads of their own hubs).
 *
 * Rejected: a hub per CPU of a pinned thread's mask, the hub's OS thread
 * pinned to it (the kernel keeps a hub on its CPU, and the scheduler then
 * must never move the thread elsewhere: stealing and placement would
 * each check masks; not needed for the programs seen: docs/LIMITATIONS.md);
 * the caller's OS thread given the mask, as before (with several hubs a
 * program that pins each thread in turn pinned its hubs to whatever CPU
 * came last, two of them to one CPU at worst, and a thread read back its
 * hub's mask, not its own).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"
#include "../src/gid.h"
#include "../src/sys.h"

struct aff_entry {
	struct green *g;
	uint64_t id;
	cpu_set_t set;
};

static struct {
	uint16_t lock;
	struct aff_entry *v; /* green threads with a mask */
	size_t n, cap;
	bool main_has;       /* the main thread has a mask: main_set */
	bool main_live;      /* the main thread is one of the program's */
	bool stale_possible; /* a mask was set for another green thread */
	cpu_set_t main_set;
	cpu_set_t base;      /* the process's CPUs at start */
	cpu_set_t hubs;      /* what the hubs' OS threads were last given */
	pthread_t main_thread;
} aff = { .main_live = true };

/* Masks kept (entries, and the main thread's): the spawn and exit paths
 * look no further while 0. */
static atomic_size_t aff_kept;

/* The lock, with the OS thread's signals blocked while it is held (all
 * but the synchronous ones): a program's handler that asks for a mask
 * would otherwise spin for ever on the lock the code it interrupted
 * holds, where the kernel's call is a plain system call. */
static void aff_lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	os_ops.thread_sigmask(SIG_SETMASK, &all, old);
	gsync_lock(&aff.lock);
}

static void aff_unlock(const sigset_t *old)
{
	gsync_unlock(&aff.lock);
	os_ops.thread_sigmask(SIG_SETMASK, old, NULL);
}

void affinity_init(void)
{
	aff.main_thread = pthread_self(); /* the constructor runs on main */
	if (REAL(sched_getaffinity)(0, sizeof aff.base, &aff.base) != 0)
		CPU_ZERO(&aff.base); /* never seen; then every union is narrowed */
	aff.hubs = aff.base;
}

/* Does h run the program's threads: a hub of the scheduler, or with one
 * hub the main thread's? */
static bool program_hub(struct hub *h)
{
	return sched_hubs() > 1 ? sched_member(h) : hub_os_tid(h) == getpid();
}

void affinity_of_green(struct aff_who *w, struct green *g, uint64_t id, struct hub *on)
{
	*w = (struct aff_who){ .pid = 0 };
	if (program_hub(on)) {
		w->g = g;
		w->id = id;
	} else {
		w->pid = hub_os_tid(on);
	}
}

void affinity_of_pid(struct aff_who *w, pid_t pid)
{
	struct green *g = pid == 0 ? preload_self_green() : NULL;

	if (g != NULL) {
		affinity_of_green(w, g, g->id, g->hub);
		return;
	}
	*w = (struct aff_who){ .pid = pid };
	if (pid == getpid() || (pid == 0 && sys_gettid() == getpid()))
		w->main = true;
}

bool affinity_of_main(struct aff_who *w, pthread_t t)
{
	*w = (struct aff_who){ .main = t == aff.main_thread };
	return w->main;
}

/* Is green thread g, of id id, still alive (its exit hook may have run)? */
static bool alive(struct green *g, uint64_t id)
{
	struct hub *on;
	uint64_t now;

	return gid_find((uint32_t)(id & GID_KEY_MASK), &now, &on) == g && now == id;
}

static struct aff_entry *entry_of(struct green *g, uint64_t id)
{
	for (size_t i = 0; i < aff.n; i++)
		if (aff.v[i].g == g && aff.v[i].id == id)
			return &aff.v[i];
	return NULL;
}

/* Under the lock: the mask named by w, if it has one. */
static const cpu_set_t *mask_of(const struct aff_who *w)
{
	const struct aff_entry *e;

	if (w->main)
		return aff.main_has ? &aff.main_set : NULL;
	e = entry_of(w->g, w->id);
	return e != NULL ? &e->set : NULL;
}

/* Under the lock: w's mask is set from now on; -ENOMEM if no room. */
static int keep(const struct aff_who *w, const cpu_set_t *set)
{
	struct aff_entry *e;

	if (w->main) {
		if (!aff.main_has)
			atomic_fetch_add_explicit(&aff_kept, 1, memory_order_relaxed);
		aff.main_has = true;
		aff.main_set = *set;
		return 0;
	}
	e = entry_of(w->g, w->id);
	if (e == NULL) {
		if (aff.n == aff.cap) {
			size_t cap = aff.cap != 0 ? 2 * aff.cap : 16;
			struct aff_entry *v = gs_realloc(aff.v, cap * sizeof *v);

			if (v == NULL)
				return -ENOMEM;
			aff.v = v;
			aff.cap = cap;
		}
		e = &aff.v[aff.n++];
		e->g = w->g;
		e->id = w->id;
		atomic_fetch_add_explicit(&aff_kept, 1, memory_order_relaxed);
	}
	e->set = *set;
	return 0;
}

/* Under the lock: the hubs' OS threads get the union of the live
 * threads' masks, if it changed. ending: threads that still count in
 * gid_live and end now (an ending thread's exit hook runs before). */
static void apply(unsigned long ending)
{
	unsigned long green_live = gid_live() - ending;
	cpu_set_t u;
	int n;

	/* A mask another thread set as its thread ended, after its exit
	 * hook: looked for only after such a set (a walk of the table,
	 * which a thread's exit must not pay for every time). */
	for (size_t i = 0; aff.stale_possible && i < aff.n;) {
		if (alive(aff.v[i].g, aff.v[i].id)) {
			i++;
			continue;
		}
		aff.v[i] = aff.v[--aff.n];
		atomic_fetch_sub_explicit(&aff_kept, 1, memory_order_relaxed);
	}
	aff.stale_possible = false;

	if ((aff.main_live && !aff.main_has) || green_live > aff.n) {
		u = aff.base; /* a thread with no mask of its own: no walk */
	} else {
		CPU_ZERO(&u);
		if (aff.main_has && aff.main_live)
			CPU_OR(&u, &u, &aff.main_set);
		for (size_t i = 0; i < aff.n; i++)
			CPU_OR(&u, &u, &aff.v[i].set);
		if (CPU_COUNT(&u) == 0)
			return; /* no thread left: leave them */
	}
	if (CPU_EQUAL(&u, &aff.hubs))
		return;
	aff.hubs = u;
	n = sched_hubs();
	if (n <= 1) {
		REAL(sched_setaffinity)(getpid(), sizeof u, &u);
		return;
	}
	/* The extra hubs not yet made inherit the first one's. */
	for (int i = 0; i < n; i++)
		REAL(sched_setaffinity)(hub_os_tid(sched_hub(i)), sizeof u, &u);
}

/* Under the lock: what the kernel makes of set (size bytes of it), in out;
 * the kernel's error if it takes none of it. */
static int kernel_view(size_t size, const cpu_set_t *set, cpu_set_t *out)
{
	cpu_set_t own;
	int r = 0;

	if (REAL(sched_getaffinity)(0, sizeof own, &own) != 0)
		return -errno;
	if (REAL(sched_setaffinity)(0, size, set) != 0)
		return -errno;
	if (REAL(sched_getaffinity)(0, sizeof *out, out) != 0)
		r = -errno;
	REAL(sched_setaffinity)(0, sizeof own, &own);
	return r;
}

int affinity_set(const struct aff_who *w, size_t size, const cpu_set_t *set)
{
	sigset_t old;
	cpu_set_t eff;
	int r;

	if (w->g == NULL && !w->main)
		return REAL(sched_setaffinity)(w->pid, size, set) == 0 ? 0 : -errno;
	aff_lock(&old);
	r = w->g != NULL && !alive(w->g, w->id) ? -ESRCH : kernel_view(size, set, &eff);
	if (r == 0)
		r = keep(w, &eff);
	if (r == 0 && w->g != NULL && w->g != preload_self_green())
		aff.stale_possible = true; /* it may be ending meanwhile */
	if (r == 0)
		apply(0);
	aff_unlock(&old);
	return r;
}

int affinity_get(const struct aff_who *w, size_t size, cpu_set_t *set)
{
	sigset_t old;
	struct hub *h = hub_peek();
	const cpu_set_t *mine;

	if (w->g == NULL && !w->main)
		return REAL(sched_getaffinity)(w->pid, size, set) == 0 ? 0 : -errno;
	/* The kernel checks size and set, and answers for a thread with no
	 * mask of its own: the hubs', read on the caller's OS thread if it
	 * is one (another thread's check of a mask changes its own OS
	 * thread's for a moment, under the lock), else on the main thread's,
	 * the first hub's. */
	if (REAL(sched_getaffinity)(h != NULL && program_hub(h) ? 0 : getpid(), size, set) != 0)
		return -errno;
	if (atomic_load_explicit(&aff_kept, memory_order_relaxed) == 0)
		return 0;
	aff_lock(&old);
	mine = mask_of(w);
	if (mine != NULL) {
		memset(set, 0, size);
		memcpy(set, mine, size < sizeof *mine ? size : sizeof *mine);
	}
	aff_unlock(&old);
	return 0;
}

int affinity_spawn_begin(struct aff_spawn *s, const pthread_attr_t *attr)
{
	struct aff_who creator;
	cpu_set_t want;
	int r;

	s->locked = false;
	s->has = false;
	if (attr != NULL && pthread_attr_getaffinity_np(attr, sizeof want, &want) == 0) {
		/* glibc reads an attribute with no mask as every CPU. */
		cpu_set_t all;

		memset(&all, 0xff, sizeof all);
		s->has = !CPU_EQUAL(&want, &all);
	}
	if (!s->has && atomic_load_explicit(&aff_kept, memory_order_relaxed) == 0)
		return 0;
	aff_lock(&s->old);
	s->locked = true;
	if (s->has) {
		r = kernel_view(sizeof want, &want, &s->set);
		if (r < 0) {
			s->has = false;
			affinity_spawn_end(s, NULL);
			return r;
		}
	} else {
		const cpu_set_t *mine;

		affinity_of_pid(&creator, 0);
		mine = creator.g != NULL || creator.main ? mask_of(&creator) : NULL;
		s->has = mine != NULL;
		if (s->has)
			s->set = *mine;
	}
	/* Counted from now: the new thread, on another hub perhaps, may ask
	 * for its mask before affinity_spawn_end keeps it, and must wait for
	 * the lock rather than read the hubs' mask. */
	if (s->has)
		atomic_fetch_add_explicit(&aff_kept, 1, memory_order_relaxed);
	return 0;
}

void affinity_spawn_end(struct aff_spawn *s, struct green *g)
{
	if (!s->locked)
		return;
	/* Before the new thread can read its mask: the lock was held since
	 * before it was made. Without room for its mask it runs with the
	 * hubs' (never seen). */
	if (g != NULL && s->has) {
		struct aff_who w = { .g = g, .id = g->id };

		if (keep(&w, &s->set) == 0)
			apply(0);
	}
	if (s->has)
		atomic_fetch_sub_explicit(&aff_kept, 1, memory_order_relaxed);
	s->locked = false;
	aff_unlock(&s->old);
}

void affinity_thread_exit(struct green *g)
{
	sigset_t old;
	struct aff_entry *e;
	bool root = g->flags & GREEN_ROOT;

	if (atomic_load_explicit(&aff_kept, memory_order_relaxed) == 0)
		return;
	aff_lock(&old);
	if (root) {
		/* pthread_exit in main: the process lives on its other threads. */
		if (hub_os_tid(g->hub) == getpid())
			aff.main_live = false;
	} else if ((e = entry_of(g, g->id)) != NULL) {
		*e = aff.v[--aff.n];
		atomic_fetch_sub_explicit(&aff_kept, 1, memory_order_relaxed);
	}
	apply(root ? 0 : 1);
	aff_unlock(&old);
}

void affinity_fork_child(struct green *self)
{
	struct aff_entry *e = self != NULL ? entry_of(self, self->id) : NULL;

	/* Another OS thread of the parent may have held the lock. The child's
	 * one thread is the caller: its mask is the only one left, and the
	 * kernel gave the child's OS thread the hubs'. */
	aff.lock = 0;
	aff.main_live = self == NULL;
	if (!aff.main_live && aff.main_has) {
		aff.main_has = false;
		atomic_fetch_sub_explicit(&aff_kept, 1, memory_order_relaxed);
	}
	if (e != NULL) {
		aff.v[0] = *e;
		aff.n = 1;
	} else {
		aff.n = 0;
	}
	atomic_store_explicit(&aff_kept, aff.n + (aff.main_has ? 1 : 0), memory_order_relaxed);
	if (atomic_load_explicit(&aff_kept, memory_order_relaxed) != 0)
		apply(0);
}

bool affinity_exec_begin(void)
{
	sigset_t old;
	struct aff_who w;
	const cpu_set_t *mine;
	cpu_set_t set;

	if (atomic_load_explicit(&aff_kept, memory_order_relaxed) == 0)
		return false;
	affinity_of_pid(&w, 0);
	aff_lock(&old);
	mine = w.g != NULL || w.main ? mask_of(&w) : NULL;
	if (mine != NULL)
		set = *mine;
	aff_unlock(&old);
	return mine != NULL && REAL(sched_setaffinity)(0, sizeof set, &set) == 0;
}

void affinity_exec_end(bool own)
{
	sigset_t old;
	cpu_set_t hubs;

	if (!own)
		return;
	aff_lock(&old);
	hubs = aff.hubs;
	REAL(sched_setaffinity)(0, sizeof hubs, &hubs);
	aff_unlock(&old);
}
