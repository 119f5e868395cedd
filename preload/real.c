/*
 * The real libc functions behind every wrapper, found once with
 * dlsym(RTLD_NEXT) from one table (PRELOAD_REAL_FUNCS in preload.h).
 *
 * A wrapper can run before our constructor (another library's constructor,
 * or the dynamic loader's own start) and on any OS thread: each goes
 * through REAL(), which resolves the whole table on first use. Resolution
 * is idempotent, so two threads racing through it store the same pointers.
 * A dlvsym that finds no such version allocates its error message, and a
 * program's own malloc (jemalloc: redis-server) can call a wrapper
 * (syscall, pthread_mutex_lock) from there: so every slot is filled by
 * dlsym, which finds them all and allocates nothing, before the first
 * dlvsym, and such a nested REAL() finds its function.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"
#include "../src/sys.h"

struct real_fns real;

struct real_entry {
	const char *name;
	void **slot;
};

static const struct real_entry real_table[] = {
#define PRELOAD_REAL_ENTRY(name, ret, args) { #name, (void **)&real.name },
	PRELOAD_REAL_FUNCS(PRELOAD_REAL_ENTRY)
#undef PRELOAD_REAL_ENTRY
};

void preload_resolve(void)
{
	for (size_t i = 0; i < sizeof real_table / sizeof real_table[0]; i++) {
		void *p = dlsym(RTLD_NEXT, real_table[i].name);

		if (p == NULL) {
			/* Every symbol of the table is in glibc 2.36: a libc
			 * without one cannot run us correctly. */
			char line[160];
			int n = snprintf(line, sizeof line,
					 "greenshim: libc has no %s; cannot interpose it\n",
					 real_table[i].name);

			sys_write(STDERR_FILENO, line, (size_t)n);
			_exit(127);
		}
		__atomic_store_n(real_table[i].slot, p, __ATOMIC_RELEASE);
	}
	/* These pthread_cond_* exist in two incompatible versions; the
	 * current one is GLIBC_2.3.2 (older dlsym gave the oldest). Only
	 * versions that exist are asked for: a dlvsym that fails formats its
	 * message with malloc, which may be a program's allocator in the
	 * middle of its own start (jemalloc: redis-server).
	 * pthread_cond_clockwait came later, in one version only. */
	static const char *const cond_2_3_2[] = { "pthread_cond_init",   "pthread_cond_destroy",
						  "pthread_cond_wait",   "pthread_cond_timedwait",
						  "pthread_cond_signal", "pthread_cond_broadcast" };

	for (size_t i = 0; i < sizeof real_table / sizeof real_table[0]; i++) {
		for (size_t k = 0; k < sizeof cond_2_3_2 / sizeof cond_2_3_2[0]; k++) {
			if (strcmp(real_table[i].name, cond_2_3_2[k]) == 0) {
				void *v = dlvsym(RTLD_NEXT, real_table[i].name, "GLIBC_2.3.2");

				if (v != NULL)
					__atomic_store_n(real_table[i].slot, v, __ATOMIC_RELEASE);
			}
		}
	}
	/* The runtime's own threads use libc's primitives, never ours. */
	osthread_set_ops(&(struct os_ops){
		.create = real.pthread_create,
		.detach = real.pthread_detach,
		.join = real.pthread_join,
		.mutex_lock = real.pthread_mutex_lock,
		.mutex_unlock = real.pthread_mutex_unlock,
		.cond_clockwait = real.pthread_cond_clockwait,
		.cond_signal = real.pthread_cond_signal,
		.cond_broadcast = real.pthread_cond_broadcast,
		.thread_sigmask = real.pthread_sigmask,
	});
}
