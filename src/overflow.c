/*
 * Stack overflow reports.
 *
 * A green thread that overflows its stack touches the guard below it and
 * takes SIGSEGV with a full stack: the handler runs on an alternate signal
 * stack, made per OS thread when its hub is made (unless the program set
 * one already). If the fault lies in the running green thread's guard, the
 * handler writes one line naming the thread, its id and its stack size,
 * restores the default action and returns: the faulting instruction runs
 * again and the kernel kills the process with SIGSEGV, as it would for a
 * native thread, core dump included. Any other fault, and a SIGSEGV sent
 * rather than faulted (si_code SI_USER, SI_TKILL, SI_QUEUE), goes to the
 * program's own SIGSEGV handler (installed before ours, or later through the
 * sigaction wrapper, which hands it to overflow_program_handler() instead
 * of replacing ours), or to the default action.
 *
 * Everything here is async-signal-safe: no stdio, no allocation.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hub_impl.h"

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
#include "sys.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction prev_segv;
static atomic_int segv_installed;

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static size_t put(char *buf, size_t at, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + at, s, n);
	return at + n;
}

static void overflow_report(const struct green *g)
{
	char line[256];
	size_t n = 0;

	n = put(line, n, "greenshim: stack overflow in green thread ");
	n += fmt_u64(line + n, g->id);
	if (g->name[0] != '\0') {
		size_t len = strnlen(g->name, sizeof g->name);

		n = put(line, n, " \"");
		memcpy(line + n, g->name, len);
		n = put(line, n + len, "\"");
	}
	n = put(line, n, ": it hit the guard page below its stack of ");
	n += fmt_u64(line + n, (uint64_t)(g->stack.hi - g->stack.lo));
	n = put(line, n, " bytes (set GREENSHIM_STACK_SIZE or the thread's stack size)\n");
	sys_write(STDERR_FILENO, line, n);
}

static void segv_default(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	__sigaction(SIGSEGV, &sa, NULL);
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
	struct hub *h = hub_peek();
	struct green *g = h != NULL ? h->current : NULL;
	char *addr = si->si_addr;

	if (si->si_code > 0 && g != NULL && g->stack.guard != 0 && addr < g->stack.lo &&
	    addr >= g->stack.lo - g->stack.guard) {
		overflow_report(g);
		segv_default();
		return;
	}
	if (prev_segv.sa_flags & SA_SIGINFO) {
		prev_segv.sa_sigaction(sig, si, uctx);
	} else if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
		prev_segv.sa_handler(sig);
	} else if (si->si_code <= 0) {
		/* Sent (kill, raise, pthread_kill, sigqueue), not a fault:
		 * nothing faults again on return. Ignored as natively, or the
		 * default action: sent again with no handler, taken when the
		 * handler returns and unblocks it. */
		if (prev_segv.sa_handler == SIG_DFL) {
			segv_default();
			arch_syscall3(SYS_tgkill, arch_syscall3(SYS_getpid, 0, 0, 0),
				      arch_syscall3(SYS_gettid, 0, 0, 0), SIGSEGV);
		}
	} else {
		/* Default action: return and fault again without us. */
		segv_default();
	}
}

void *overflow_init_thread(void)
{
	stack_t ss;
	int expected = 0;
	void *made = NULL;

	if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
		void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (p != MAP_FAILED) {
			ss.ss_sp = p;
			ss.ss_size = ALTSTACK_SIZE;
			ss.ss_flags = 0;
			if (sigaltstack(&ss, NULL) == 0)
				made = p;
			else
				munmap(p, ALTSTACK_SIZE);
		}
	}
	if (atomic_compare_exchange_strong(&segv_installed, &expected, 1)) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		/* glibc's own name for sigaction: the exported one is
		 * greenshim's wrapper under LD_PRELOAD, which routes SIGSEGV
		 * back here (overflow_program_handler). */
		__sigaction(SIGSEGV, &sa, &prev_segv);
	}
	return made;
}

void overflow_fini_thread(void *altstack)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (altstack != NULL && sigaltstack(&ss, NULL) == 0)
		munmap(altstack, ALTSTACK_SIZE);
}

int overflow_program_handler(const struct sigaction *act, struct sigaction *old)
{
	if (atomic_load(&segv_installed) == 0)
		return -1;
	if (old != NULL)
		*old = prev_segv;
	if (act != NULL)
		prev_segv = *act;
	return 0;
}
