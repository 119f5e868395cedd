/*
 * Green thread stacks.
 *
 * What it owns: the address space of every green stack of one hub, carved
 * from large anonymous mappings ("slabs"), and the free lists that reuse them.
 *
 * Why slabs: a mapping per stack plus a PROT_NONE guard per stack costs two
 * VMAs per thread, and vm.max_map_count (65530 by default) then stops a
 * process near 32,000 threads. A slab holds up to STACK_SLAB_MAX stacks of
 * one size class in one VMA; the guard below each stack is a guard marker
 * (madvise MADV_GUARD_INSTALL, Linux 6.13+), which splits no VMA. On older
 * kernels the guard is an mprotect(PROT_NONE) range, as glibc does it; when
 * the kernel refuses more VMAs, further stacks go without a guard and one
 * warning says so (docs/LIMITATIONS.md).
 *
 * Memory: slabs are MAP_NORESERVE and untouched pages cost nothing, so an
 * 8 MiB stack costs the pages its thread touched. A freed stack goes on its
 * class's LIFO free list and keeps its pages ("warm": spawn right after exit
 * touches no new memory). The pages go back to the kernel (MADV_DONTNEED)
 * by decay, not at once: once a period of STACK_DECAY_NS has passed in
 * which a free stack was not taken, it is given back, except the
 * STACK_WARM_MAX most recently freed of its class, which stay warm for
 * ever. A class's low-water mark (low, the fewest free stacks it had in
 * the period) tells which: with a LIFO list, the entries below it sat
 * there the whole period. The hub runs the periods (hub.c, a timer while
 * some class has more warm stacks than STACK_WARM_MAX), so that a burst of
 * threads that ended leaves no RSS a couple of periods later. Until
 * 2026-12-07 every stack beyond the STACK_WARM_MAX most recent went back
 * as it was freed: a server whose live threads swing by more than that
 * (tinyproxy, a thread per request, 40 at once) gave pages back and
 * faulted them in again at every swing, with a TLB shootdown on every CPU
 * the process ran on (docs/BENCHMARKS.md).
 *
 * Valgrind: it tells stack switches from wild stack pointers by the stacks
 * it knows, the OS threads' and those registered with it; a switch onto any
 * other memory is "client switching stacks?", and its frames' memory is
 * then tracked wrongly. So a stack is registered (VALGRIND_STACK_REGISTER)
 * for as long as it is handed out, from stack_get() to stack_put(), and so
 * is a stack the program gave (stack_adopt). A free stack is no-access to
 * memcheck (a read of a dead thread's frames is an error, not a stale
 * value) and undefined again when handed out, as fresh frames are. The
 * client requests are a few instructions that do nothing without
 * valgrind; the headers are a build dependency only.
 *
 * Invariants: stacks never move between classes or pools; slabs are unmapped
 * only by stack_pool_destroy(). Only the owning hub's OS thread calls in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <valgrind/memcheck.h>

#include "runtime.h"
#include "sys.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define STACK_MIN (16 * 1024)     /* PTHREAD_STACK_MIN on x86-64 */
#define STACK_DEFAULT_CAP ((size_t)8 * 1024 * 1024)
#define STACK_UNLIMITED_DEFAULT ((size_t)2 * 1024 * 1024) /* glibc's, x86-64 */
#define STACK_SLAB_FIRST 4
#define STACK_SLAB_MAX 256

struct stack_slab {
	struct stack_slab *next;
	char *base;
	size_t len;
	unsigned n, used;
};

struct stack_class {
	size_t size;
	struct stack_slab *slabs; /* head: the one being carved */
	unsigned next_slab_n;
	uintptr_t *free; /* lo of each free stack, | 1 if it has no guard;
			  * the top nwarm entries are warm */
	size_t nfree, cap, nwarm;
	size_t low; /* the fewest free since the period began */
};

static _Atomic int guard_mode = STACK_GUARD_AUTO;
static atomic_bool guard_warned;

