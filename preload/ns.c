/*
 * Namespaces: unshare and setns, each the libc call. Entering a new user
 * namespace (unshare with CLONE_NEWUSER, setns to a user namespace's
 * descriptor) needs a process with one thread in the kernel's eyes, and
 * the runtime's control thread ("gs-control", src/control.c) would make
 * it two: the call fails with EINVAL where it succeeds natively (util-
 * linux's unshare -r, bubblewrap, a sandbox's set-up). So around such a
 * call the control thread ends, and another starts once the call has
 * returned (in the new namespace, as any thread made then would be).
 * A process that has had several program threads has more of the
 * runtime's (the blocking monitor, extra hubs, pool workers for a while):
 * those stay, and the call fails there as before (docs/LIMITATIONS.md).
 */
#include <errno.h>
#include <sched.h>

#include "preload.h"
#include "../src/tools.h"

/* Can the process be one thread for the call? Only if the caller is its
 * only program thread (else the call fails natively too), which also
 * keeps a second caller from pausing the control thread at once. */
static bool alone(void)
{
	struct hub *h = preload_hub();

	return h != NULL && sched_alone(h);
}

/* Ends the control thread before a call that may enter a user namespace
 * (user) when the process may be one thread: true if it did. */
static bool pause_for(bool user)
{
	return user && !preload_native() && alone() && control_pause();
}

/* After the call: the control thread again, errno kept; returns r. */
static int resume_after(bool paused, int r)
{
	if (paused) {
		int err = errno;

		control_resume();
		errno = err;
	}
	return r;
}

GS_WRAP int unshare(int flags)
{
	bool paused = pause_for(flags & CLONE_NEWUSER);

	return resume_after(paused, REAL(unshare)(flags));
}

GS_WRAP int setns(int fd, int nstype)
{
	bool paused = pause_for(nstype == 0 || (nstype & CLONE_NEWUSER));

	return resume_after(paused, REAL(setns)(fd, nstype));
}
