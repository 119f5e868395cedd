/*
 * The public API (greenshim.h): thin, checked wrappers over green.c.
 * struct gs_thread is struct green under another name.
 */
#include "greenshim.h"
#include "runtime.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static struct green *G(struct gs_thread *t)
{
	return (struct green *)(void *)t;
}

GS_API const char *gs_version(void)
{
	return STR(GREENSHIM_VERSION_MAJOR) "." STR(GREENSHIM_VERSION_MINOR) "." STR(
		GREENSHIM_VERSION_PATCH);
}

GS_API int gs_spawn(struct gs_thread **thread, void *(*fn)(void *), void *arg, size_t stack_size)
{
	struct green_attr a = { .stack_size = stack_size, .here = true };
	struct green *g;
	int r;

	if (fn == NULL)
		return -EINVAL;
	r = green_spawn(&a, fn, arg, &g);
	if (r == 0 && thread != NULL)
		*thread = (struct gs_thread *)(void *)g;
	return r;
}

GS_API int gs_join(struct gs_thread *thread, void **retval)
{
	if (thread == NULL)
		return -EINVAL;
	return green_join(G(thread), retval, GS_NO_DEADLINE);
}

GS_API int gs_detach(struct gs_thread *thread)
{
	if (thread == NULL)
		return -EINVAL;
	return green_detach(G(thread));
}

GS_API void gs_exit(void *retval)
{
	green_exit(retval);
}

GS_API struct gs_thread *gs_self(void)
{
	return (struct gs_thread *)(void *)green_self();
}

GS_API uint64_t gs_thread_id(const struct gs_thread *thread)
{
	return ((const struct green *)(const void *)thread)->id;
}

GS_API void gs_yield(void)
{
	if (hub_get() != NULL)
		green_yield();
}

GS_API int gs_sleep_ns(uint64_t ns)
{
	if (hub_get() == NULL)
		return -ENOMEM;
	return green_sleep_until(gs_deadline_after(ns > INT64_MAX ? -1 : (int64_t)ns));
}
