/*
 * An ordinary program (never linked to greenshim) that asks for threads
 * with huge stacks: 1 GiB (natively made: untouched pages cost nothing),
 * and 64 GiB and 1 TiB, which natively fail with EAGAIN where the kernel's
 * heuristic overcommit refuses a mapping larger than memory and swap
 * together. The output must be the native one.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void *touch(void *arg)
{
	char deep[4096];

	memset(deep, 1, sizeof deep);
	__asm__ volatile("" : : "r"(deep) : "memory");
	return arg;
}

int main(void)
{
	static const unsigned long gib[] = { 1, 64, 1024 };

	for (size_t i = 0; i < sizeof gib / sizeof gib[0]; i++) {
		pthread_attr_t a;
		pthread_t t;
		int r;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, gib[i] << 30);
		r = pthread_create(&t, &a, touch, NULL);
		printf("stack of %lu GiB: %s\n", gib[i], r == 0 ? "made" : strerror(r));
		if (r == 0)
			pthread_join(t, NULL);
		pthread_attr_destroy(&a);
	}
	return 0;
}
