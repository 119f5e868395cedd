/*
 * C11 threads (<threads.h>): glibc 2.34+ implements them on its internal
 * pthread functions, past our wrappers, so each is interposed here and
 * mapped onto the green pthread calls, with C11's return codes.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

#include "preload.h"

static int c11_code(int err)
{
	switch (err) {
	case 0:
		return thrd_success;
	case EBUSY:
		return thrd_busy;
	case ETIMEDOUT:
		return thrd_timedout;
	case ENOMEM:
	case EAGAIN:
		return thrd_nomem;
	default:
		return thrd_error;
	}
}

struct c11_start {
	thrd_start_t fn;
	void *arg;
};

static void *c11_trampoline(void *p)
{
	struct c11_start s = *(struct c11_start *)p;

	gs_free(p);
	return (void *)(intptr_t)s.fn(s.arg);
}

GS_WRAP int thrd_create(thrd_t *t, thrd_start_t fn, void *arg)
{
	struct c11_start *s = gs_malloc(sizeof *s);
	int r;

	if (s == NULL)
		return thrd_nomem;
	s->fn = fn;
	s->arg = arg;
	r = pthread_create(t, NULL, c11_trampoline, s);
	if (r != 0)
		gs_free(s);
	return c11_code(r);
}

GS_WRAP int thrd_join(thrd_t t, int *res)
{
	void *ret;
	int r = pthread_join(t, &ret);

	if (r == 0 && res != NULL)
		*res = (int)(intptr_t)ret;
	return c11_code(r);
}

GS_WRAP int thrd_detach(thrd_t t)
{
	return c11_code(pthread_detach(t));
}

GS_WRAP thrd_t thrd_current(void)
{
	return pthread_self();
}

GS_WRAP int thrd_equal(thrd_t a, thrd_t b)
{
	return a == b;
}

GS_WRAP void thrd_exit(int res)
{
	pthread_exit((void *)(intptr_t)res);
}

GS_WRAP void thrd_yield(void)
{
	sched_yield();
}

GS_WRAP int thrd_sleep(const struct timespec *req, struct timespec *rem)
{
	/* 0, -1 when interrupted by a signal, another negative on error. */
	if (nanosleep(req, rem) == 0)
		return 0;
	return errno == EINTR ? -1 : -2;
}

GS_WRAP int mtx_init(mtx_t *m, int type)
{
	pthread_mutexattr_t a;
	int r;

	if (type != mtx_plain && type != mtx_timed && type != (mtx_plain | mtx_recursive) &&
	    type != (mtx_timed | mtx_recursive))
		return thrd_error;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE
							    : PTHREAD_MUTEX_NORMAL);
	r = pthread_mutex_init((pthread_mutex_t *)m, &a);
	pthread_mutexattr_destroy(&a);
	return c11_code(r);
}

GS_WRAP void mtx_destroy(mtx_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

GS_WRAP int mtx_lock(mtx_t *m)
{
	return c11_code(pthread_mutex_lock((pthread_mutex_t *)m));
}

GS_WRAP int mtx_trylock(mtx_t *m)
{
	return c11_code(pthread_mutex_trylock((pthread_mutex_t *)m));
}

GS_WRAP int mtx_timedlock(mtx_t *m, const struct timespec *abstime)
{
	return c11_code(pthread_mutex_timedlock((pthread_mutex_t *)m, abstime));
}

GS_WRAP int mtx_unlock(mtx_t *m)
{
	return c11_code(pthread_mutex_unlock((pthread_mutex_t *)m));
}

GS_WRAP int cnd_init(cnd_t *c)
{
	return c11_code(pthread_cond_init((pthread_cond_t *)c, NULL));
}

GS_WRAP void cnd_destroy(cnd_t *c)
{
	pthread_cond_destroy((pthread_cond_t *)c);
}

GS_WRAP int cnd_wait(cnd_t *c, mtx_t *m)
{
	return c11_code(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

GS_WRAP int cnd_timedwait(cnd_t *c, mtx_t *m, const struct timespec *abstime)
{
	return c11_code(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, abstime));
}

GS_WRAP int cnd_signal(cnd_t *c)
{
	return c11_code(pthread_cond_signal((pthread_cond_t *)c));
}

GS_WRAP int cnd_broadcast(cnd_t *c)
{
	return c11_code(pthread_cond_broadcast((pthread_cond_t *)c));
}

GS_WRAP int tss_create(tss_t *key, tss_dtor_t dtor)
{
	return c11_code(pthread_key_create(key, dtor));
}

GS_WRAP void tss_delete(tss_t key)
{
	pthread_key_delete(key);
}

GS_WRAP void *tss_get(tss_t key)
{
	return pthread_getspecific(key);
}

GS_WRAP int tss_set(tss_t key, void *value)
{
	return c11_code(pthread_setspecific(key, value));
}

GS_WRAP void call_once(once_flag *flag, void (*fn)(void))
{
	pthread_once((pthread_once_t *)flag, fn);
}