static size_t page_size(void)
{
	static size_t page;

	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

size_t stack_round(size_t size)
{
	size_t page = page_size();

	if (size < STACK_MIN)
		size = STACK_MIN;
	return (size + page - 1) & ~(page - 1);
}

size_t stack_default_size(void)
{
	struct rlimit rl;
	size_t size = STACK_UNLIMITED_DEFAULT;

	/* glibc sizes new threads by RLIMIT_STACK (2 MiB when unlimited); we
	 * cap it at 8 MiB as larger soft limits are rare and mean "big main". */
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		size = rl.rlim_cur < STACK_DEFAULT_CAP ? (size_t)rl.rlim_cur : STACK_DEFAULT_CAP;
	return stack_round(size);
}

/* Settles AUTO by asking the kernel for a guard marker on a scratch page. */
static void guard_probe(void)
{
	size_t page = page_size();
	void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int expected = STACK_GUARD_AUTO;

	if (p == MAP_FAILED)
		return;
	atomic_compare_exchange_strong(&guard_mode, &expected,
				       madvise(p, page, MADV_GUARD_INSTALL) == 0 ? STACK_GUARD_MADVISE
										  : STACK_GUARD_MPROTECT);
	munmap(p, 2 * page);
}

enum stack_guard_mode stack_guard_mode(enum stack_guard_mode want)
{
	if (want != STACK_GUARD_AUTO)
		atomic_store(&guard_mode, want);
	else if (atomic_load(&guard_mode) == STACK_GUARD_AUTO)
		guard_probe();
	return atomic_load(&guard_mode);
}

static void guard_warn_once(void)
{
	static const char msg[] =
		"greenshim: the kernel refused another guard page (vm.max_map_count); "
		"further green stacks have none, so an overflow goes undetected\n";

	if (!atomic_exchange(&guard_warned, true))
		sys_write(STDERR_FILENO, msg, sizeof msg - 1);
}

/* Returns the guard size in force for a stack whose guard is [g, g+len). */
static size_t guard_install(char *g, size_t len)
{
	int mode = atomic_load(&guard_mode);

	if (mode != STACK_GUARD_MPROTECT) {
		if (madvise(g, len, MADV_GUARD_INSTALL) == 0) {
			if (mode == STACK_GUARD_AUTO)
				atomic_store(&guard_mode, STACK_GUARD_MADVISE);
			return len;
		}
		if (mode == STACK_GUARD_MADVISE && errno != EINVAL) {
			guard_warn_once();
			return 0;
		}
		atomic_store(&guard_mode, STACK_GUARD_MPROTECT);
	}
	if (mprotect(g, len, PROT_NONE) == 0)
		return len;
	guard_warn_once();
	return 0;
}

static struct stack_class *class_find(struct stack_pool *p, size_t size)
{
	struct stack_class *c;

	for (size_t i = 0; i < p->nclasses; i++)
		if (p->classes[i].size == size)
			return &p->classes[i];
	c = gs_realloc(p->classes, (p->nclasses + 1) * sizeof *c);
	if (c == NULL)
		return NULL;
	p->classes = c;
	c = &p->classes[p->nclasses++];
	memset(c, 0, sizeof *c);
	c->size = size;
	c->next_slab_n = STACK_SLAB_FIRST;
	return c;
}

static int slab_new(struct stack_class *c)
{
	size_t stride = STACK_GUARD_SIZE + c->size;
	unsigned n = c->next_slab_n;
	struct stack_slab *s = gs_calloc(1, sizeof *s);
	void *base;

	if (s == NULL)
		return -ENOMEM;
	base = mmap(NULL, n * stride, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED) {
		gs_free(s);
		return -EAGAIN; /* what pthread_create says when out of memory */
	}
	s->base = base;
	s->len = n * stride;
	s->n = n;
	s->next = c->slabs;
	c->slabs = s;
	if (c->next_slab_n < STACK_SLAB_MAX)
		c->next_slab_n *= 2;
	return 0;
}

/* A stack of a gigabyte or more: would the kernel commit it as glibc maps
 * one (private, writable, charged), where ours come from slabs that are
 * not charged (MAP_NORESERVE)? Natively a thread with a stack larger than
 * the memory and swap together fails with EAGAIN (the kernel's heuristic
 * overcommit refuses it); until 2026-12-07 a green one got it (a helper's
 * 64 GiB stacks in C, Rust, Ada, Ruby and Java on a 24 GiB machine). */
#define STACK_COMMIT_PROBE ((size_t)1 << 30)

static bool stack_committable(size_t size)
{
	void *q;

	if (size < STACK_COMMIT_PROBE)
		return true;
	q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (q == MAP_FAILED)
		return false;
	munmap(q, size);
	return true;
}

int stack_get(struct stack_pool *p, size_t size, struct stack *out)
{
	struct stack_class *c = class_find(p, stack_round(size));
	struct stack_slab *s;
	char *g;

	if (c == NULL || !stack_committable(size))
		return -EAGAIN;
	if (c->nfree > 0) {
		uintptr_t f = c->free[--c->nfree];

		if (c->nwarm > 0)
			c->nwarm--;
		if (c->nfree < c->low)
			c->low = c->nfree;
		out->lo = (char *)(f & ~(uintptr_t)1);
		out->hi = out->lo + c->size;
		out->guard = (f & 1) ? 0 : STACK_GUARD_SIZE;
		VALGRIND_MAKE_MEM_UNDEFINED(out->lo, c->size);
		stack_adopt(out);
		return 0;
	}
	s = c->slabs;
	if (s == NULL || s->used == s->n) {
		int r = slab_new(c);

		if (r < 0)
			return r;
		s = c->slabs;
	}
	g = s->base + (size_t)s->used++ * (STACK_GUARD_SIZE + c->size);
	out->guard = (unsigned)guard_install(g, STACK_GUARD_SIZE);
	out->lo = g + STACK_GUARD_SIZE;
	out->hi = out->lo + c->size;
	stack_adopt(out);
	return 0;
}

void stack_put(struct stack_pool *p, const struct stack *st)
{
	struct stack_class *c = class_find(p, (size_t)(st->hi - st->lo));

	if (c == NULL)
		return; /* cannot happen: the class exists since stack_get */
	stack_disown(st);
	VALGRIND_MAKE_MEM_NOACCESS(st->lo, c->size);
	if (c->nfree == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		uintptr_t *f = gs_realloc(c->free, cap * sizeof *f);

		if (f == NULL) {
			/* Keep the address space, lose only the reuse. */
			madvise(st->lo, c->size, MADV_DONTNEED);
			return;
		}
		c->free = f;
		c->cap = cap;
	}
	c->free[c->nfree++] = (uintptr_t)st->lo | (st->guard == 0);
	c->nwarm++;
}

bool stack_pool_excess(const struct stack_pool *p)
{
	for (size_t i = 0; i < p->nclasses; i++)
		if (p->classes[i].nwarm > STACK_WARM_MAX)
			return true;
	return false;
}

void stack_pool_period(struct stack_pool *p)
{
	for (size_t i = 0; i < p->nclasses; i++)
		p->classes[i].low = p->classes[i].nfree;
}

bool stack_pool_decay(struct stack_pool *p)
{
	for (size_t i = 0; i < p->nclasses; i++) {
		struct stack_class *c = &p->classes[i];
		/* Warm: those taken in the period, and the most recent. */
		size_t keep = c->nfree - c->low > STACK_WARM_MAX ? c->nfree - c->low : STACK_WARM_MAX;

		for (; c->nwarm > keep; c->nwarm--) {
			uintptr_t cold = c->free[c->nfree - c->nwarm] & ~(uintptr_t)1;

			madvise((void *)cold, c->size, MADV_DONTNEED);
		}
	}
	stack_pool_period(p);
	return stack_pool_excess(p);
}

void stack_adopt(struct stack *st)
{
	st->vg_id = VALGRIND_STACK_REGISTER(st->lo, st->hi - 1);
}

void stack_disown(const struct stack *st)
{
	VALGRIND_STACK_DEREGISTER(st->vg_id);
}

void stack_pool_destroy(struct stack_pool *p)
{
	for (size_t i = 0; i < p->nclasses; i++) {
		struct stack_class *c = &p->classes[i];
		struct stack_slab *s, *next;

		for (s = c->slabs; s != NULL; s = next) {
			next = s->next;
			munmap(s->base, s->len);
			gs_free(s);
		}
		gs_free(c->free);
	}
	gs_free(p->classes);
	p->classes = NULL;
	p->nclasses = 0;
}
