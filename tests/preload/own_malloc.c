/* A program with a malloc of its own, made the way jemalloc makes one
 * (redis-server links jemalloc): its lock is a pthread mutex set up with
 * pthread_mutex_init on first use, each thread's allocation count lives
 * under a pthread key set on the thread's first allocation, and it asks
 * the kernel for the caller's thread id with syscall(). Everything the
 * process allocates, the dynamic loader's error messages included, comes
 * from here. Threads allocate, write and check their blocks. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "case.h"

#define ARENA_SIZE (64u << 20)
#define ALIGN 64u

static char arena[ARENA_SIZE] __attribute__((aligned(ALIGN)));
static size_t used;
static int ready;
static pthread_mutex_t lock;
static pthread_key_t count_key;
static long allocations;

struct header {
	size_t size;
	char pad[ALIGN - sizeof(size_t)];
};

static void *arena_alloc(size_t size, size_t align)
{
	struct header *h;
	size_t start;
	void *p = NULL;
	uintptr_t n;

	if (align < ALIGN)
		align = ALIGN;
	if (!ready) { /* first use, as jemalloc's malloc_init */
		pthread_mutex_init(&lock, NULL);
		pthread_key_create(&count_key, NULL);
		ready = 1;
	}
	syscall(SYS_gettid);
	pthread_mutex_lock(&lock);
	start = (used + sizeof *h + align - 1) / align * align;
	if (start + size <= ARENA_SIZE) {
		p = arena + start;
		used = start + size;
		allocations++;
	}
	pthread_mutex_unlock(&lock);
	if (p == NULL)
		return NULL;
	h = (struct header *)p - 1;
	h->size = size;
	n = (uintptr_t)pthread_getspecific(count_key);
	pthread_setspecific(count_key, (void *)(n + 1));
	return p;
}

void *malloc(size_t size)
{
	return arena_alloc(size, ALIGN);
}

void free(void *p)
{
	(void)p; /* a bump allocator: memory is never reused */
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	p = malloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *p;

	if (old == NULL)
		return malloc(size);
	p = malloc(size);
	if (p != NULL) {
		size_t was = ((struct header *)old - 1)->size;

		memcpy(p, old, was < size ? was : size);
	}
	return p;
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = arena_alloc(size, align);

	if (p == NULL)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
	return arena_alloc(size, align);
}

void *memalign(size_t align, size_t size)
{
	return arena_alloc(size, align);
}

size_t malloc_usable_size(void *p)
{
	return p == NULL ? 0 : ((struct header *)p - 1)->size;
}

#define THREADS 4
#define BLOCKS 500

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned char *blocks[BLOCKS];

	for (int i = 0; i < BLOCKS; i++) {
		blocks[i] = malloc(100 + i);
		CHECK(blocks[i] != NULL, "malloc failed");
		memset(blocks[i], id * 31 + i, 100 + i);
		if (i % 50 == 0)
			sched_yield();
	}
	for (int i = 0; i < BLOCKS; i++)
		for (int j = 0; j < 100 + i; j++)
			CHECK(blocks[i][j] == (unsigned char)(id * 31 + i),
			      "thread %d block %d byte %d overwritten", id, i, j);
	CHECK((uintptr_t)pthread_getspecific(count_key) == BLOCKS,
	      "thread %d counted %lu allocations of its own", id,
	      (unsigned long)(uintptr_t)pthread_getspecific(count_key));
	return NULL;
}

static void threads_allocate(void)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)(i + 1)) == 0,
		      "pthread_create");
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
	CHECK(allocations >= THREADS * BLOCKS, "only %ld allocations", allocations);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "threads_allocate", threads_allocate },
	};

	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
