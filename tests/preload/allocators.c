/*
 * Sixteen threads allocate, fill, check and free blocks of 16 bytes to
 * 64 KiB, passing some to each other, with whatever malloc the program is
 * linked with (the tests build it against jemalloc, tcmalloc and
 * mimalloc). Prints "ok" and exits 0 when every block held what its
 * writer put there. Each thread also looks up a user first (getpwnam_r),
 * whose allocations inside glibc reach that malloc too: nothing else may
 * be printed (jemalloc writes "Error setting tsd" if it cannot set its
 * thread-specific key).
 */
#include <pwd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 16
#define ROUNDS 2000
#define SLOTS 64

static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *swap_block;
static size_t swap_size;
static unsigned swap_tag;
static int failures;

static void fill(unsigned char *p, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(tag + i * 7);
}

static int intact(const unsigned char *p, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(tag + i * 7))
			return 0;
	return 1;
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
	unsigned char *block[SLOTS] = { 0 };
	size_t size[SLOTS] = { 0 };
	unsigned tag[SLOTS] = { 0 };
	int bad = 0;
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwnam_r("root", &pw, buf, sizeof buf, &found) != 0 || found == NULL || pw.pw_uid != 0)
		return (void *)1;
	for (int r = 0; r < ROUNDS; r++) {
		int k = (int)(rand_r(&seed) % SLOTS);

		if (block[k] != NULL) {
			bad += !intact(block[k], size[k], tag[k]);
			free(block[k]);
		}
		size[k] = (size_t)16 << (rand_r(&seed) % 13); /* 16 B .. 64 KiB */
		tag[k] = rand_r(&seed);
		block[k] = malloc(size[k]);
		if (block[k] == NULL)
			return (void *)1;
		fill(block[k], size[k], tag[k]);
		if (r % 50 == 0) {
			/* Hand a block to whichever thread comes next. */
			unsigned char *other;
			size_t osize;
			unsigned otag;

			pthread_mutex_lock(&swap_lock);
			other = swap_block;
			osize = swap_size;
			otag = swap_tag;
			swap_block = block[k];
			swap_size = size[k];
			swap_tag = tag[k];
			pthread_mutex_unlock(&swap_lock);
			block[k] = other;
			size[k] = osize;
			tag[k] = otag;
		}
		if (r % 200 == 0)
			usleep(100);
	}
	for (int k = 0; k < SLOTS; k++) {
		if (block[k] != NULL) {
			bad += !intact(block[k], size[k], tag[k]);
			free(block[k]);
		}
	}
	return (void *)(intptr_t)bad;
}

int main(void)
{
	pthread_t t[THREADS];

	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
			return 2;
	for (int i = 0; i < THREADS; i++) {
		void *r;

		pthread_join(t[i], &r);
		failures += (int)(intptr_t)r;
	}
	if (swap_block != NULL)
		failures += !intact(swap_block, swap_size, swap_tag);
	free(swap_block);
	if (failures == 0)
		printf("ok\n");
	else
		printf("%d blocks damaged\n", failures);
	return failures != 0;
}
