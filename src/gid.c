/*
 * Green threads by id: the calls that name a thread by its kernel id
 * (tgkill, tkill, sched_setaffinity: preload/thread.c) find it here from
 * any hub, from an OS thread that is none, and from a signal handler.
 * Until 2026-12-07 they walked the caller's hub's list, and a thread of
 * another hub was ESRCH.
 *
 * A fixed table of GID_BUCKETS chains, by the id's key (its low 30 bits,
 * what a kernel id carries). Writers (a thread's start, its end, its
 * moves) take one spin lock, held for a few stores and never across a
 * switch. Readers take none, which a handler that interrupted a writer on
 * its own OS thread needs:
 *  1. Entries are never freed, only reused (one type of memory for ever,
 *     as the kernel's SLAB_TYPESAFE_BY_RCU): a reader that holds a pointer
 *     to an entry reads an entry, whatever became of it.
 *  2. An entry's id goes to 0 before its thread goes, and is set after
 *     its new thread is (release, read with acquire): a reader reads the
 *     id, the thread and the hub, then the id again, and takes them only
 *     if it did not change.
 *  3. An entry removed keeps its link until it is reused, so a reader on
 *     it goes on down its old chain. Reused, it may lead a reader into
 *     another chain, past the thread it looks for: each removal counts in
 *     its chain's seq first, and a reader that found nothing walks again
 *     if its chain's seq moved meanwhile.
 * What a reader finds may end at once; what it does with it names the
 * thread by (thread, id), which the thread's hub checks against its own
 * list (hub.c, take_kills), so a thread made later on the same memory is
 * never taken for it.
 *
 * Rejected: walking every hub's list (another hub's list is its own OS
 * thread's, unlocked); a table indexed by the kernel id itself (ids are
 * never reused before 2^30 threads, so it would grow with every thread
 * ever made); the entry inside struct green (a thread on the program's
 * own stack, pthread_attr_setstack, lives on memory the program may free
 * after the join, which a reader may still be reading; and struct green
 * has no room left: runtime.h).
 */
#include <stdatomic.h>
#include <sys/syscall.h>

#include "hub_impl.h"
#include "gid.h"

#define GID_BUCKETS 1024u /* a power of two */
#define GID_BLOCK 64      /* entries allocated at once */

struct gid_entry {
	_Atomic uint64_t id;            /* 0 while free */
	_Atomic(struct green *) g;
	_Atomic(struct hub *) hub;
	_Atomic(struct gid_entry *) next; /* its chain; kept while free */
	struct gid_entry *free_next;
	struct gid_entry *all_next;     /* every entry, for the fork child */
};

struct gid_bucket {
	_Atomic(struct gid_entry *) head;
	_Atomic unsigned seq; /* removals from this chain */
};

static struct gid_bucket buckets[GID_BUCKETS];
static atomic_flag lock = ATOMIC_FLAG_INIT;
static struct gid_entry *free_entries, *all_entries;
static atomic_ulong live; /* entries in a chain: threads findable */

static void gid_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
}

static void gid_unlock(void)
{
	atomic_flag_clear_explicit(&lock, memory_order_release);
}

static struct gid_bucket *bucket_of(uint64_t key)
{
	return &buckets[(key & GID_KEY_MASK) & (GID_BUCKETS - 1)];
}

struct gid_entry *gid_entry_new(void)
{
	struct gid_entry *e;

	gid_lock();
	if (free_entries == NULL) {
		struct gid_entry *block = gs_calloc(GID_BLOCK, sizeof *block);

		if (block == NULL) {
			gid_unlock();
			return NULL;
		}
		for (int i = 0; i < GID_BLOCK; i++) {
			block[i].free_next = free_entries;
			free_entries = &block[i];
			block[i].all_next = all_entries;
			all_entries = &block[i];
		}
	}
	e = free_entries;
	free_entries = e->free_next;
	gid_unlock();
	return e;
}

void gid_entry_drop(struct gid_entry *e)
{
	gid_lock();
	e->free_next = free_entries;
	free_entries = e;
	gid_unlock();
}

void gid_add(struct green *g, struct gid_entry *e, struct hub *h)
{
	struct gid_bucket *b = bucket_of(g->id);

	gid_lock();
	atomic_store_explicit(&e->hub, h, memory_order_release);
	atomic_store_explicit(&e->g, g, memory_order_release);
	atomic_store_explicit(&e->id, g->id, memory_order_release);
	atomic_store_explicit(&e->next, atomic_load_explicit(&b->head, memory_order_relaxed),
			      memory_order_release);
	atomic_store_explicit(&b->head, e, memory_order_release);
	atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	gid_unlock();
}

