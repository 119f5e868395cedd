/*
 * A signal mask per green thread.
 *
 * All green threads of a hub share one OS thread, hence one kernel signal
 * mask. Each green thread keeps the mask the program gave it
 * (green->sigmask, the kernel's 64-bit word) and the hub puts it in the
 * kernel when it switches to that thread. The hub's own context runs with
 * the signals that every live green thread blocks blocked: natively a
 * process-directed signal is delivered as soon as any thread does not
 * block it, and while the hub waits in epoll_wait it stands in for the
 * threads that wait.
 *
 * Cost: nothing for a program that never changes a mask (the hub's
 * `masks` flag stays false and a switch tests one bool). Once a green
 * thread changes its mask, a switch between two threads whose masks
 * differ costs one rt_sigprocmask; the hub's mask is computed from 64
 * counters (h->nblock[s]: live threads blocking s), and only when one of
 * them changed.
 *
 * The preemption signal (src/preempt.c) is never blocked in the kernel
 * while preemption is on, whatever the program's mask says: the program
 * still reads back the mask it set.
 */
#include "runtime.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static uint64_t bit(int sig)
{
	return (uint64_t)1 << (sig - 1);
}

static uint64_t kernel_get(void)
{
	uint64_t m = 0;

	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof m);
	return m;
}

static void kernel_set(struct hub *h, uint64_t m)
{
	if (preempt_active())
		m &= ~bit(preempt_signal());
	if (m != h->kmask || h->in_handler > 0) {
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m);
		h->kmask = m;
	}
}

static void count(struct hub *h, uint64_t m, int delta)
{
	for (int s = 0; m != 0; s++, m >>= 1)
		if (m & 1)
			h->nblock[s] += delta;
	h->hub_mask_dirty = true;
}

void sigmask_green_start(struct hub *h, struct green *g)
{
	struct green *parent = h->current;

	if (parent == NULL || parent == h->hub_green)
		parent = h->root;
	/* POSIX: a new thread starts with its creator's mask. */
	g->sigmask = parent != NULL ? parent->sigmask : kernel_get();
	if (h->masks) {
		count(h, g->sigmask, 1);
		h->nlive++;
	}
}

void sigmask_green_end(struct hub *h, struct green *g)
{
	if (h->masks) {
		count(h, g->sigmask, -1);
		h->nlive--;
	}
}

void sigmask_root_init(struct hub *h, struct green *root)
{
	root->sigmask = kernel_get();
	h->kmask = root->sigmask;
}

/* The first mask change on a hub, or a fork: count every live thread's
 * mask. */
void sigmask_recount(struct hub *h)
{
	h->masks = true;
	memset(h->nblock, 0, sizeof h->nblock);
	h->nlive = 0;
	for (struct green *g = h->all; g != NULL; g = g->all_next) {
		if (g->state == GREEN_DEAD || g == h->hub_green)
			continue;
		count(h, g->sigmask, 1);
		h->nlive++;
	}
}

static uint64_t hub_mask(struct hub *h)
{
	if (h->hub_mask_dirty) {
		uint64_t m = 0;

		for (int s = 0; s < 64; s++)
			if (h->nlive > 0 && h->nblock[s] == h->nlive)
				m |= (uint64_t)1 << s;
		h->hub_mask = m;
		h->hub_mask_dirty = false;
	}
	return h->hub_mask;
}

void sigmask_switch(struct hub *h, struct green *next)
{
	kernel_set(h, next == h->hub_green ? hub_mask(h) : next->sigmask);
}

int sigmask_change(int how, const uint64_t *set, uint64_t *old)
{
	struct hub *h = hub_peek();
	struct green *g;
	uint64_t m;

	if (h == NULL || (g = h->current) == h->hub_green)
		return -ENOSYS; /* not a green thread: the caller asks the kernel */
	if (old != NULL)
		*old = g->sigmask;
	if (set == NULL)
		return 0;
	switch (how) {
	case SIG_BLOCK:
		m = g->sigmask | *set;
		break;
	case SIG_UNBLOCK:
		m = g->sigmask & ~*set;
		break;
	case SIG_SETMASK:
		m = *set;
		break;
	default:
		return -EINVAL;
	}
	/* As glibc: SIGKILL and SIGSTOP cannot be blocked, nor glibc's own
	 * SIGCANCEL (32) and SIGSETXID (33). */
	m &= ~(bit(SIGKILL) | bit(SIGSTOP) | bit(32) | bit(33));
	if (!h->masks) {
		if (m == g->sigmask)
			return 0;
		sigmask_recount(h);
	}
	count(h, g->sigmask, -1);
	count(h, m, 1);
	g->sigmask = m;
	/* Unblocking a pending signal delivers it here, before the return,
	 * as natively. */
	kernel_set(h, m);
	return 0;
}

bool sigmask_blocks(const struct green *g, int sig)
{
	return sig >= 1 && sig <= 64 && (g->sigmask & bit(sig)) != 0;
}
