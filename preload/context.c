/*
 * May this caller park? The one question every wrapper asks first.
 *
 * Plain libc behaviour is owed to the hub's own context: libev calls read,
 * write and epoll_wait through the PLT, which lands in our wrappers. (OS
 * threads the runtime will run for itself, its DNS pool and monitor, will
 * be the other case.) Everyone else is a green thread (the OS thread's root
 * included) of the calling OS thread's hub, made on first use.
 */
#include "preload.h"

struct hub *preload_hub(void)
{
	struct hub *h = hub_peek();

	if (GS_UNLIKELY(h == NULL))
		return hub_get();
	return GS_LIKELY(h->current != h->hub_green) ? h : NULL;
}