/* Under the lock: the link to g's entry in its chain; NULL if g has none
 * (a root, a hub's own context). No room for a pointer to it in struct
 * green (its 256 bytes sit at the top of every stack): a chain is short. */
static _Atomic(struct gid_entry *) *link_to(const struct green *g)
{
	_Atomic(struct gid_entry *) *p = &bucket_of(g->id)->head;
	struct gid_entry *e;

	while ((e = atomic_load_explicit(p, memory_order_relaxed)) != NULL &&
	       atomic_load_explicit(&e->g, memory_order_relaxed) != g)
		p = &e->next;
	return e != NULL ? p : NULL;
}

void gid_remove(struct green *g)
{
	_Atomic(struct gid_entry *) *p;
	struct gid_entry *e;

	gid_lock();
	p = link_to(g);
	if (p != NULL) {
		/* Out of its chain, its link kept (3. above). */
		e = atomic_load_explicit(p, memory_order_relaxed);
		atomic_fetch_add_explicit(&bucket_of(g->id)->seq, 1, memory_order_release);
		atomic_store_explicit(&e->id, 0, memory_order_release);
		atomic_store_explicit(p, atomic_load_explicit(&e->next, memory_order_relaxed),
				      memory_order_release);
		atomic_store_explicit(&e->g, NULL, memory_order_release);
		e->free_next = free_entries;
		free_entries = e;
		atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	}
	gid_unlock();
}

unsigned long gid_live(void)
{
	return atomic_load_explicit(&live, memory_order_relaxed);
}

void gid_moved(struct green *g, struct hub *t)
{
	_Atomic(struct gid_entry *) *p;

	gid_lock();
	p = link_to(g);
	if (p != NULL)
		atomic_store_explicit(&atomic_load_explicit(p, memory_order_relaxed)->hub, t,
				      memory_order_release);
	gid_unlock();
}

struct green *gid_find(uint32_t key, uint64_t *id, struct hub **h)
{
	return gid_find_bits(key, GID_KEY_MASK, id, h);
}

struct green *gid_find_bits(uint32_t key, uint32_t mask, uint64_t *id, struct hub **h)
{
	struct gid_bucket *b = bucket_of(key);

	for (;;) {
		unsigned seq = atomic_load_explicit(&b->seq, memory_order_acquire);

		for (struct gid_entry *e = atomic_load_explicit(&b->head, memory_order_acquire);
		     e != NULL; e = atomic_load_explicit(&e->next, memory_order_acquire)) {
			uint64_t v = atomic_load_explicit(&e->id, memory_order_acquire);
			struct green *g;
			struct hub *on;

			if (v == 0 || (v & mask) != (key & mask))
				continue;
			g = atomic_load_explicit(&e->g, memory_order_acquire);
			on = atomic_load_explicit(&e->hub, memory_order_acquire);
			if (g == NULL || atomic_load_explicit(&e->id, memory_order_acquire) != v)
				continue;
			*id = v;
			*h = on;
			return g;
		}
		if (atomic_load_explicit(&b->seq, memory_order_acquire) == seq)
			return NULL;
	}
}

void gid_fork_child(struct green *keep, struct hub *h)
{
	_Atomic(struct gid_entry *) *p;
	struct gid_entry *kept;

	/* The parent's other OS threads are gone, a writer among them
	 * perhaps: the lock is this thread's. */
	atomic_flag_clear(&lock);
	p = keep != NULL ? link_to(keep) : NULL;
	kept = p != NULL ? atomic_load(p) : NULL;
	for (unsigned i = 0; i < GID_BUCKETS; i++)
		atomic_store(&buckets[i].head, NULL);
	free_entries = NULL;
	for (struct gid_entry *e = all_entries; e != NULL; e = e->all_next) {
		if (e == kept)
			continue;
		atomic_store(&e->id, 0);
		atomic_store(&e->g, NULL);
		atomic_store(&e->next, NULL);
		e->free_next = free_entries;
		free_entries = e;
	}
	if (kept != NULL) {
		atomic_store(&kept->next, NULL);
		atomic_store(&kept->hub, h);
		atomic_store(&bucket_of(keep->id)->head, kept);
	}
	atomic_store(&live, kept != NULL ? 1 : 0);
}
