/*
 * The runtime's own memory: glibc's allocator, whatever malloc the program
 * brings (runtime.h says why).
 *
 * glibc's __libc_malloc family is no way to it: an allocator that replaces
 * malloc may define those names too (tcmalloc does, to catch glibc's own
 * calls), and then they are its. dlsym cannot name libc's own either: a
 * link map of the initial libraries is no dlsym handle, and dlopen of
 * libc.so.6 to get one allocates, with the program's malloc, from inside
 * that malloc's start (tcmalloc's InitModule holds its lock while it calls
 * pthread_once, whose wrapper makes the hub, which allocates). So the four
 * functions are found in libc's own dynamic symbol table, through its GNU
 * hash table, as the loader does: no allocation, no lock but
 * dl_iterate_phdr's. Resolved on first use, by whichever thread; the
 * lookups are idempotent.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#include <link.h> /* after runtime.h: <elf.h> and ev.h both name EV_NONE */

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
} libc_mem;

/* libc's dynamic symbol table, as dl_iterate_phdr shows it. */
struct dynsyms {
	ElfW(Addr) base;
	const ElfW(Sym) *sym;
	const char *str;
	const uint32_t *gnu_hash;
};

static uint32_t gnu_hash(const char *name)
{
	uint32_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = h * 33 + *p;
	return h;
}

/* The address of the function name defines, or NULL (the GNU hash
 * table's lookup: bloom filter, bucket, then the chain). */
static void *dynsym_lookup(const struct dynsyms *d, const char *name)
{
	uint32_t nbuckets = d->gnu_hash[0], symoffset = d->gnu_hash[1];
	uint32_t bloom_size = d->gnu_hash[2], bloom_shift = d->gnu_hash[3];
	const ElfW(Addr) *bloom = (const ElfW(Addr) *)(const void *)&d->gnu_hash[4];
	const uint32_t *buckets = (const uint32_t *)(const void *)&bloom[bloom_size];
	const uint32_t *chain = &buckets[nbuckets];
	uint32_t h = gnu_hash(name), i;
	ElfW(Addr) word = bloom[(h / __ELF_NATIVE_CLASS) % bloom_size];
	ElfW(Addr) mask = ((ElfW(Addr))1 << (h % __ELF_NATIVE_CLASS)) |
			  ((ElfW(Addr))1 << ((h >> bloom_shift) % __ELF_NATIVE_CLASS));

	if ((word & mask) != mask || (i = buckets[h % nbuckets]) < symoffset)
		return NULL;
	for (;; i++) {
		const ElfW(Sym) *s = &d->sym[i];

		if ((chain[i - symoffset] | 1) == (h | 1) && s->st_shndx != SHN_UNDEF &&
		    ELF64_ST_TYPE(s->st_info) == STT_FUNC && strcmp(d->str + s->st_name, name) == 0)
			return (void *)(d->base + s->st_value);
		if (chain[i - symoffset] & 1)
			return NULL;
	}
}

static ElfW(Addr) dyn_ptr(ElfW(Addr) base, ElfW(Addr) p)
{
	/* The loader relocates these in place on x86-64; be sure anyway. */
	return p < base ? base + p : p;
}

static int find_libc_dynsyms(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct dynsyms *d = arg;

	(void)size;
	if (strstr(info->dlpi_name, "/libc.so") == NULL)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
			continue;
		for (const ElfW(Dyn) *dyn = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
		     dyn->d_tag != DT_NULL; dyn++) {
			if (dyn->d_tag == DT_SYMTAB)
				d->sym = (const void *)dyn_ptr(info->dlpi_addr, dyn->d_un.d_ptr);
			else if (dyn->d_tag == DT_STRTAB)
				d->str = (const void *)dyn_ptr(info->dlpi_addr, dyn->d_un.d_ptr);
			else if (dyn->d_tag == DT_GNU_HASH)
				d->gnu_hash = (const void *)dyn_ptr(info->dlpi_addr, dyn->d_un.d_ptr);
		}
		d->base = info->dlpi_addr;
		return 1;
	}
	return 0;
}

static void mem_resolve(void)
{
	struct dynsyms d = { 0 };
	void *m = NULL, *c = NULL, *r = NULL, *f = NULL;

	if (dl_iterate_phdr(find_libc_dynsyms, &d) != 0 && d.sym != NULL && d.str != NULL &&
	    d.gnu_hash != NULL) {
		m = dynsym_lookup(&d, "malloc");
		c = dynsym_lookup(&d, "calloc");
		r = dynsym_lookup(&d, "realloc");
		f = dynsym_lookup(&d, "free");
	}
	if (m == NULL || c == NULL || r == NULL || f == NULL) {
		/* Not glibc's layout: its exported internal names. */
		m = (void *)__libc_malloc;
		c = (void *)__libc_calloc;
		r = (void *)__libc_realloc;
		f = (void *)__libc_free;
	}
	__atomic_store_n(&libc_mem.calloc, (void *(*)(size_t, size_t))c, __ATOMIC_RELAXED);
	__atomic_store_n(&libc_mem.realloc, (void *(*)(void *, size_t))r, __ATOMIC_RELAXED);
	__atomic_store_n(&libc_mem.free, (void (*)(void *))f, __ATOMIC_RELAXED);
	__atomic_store_n(&libc_mem.malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
}

static inline void mem_ready(void)
{
	if (GS_UNLIKELY(__atomic_load_n(&libc_mem.malloc, __ATOMIC_ACQUIRE) == NULL))
		mem_resolve();
}

bool gs_mem_keep;

#ifdef GS_TSAN
/* ThreadSanitizer must see the runtime's memory come and go through its
 * own allocator (the malloc it interposes), or a block that one OS thread
 * frees and another gets again looks like a race between the two (a hub's
 * kill message, then the stack pool's free list, in tests/unit's
 * crosshub suite). Its builds link no allocator of a program's. */
void *gs_malloc(size_t n)
{
	return malloc(n);
}

void *gs_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

void *gs_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

void gs_free(void *p)
{
	if (!gs_mem_keep)
		free(p);
}
#else
void *gs_malloc(size_t n)
{
	mem_ready();
	return libc_mem.malloc(n);
}

void *gs_calloc(size_t n, size_t size)
{
	mem_ready();
	return libc_mem.calloc(n, size);
}

void *gs_realloc(void *p, size_t n)
{
	mem_ready();
	return libc_mem.realloc(p, n);
}

void gs_free(void *p)
{
	if (gs_mem_keep)
		return;
	mem_ready();
	libc_mem.free(p);
}
#endif

char *gs_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = gs_malloc(n);

	return d != NULL ? memcpy(d, s, n) : NULL;
}
