/*
 * May this caller park? The one question every wrapper asks first.
 *
 * Plain libc behaviour is owed to: the hub's own context (libev calling
 * read, write, epoll_wait through the PLT, which lands in our wrappers) and
 * OS threads the runtime runs for itself. Everyone else is a green thread
 * (the OS thread's root included) of the calling OS thread's hub, made on
 * first use.
 */
#include "preload.h"

static __thread bool plain_thread __attribute__((tls_model("initial-exec")));

void preload_plain_thread(void)
{
	plain_thread = true;
}

struct hub *preload_hub(void)
{
	struct hub *h;

	if (GS_UNLIKELY(plain_thread))
		return NULL;
	h = hub_peek();
	if (GS_UNLIKELY(h == NULL))
		return hub_get();
	return GS_LIKELY(h->current != h->hub_green) ? h : NULL;
}
