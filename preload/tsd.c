/*
 * Thread-specific data: pthread_key_* per green thread.
 *
 * What it owns: the process's key table (PTHREAD_KEYS_MAX slots, each with
 * a sequence number and a destructor) and, per green thread, the values it
 * set (struct green's user pointer: an array grown to the highest key it
 * used). A value counts only while its sequence number matches the key's,
 * so a deleted and re-created key reads as NULL everywhere, as POSIX asks,
 * without visiting every thread.
 *
 * The runtime's own OS threads (the pool's, which run the program's NSS
 * lookups) have values of their own in the same keys, per OS thread.
 *
 * When a green thread ends, the destructors run on its own stack in the
 * POSIX order: each key with a destructor and a non-NULL value has its
 * value set to NULL and the destructor called with the old value, for up
 * to PTHREAD_DESTRUCTOR_ITERATIONS rounds while destructors set new ones.
 *
 * __thread and thread_local variables stay per OS thread: the compiler
 * reaches them with no call greenshim could see (docs/LIMITATIONS.md).
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include "preload.h"

struct key_slot {
	uint64_t seq; /* odd: in use */
	void (*dtor)(void *);
};

struct tsd_value {
	uint64_t seq;
	void *value;
};

struct tsd {
	size_t n;
	struct tsd_value v[];
};

static struct key_slot keys[PTHREAD_KEYS_MAX];

/* The value tables come from glibc's own allocator (gs_realloc), never
 * the program's malloc: a malloc of the program's own (jemalloc) sets a
 * key from inside malloc, and a table grown with that malloc would set it
 * again from inside the growing, for ever. glibc keeps its first 32
 * values in the thread itself for the same reason. */


/* glibc's keys serve only GREENSHIM_THREADS=native. The runtime's own OS
 * threads use this table too: a pool thread runs the program's NSS
 * lookups, whose allocations reach the program's malloc, and jemalloc
 * sets its key there (glibc's table knows none of these keys: "Error
 * setting tsd", seen with BIND's named). */
static inline bool tsd_native(void)
{
	config_load(); /* a wrapper may run before our constructor */
	return gs_config.native_threads;
}

GS_WRAP int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
	if (tsd_native())
		return REAL(pthread_key_create)(key, dtor);
	for (unsigned k = 0; k < PTHREAD_KEYS_MAX; k++) {
		uint64_t seq = __atomic_load_n(&keys[k].seq, __ATOMIC_ACQUIRE);

		if ((seq & 1) == 0 &&
		    __atomic_compare_exchange_n(&keys[k].seq, &seq, seq + 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			keys[k].dtor = dtor;
			*key = k;
			return 0;
		}
	}
	return EAGAIN;
}

GS_WRAP int pthread_key_delete(pthread_key_t key)
{
	if (tsd_native())
		return REAL(pthread_key_delete)(key);
	uint64_t seq;

	if (key >= PTHREAD_KEYS_MAX)
		return EINVAL;
	seq = __atomic_load_n(&keys[key].seq, __ATOMIC_ACQUIRE);
	if ((seq & 1) == 0 ||
	    !__atomic_compare_exchange_n(&keys[key].seq, &seq, seq + 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return EINVAL;
	return 0;
}

/* Values set while the OS thread's hub is being made (a program's own
 * malloc, jemalloc, sets its key from the allocations that make it): the
 * caller then is the thread that becomes the hub's root green, which
 * takes them over. */
static __thread struct tsd *tls_prehub __attribute__((tls_model("initial-exec")));

/* Values of the runtime's own OS threads, which have no green thread (nor
 * may make a hub to have one): per OS thread. Their destructors run when
 * the OS thread ends, called by glibc for runtime_key, one key of its own
 * whose value is set with the first of ours. */
static __thread struct tsd *tls_runtime __attribute__((tls_model("initial-exec")));
static pthread_key_t runtime_key;
static pthread_once_t runtime_key_once = PTHREAD_ONCE_INIT;
static bool runtime_key_made;

static void run_destructors(struct tsd **home);

static void runtime_exit(void *unused)
{
	(void)unused;
	run_destructors(&tls_runtime);
}

static void runtime_key_make(void)
{
	runtime_key_made = REAL(pthread_key_create)(&runtime_key, runtime_exit) == 0;
}

/* The first value of a runtime OS thread: glibc is to call runtime_exit
 * when the thread ends. */
static void runtime_first_value(struct tsd *t)
{
	REAL(pthread_once)(&runtime_key_once, runtime_key_make);
	if (runtime_key_made)
		REAL(pthread_setspecific)(runtime_key, t);
}

/* Where the caller's values live: its green thread's, the pre-hub ones
 * when it has none yet, or the runtime OS thread's. */
static struct tsd **tsd_home(void)
{
	struct green *g;

	if (GS_UNLIKELY(osthread_is_runtime()))
		return &tls_runtime;
	g = green_self();
	if (g == NULL)
		return &tls_prehub;
	if (GS_UNLIKELY(tls_prehub != NULL) && (g->flags & GREEN_ROOT) && g->user == NULL) {
		g->user = tls_prehub;
		tls_prehub = NULL;
	}
	return (struct tsd **)&g->user;
}

static struct tsd *tsd_of(void)
{
	return *tsd_home();
}

GS_WRAP void *pthread_getspecific(pthread_key_t key)
{
	if (tsd_native())
		return REAL(pthread_getspecific)(key);
	struct tsd *t = tsd_of();

	if (t == NULL || key >= t->n || t->v[key].seq != keys[key].seq)
		return NULL;
	return t->v[key].value;
}

GS_WRAP int pthread_setspecific(pthread_key_t key, const void *value)
{
	if (tsd_native())
		return REAL(pthread_setspecific)(key, value);
	struct tsd **home, *t;

	if (key >= PTHREAD_KEYS_MAX || (keys[key].seq & 1) == 0)
		return EINVAL;
	home = tsd_home();
	t = *home;
	if (t == NULL || key >= t->n) {
		size_t old = t == NULL ? 0 : t->n, n = old == 0 ? 8 : old;
		struct tsd *grown;

		while (n <= key)
			n *= 2;
		grown = gs_realloc(t, sizeof *t + n * sizeof t->v[0]);
		if (grown == NULL)
			return ENOMEM;
		for (size_t i = old; i < n; i++)
			grown->v[i] = (struct tsd_value){ 0, NULL };
		grown->n = n;
		*home = t = grown;
		if (old == 0 && home == &tls_runtime)
			runtime_first_value(grown);
	}
	t->v[key].seq = keys[key].seq;
	t->v[key].value = (void *)value;
	return 0;
}

void tsd_thread_exit(struct green *g)
{
	run_destructors((struct tsd **)&g->user);
}

/* POSIX's order: each key with a destructor and a non-NULL value has its
 * value set to NULL and the destructor called with the old one, for up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds while destructors set new ones. */
static void run_destructors(struct tsd **home)
{
	struct tsd *t = *home;

	for (int round = 0; t != NULL && round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		bool called = false;

		for (size_t k = 0; k < t->n; k++) {
			void *v = t->v[k].value;
			void (*dtor)(void *) = keys[k].dtor;

			if (v == NULL || t->v[k].seq != keys[k].seq || dtor == NULL)
				continue;
			t->v[k].value = NULL;
			dtor(v);
			called = true;
			t = *home; /* a destructor may have grown it */
		}
		if (!called)
			break;
	}
	gs_free(*home);
	*home = NULL;
}
