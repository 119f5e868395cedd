/*
 * Threads: pthread_create makes a green thread on the calling OS thread's
 * hub, and the calls that take a pthread_t understand green ones.
 *
 * A green thread's pthread_t is the address of its struct green with the
 * low bit set. glibc's own pthread_t values are addresses of an aligned
 * struct pthread, so the two never collide, and each wrapper below tells
 * them apart in one test: a green pthread_t is handled here, any other
 * goes to glibc untouched (the root, i.e. the OS thread's own context such
 * as main(), keeps glibc's pthread_self()).
 *
 * This is the part the I/O interposition needs: thread-per-connection
 * programs create, detach, join and name their threads. Locks, condition
 * variables, thread-specific data and cancellation are the thread issue's
 * (docs/LIMITATIONS.md lists what is not green yet).
 */
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>

#include "preload.h"
#include "../src/gid.h"
#include "../src/tools.h"

#include <dlfcn.h> /* after runtime.h: <elf.h> and ev.h both name EV_NONE */
#include <link.h>

static inline pthread_t green_tid(const struct green *g)
{
	return (pthread_t)((uintptr_t)g | 1);
}

static inline struct green *tid_green(pthread_t t)
{
	return (t & 1) ? (struct green *)(uintptr_t)(t & ~(pthread_t)1) : NULL;
}

/* Whether g is another hub's to deliver to: it runs there, or is on its
 * way here from there (GREEN_MOVING, set before g->hub names this hub:
 * src/hub.c, hub_move_green), and its signals are still that hub's to
 * touch; a post for it waits here until it is linked. */
static bool elsewhere(const struct green *g, const struct hub *h)
{
	return g->hub != h || (__atomic_load_n(&g->flags, __ATOMIC_RELAXED) & GREEN_MOVING);
}

/* The calling green thread, unless it is the root or a plain thread. */
static struct green *self_green(void)
{
	struct hub *h = hub_peek();
	struct green *g = h != NULL ? hub_current(h) : NULL;

	return g != NULL && !(g->flags & (GREEN_ROOT | GREEN_HUB)) ? g : NULL;
}

struct green *preload_self_green(void)
{
	return self_green();
}

/* glibc cannot say whether a stack size was set or is its default: a size
 * equal to the default of a fresh attribute is taken as "not set", so that
 * GREENSHIM_STACK_SIZE applies. */
static size_t attr_stack_size(const pthread_attr_t *attr)
{
	pthread_attr_t fresh;
	size_t size = 0, dflt = 0;

	pthread_attr_getstacksize(attr, &size);
	if (pthread_attr_init(&fresh) == 0) {
		pthread_attr_getstacksize(&fresh, &dflt);
		pthread_attr_destroy(&fresh);
	}
	return size == dflt ? 0 : size;
}

/*
 * Libraries whose threads must stay real: they wait with system calls of
 * their own (libgomp, LLVM's and Intel's OpenMP runtimes spin, then call
 * futex with the syscall instruction), which no wrapper sees, so a green
 * thread of theirs would hold its OS thread and the threads it waits for
 * could never run. A thread made by code of such a library is glibc's
 * pthread; it gets a hub of its own if it ever waits in a wrapper
 * (context.c). GREENSHIM_NATIVE_LIBS adds names.
 */
static const char *const native_libs[] = { "libgomp.so", "libomp.so", "libiomp5.so" };

/* Does name (a file name) start with one of the colon-separated names of
 * list, or one of native_libs? */
static bool lib_named(const char *name, const char *list)
{
	for (size_t i = 0; i < sizeof native_libs / sizeof native_libs[0]; i++)
		if (strncmp(name, native_libs[i], strlen(native_libs[i])) == 0)
			return true;
	while (list != NULL && *list != '\0') {
		size_t n = strcspn(list, ":");

		if (strncmp(name, list, n) == 0)
			return true;
		list += n + (list[n] == ':');
	}
	return false;
}

/* Is the code at pc in a library whose threads stay real? glibc's
 * _dl_find_object (2.35+) finds the object without a lock; the answer per
 * object is kept (its start address, page-aligned, with the answer in the
 * low bit: one atomic word per slot, so that any OS thread may look), and
 * a pthread_create stays a green spawn's cost. */
bool preload_native_code(const void *pc)
{
	static uintptr_t seen[16];
	struct dl_find_object obj;
	const char *name, *base;
	uintptr_t start, known, *slot;
	bool native;

	if (_dl_find_object((void *)pc, &obj) != 0)
		return false;
	start = (uintptr_t)obj.dlfo_map_start & ~(uintptr_t)1;
	slot = &seen[(start >> 12) % 16];
	known = __atomic_load_n(slot, __ATOMIC_RELAXED);
	if ((known & ~(uintptr_t)1) == start)
		return known & 1;
	name = obj.dlfo_link_map != NULL ? obj.dlfo_link_map->l_name : NULL;
	if (name == NULL)
		return false;
	base = strrchr(name, '/');
	native = lib_named(base != NULL ? base + 1 : name, gs_config.native_libs);
	__atomic_store_n(slot, start | native, __ATOMIC_RELAXED);
	return native;
}

GS_WRAP int pthread_create(pthread_t *tid, const pthread_attr_t *attr, void *(*fn)(void *),
			   void *arg)
{
	struct green_attr a = { 0 };
	struct aff_spawn as;
	struct green *g;
	int r;

	if (preload_native() || preload_hub() == NULL ||
	    preload_native_code(__builtin_return_address(0)))
		return REAL(pthread_create)(tid, attr, fn, arg);
	if (attr != NULL) {
		int detach = PTHREAD_CREATE_JOINABLE;
		void *lo = NULL;
		size_t size = 0;

		pthread_attr_getdetachstate(attr, &detach);
		a.detached = detach == PTHREAD_CREATE_DETACHED;
		/* glibc keeps the top of a given stack, NULL when none was
		 * given, and reports top - size: "none" reads as -size. */
		pthread_attr_getstack(attr, &lo, &size);
		if ((uintptr_t)lo + size != 0) {
			a.stack_addr = lo;
			a.stack_size = size;
		} else {
			a.stack_size = attr_stack_size(attr);
		}
	}
	r = affinity_spawn_begin(&as, attr);
	if (r < 0)
		return -r;
	r = green_spawn(&a, fn, arg, &g);
	affinity_spawn_end(&as, r < 0 ? NULL : g);
	if (r < 0)
		return -r;
	/* As glibc's: the process has threads now (libstdc++ and others
	 * stop skipping atomics). */
	__libc_single_threaded = 0;
	*tid = green_tid(g);
	/* A loop that makes threads spends its time here, where ticks find
	 * no safe point: preempted at the return (a helper's program that
	 * made 3,000 sleeping threads drew a blocking-monitor report). */
	preempt_at_return((uintptr_t)__builtin_return_address(0));
	return 0;
}

GS_WRAP pthread_t pthread_self(void)
{
	struct green *g = self_green();

	return g != NULL ? green_tid(g) : REAL(pthread_self)();
}

GS_WRAP int pthread_equal(pthread_t a, pthread_t b)
{
	return a == b;
}

/*
 * Ending a green thread by unwinding its stack, as glibc ends a pthread
 * that is cancelled or calls pthread_exit: the cleanup handlers of
 * pthread_cleanup_push run, and so do C++ destructors. glibc's own
 * machinery does it, through its exported entry points: every green
 * thread with a descriptor of its own (src/tls.c) starts in
 * preload_pthread_run (the runtime's run hook, init.c),
 * whose buffer, registered with __pthread_register_cancel, is the bottom
 * of the chain that pthread_cleanup_push extends (in the descriptor,
 * FS-relative: the thread's own); unwind_green registers one more buffer
 * and hands __pthread_unwind_next the chain below it, and glibc's
 * forced unwinding runs each handler and ends with a longjmp into
 * preload_pthread_run, which returns the thread's result.
 */
/* glibc's (pthread.h declares them only to code built without
 * exceptions; this library is built with -fexceptions). */
extern void __pthread_register_cancel(__pthread_unwind_buf_t *buf);
extern void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf);
extern void __pthread_unwind_next(__pthread_unwind_buf_t *buf) __attribute__((__noreturn__));
/* __sigsetjmp on the unwind buffer's own type, as pthread.h's macros call
 * it (the buffer is shorter than a jmp_buf; with no mask saved only their
 * common part is used). */
extern int sigsetjmp_cancel(struct __cancel_jmp_buf_tag env[1], int savemask) __asm__("__sigsetjmp")
	__attribute__((returns_twice));

void *preload_pthread_run(struct green *g)
{
	__pthread_unwind_buf_t bottom;

	if (!(g->flags & GREEN_OWN_TLS))
		return g->start(g->arg);
	if (sigsetjmp_cancel(bottom.__cancel_jmp_buf, 0) != 0)
		return green_self()->retval; /* unwound: set by unwind_green */
	__pthread_register_cancel(&bottom);
	g->retval = g->start(g->arg);
	__pthread_unregister_cancel(&bottom);
	return g->retval;
}

static _Noreturn void unwind_green(struct green *g, void *retval)
{
	__pthread_unwind_buf_t here;

	g->flags |= GREEN_UNWINDING;
	g->retval = retval;
	__pthread_register_cancel(&here);
	__pthread_unwind_next(&here);
}

void preload_cancel_green(struct green *g)
{
	if (green_cancel_due(g) && !(g->flags & GREEN_STDIO_MASK) && (g->flags & GREEN_OWN_TLS))
		unwind_green(g, PTHREAD_CANCELED);
}

void preload_cancel_act(void)
{
	struct green *g = self_green();

	if (g != NULL)
		preload_cancel_green(g);
}

GS_WRAP void pthread_exit(void *retval)
{
	struct hub *h = hub_peek();
	struct green *g;

	/* Also a real thread alone on its hub (one a native library made:
	 * libgomp's workers end with pthread_exit when their pool goes). */
	if (h == NULL || preload_native() || hub_exit_ends_os_thread(h)) {
		REAL(pthread_exit)(retval); /* the hub goes with the thread */
		__builtin_unreachable();
	}
	g = hub_current(h);
	if ((g->flags & GREEN_OWN_TLS) && !(g->flags & GREEN_UNWINDING))
		unwind_green(g, retval);
	/* The root, or a thread that shares its OS thread's descriptor: the
	 * process lives on while green threads do, and ends with status 0
	 * after the last (hub.c). */
	green_exit(retval);
}

/* pthread_*join return the error (ETIMEDOUT, EBUSY for tryjoin...); a
 * join is a cancellation point. */
static int join_until(pthread_t t, void **retval, int64_t deadline)
{
	int r = green_join(tid_green(t), retval, deadline);

	if (r == -ECANCELED)
		preload_cancel_act();
	return -r;
}

GS_WRAP int pthread_join(pthread_t t, void **retval)
{
	if (tid_green(t) == NULL)
		return REAL(pthread_join)(t, retval);
	return PRELOAD_SETTLED(join_until(t, retval, GS_NO_DEADLINE));
}

GS_WRAP int pthread_tryjoin_np(pthread_t t, void **retval)
{
	if (tid_green(t) == NULL)
		return REAL(pthread_tryjoin_np)(t, retval);
	return join_until(t, retval, 0);
}

GS_WRAP int pthread_clockjoin_np(pthread_t t, void **retval, clockid_t clk,
				 const struct timespec *abstime)
{
	int64_t deadline;

	if (tid_green(t) == NULL)
		return REAL(pthread_clockjoin_np)(t, retval, clk, abstime);
	if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME)
		return EINVAL;
	deadline = preload_abs_deadline(clk, abstime);
	return deadline < 0 ? EINVAL : join_until(t, retval, deadline);
}

GS_WRAP int pthread_timedjoin_np(pthread_t t, void **retval, const struct timespec *abstime)
{
	if (tid_green(t) == NULL)
		return REAL(pthread_timedjoin_np)(t, retval, abstime);
	return pthread_clockjoin_np(t, retval, CLOCK_REALTIME, abstime);
}

GS_WRAP int pthread_detach(pthread_t t)
{
	struct green *g = tid_green(t);

	return g == NULL ? REAL(pthread_detach)(t) : -green_detach(g);
}

GS_WRAP int pthread_setname_np(pthread_t t, const char *name)
{
	struct green *g = tid_green(t);

	if (g == NULL)
		return REAL(pthread_setname_np)(t, name);
	if (strlen(name) >= sizeof g->name)
		return ERANGE; /* as glibc: at most 15 characters */
	if (green_ended(g))
		return ENOENT; /* glibc's /proc/self/task/TID/comm is gone */
	strcpy(g->name, name);
	return 0;
}

GS_WRAP int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	struct green *g = tid_green(t);

	if (g == NULL)
		return REAL(pthread_getname_np)(t, buf, len);
	if (len < sizeof g->name)
		return ERANGE; /* as glibc: room for any name, whatever this one is */
	if (green_ended(g))
		return ENOENT;
	strcpy(buf, g->name);
	return 0;
}

/* The name of PR_SET_NAME and PR_GET_NAME, read and written as the kernel
 * does, with this process's process_vm_readv and process_vm_writev: a bad
 * pointer gets EFAULT, not a fault in the wrapper. A read takes up to 15
 * bytes, stopping at a NUL, and faults only if one it needs cannot be
 * read (strncpy_from_user's: a short name at the end of a page is
 * fine). Where the calls are refused (a seccomp filter), a plain copy. */
static int name_read(const char *p, char out[16])
{
	size_t first = 4096 - ((uintptr_t)p & 4095);
	struct iovec local = { out, 15 };
	struct iovec remote[2] = { { (void *)p, first < 15 ? first : 15 },
				   { (void *)(p + first), first < 15 ? 15 - first : 0 } };
	long n;

	memset(out, 0, 16);
	n = arch_syscall6(SYS_process_vm_readv, getpid(), (long)&local, 1, (long)remote,
			  first < 15 ? 2 : 1, 0);
	if (n == -EFAULT || (n >= 0 && n < 15 && memchr(out, '\0', (size_t)n) == NULL))
		return -EFAULT;
	if (n < 0)
		strncpy(out, p, 15);
	return 0;
}

static int name_write(char *p, const char name[16])
{
	struct iovec local = { (void *)name, 16 }, remote = { p, 16 };
	long n = arch_syscall6(SYS_process_vm_writev, getpid(), (long)&local, 1, (long)&remote, 1, 0);

	if (n == -EFAULT || (n >= 0 && n < 16))
		return -EFAULT;
	if (n < 0)
		memcpy(p, name, 16);
	return 0;
}

/* PR_SET_NAME and PR_GET_NAME name the calling thread, as natively: a
 * green thread's own name (pthread_setname_np's), not its hub's OS
 * thread's, which is the process's own name where that is the main
 * thread (before 2026-12-07 rsyslogd's "imudp(w1)" renamed the process
 * so). The kernel keeps 15 characters and a NUL; so does this. The main
 * thread, and every other option: the kernel's call. */
GS_WRAP int prctl(int option, ...)
{
	char name[16];
	int r;
	unsigned long a[4];
	struct green *g;
	va_list ap;

	va_start(ap, option);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if ((option != PR_SET_NAME && option != PR_GET_NAME) || (g = self_green()) == NULL)
		return REAL(prctl)(option, a[0], a[1], a[2], a[3]);
	_Static_assert(sizeof g->name == sizeof name, "a green name is a kernel comm");
	if (option == PR_SET_NAME) {
		r = name_read((const char *)a[0], name);
		if (r == 0)
			memcpy(g->name, name, sizeof name);
	} else {
		memcpy(name, g->name, sizeof name);
		r = name_write((char *)a[0], name);
	}
	return r < 0 ? preload_fail(r) : 0;
}

GS_WRAP int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct green *g = tid_green(t);
	int r;

	if (g == NULL)
		return REAL(pthread_getattr_np)(t, attr);
	r = pthread_attr_init(attr);
	if (r != 0)
		return r;
	/* The usable stack, below the TLS block and struct green at its top
	 * (glibc too reports a thread's stack less its TLS). */
	pthread_attr_setstack(attr, g->stack.lo, (size_t)(tls_block_lo(g) - g->stack.lo));
	pthread_attr_setguardsize(attr, g->stack.guard);
	pthread_attr_setdetachstate(attr, g->detached ? PTHREAD_CREATE_DETACHED
								      : PTHREAD_CREATE_JOINABLE);
	return 0;
}

static int kill_thread(pthread_t t, int sig)
{
	struct green *g = tid_green(t);
	struct hub *h = hub_peek();

	/* The root of a hub (main) is a thread of its own too; its
	 * pthread_t is its OS thread's. */
	if (g == NULL && h != NULL && !preload_native())
		g = sched_root_named(h, (uintptr_t)t);
	if (g == NULL)
		return REAL(pthread_kill)(t, sig);
	/* glibc refuses its own SIGCANCEL (32) and SIGSETXID (33); since
	 * 2.34 it sends nothing to a thread that has ended, and says 0. */
	if (sig == 32 || sig == 33)
		return EINVAL;
	if (green_ended(g) || sig == 0)
		return 0;
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	/* From inside a handler (a collector's, that stops every thread),
	 * to another thread: its hub's loop passes it on, to run on g's own
	 * context (this hub's once the handler returns or waits), with
	 * nothing allocated, as pthread_kill is async-signal-safe. */
	if (h != NULL && hub_in_handler(h) && g != hub_current(h) && !preload_native())
		return -hub_defer_kill_green(g, sig, NULL);
	/* g runs on another hub's OS thread (GREENSHIM_HUBS): that hub
	 * delivers it, as below. */
	if (elsewhere(g, h) && !preload_native())
		return -hub_post_kill_green(g, sig, NULL);
	/* A signal g blocks, or waits for in sigwait, stays pending for g
	 * alone (src/sigmask.c), as the kernel keeps a thread's own. */
	if (h != NULL && g->hub == h && !hub_in_handler(h) && !preload_native()) {
		int r = sigmask_thread_kill(g, sig, NULL);

		if (r != 0)
			return r < 0 ? -r : 0;
	}
	/* Signals are per OS thread: the green thread's OS thread gets it,
	 * and the wait it interrupts, if any, is g's. */
	hub_signal_target(g);
	return REAL(pthread_kill)(REAL(pthread_self)(), sig);
}

/* A loop that sends signals spends its time in greenshim and libc, where
 * the tick does not stop a thread: it is preempted at the call's return
 * if the last tick could not (as at clock_gettime's). A main thread that
 * sent SIGUSR1 in a loop to two computing threads kept its hub, one of
 * them beside it, for as long as it ran (hubs kill_storm, 2026-12-07). */
GS_WRAP int pthread_kill(pthread_t t, int sig)
{
	int r = kill_thread(t, sig);

	preempt_at_return((uintptr_t)__builtin_return_address(0));
	return r;
}

/* glibc's pthread_sigqueue reads the target's kernel thread id from its
 * descriptor, which a green pthread_t is not: before 2026-12-05 it read
 * another word there, said ESRCH, or crashed (stress-ng's pthread
 * stressor). A green target that takes the signal when it arrives, on
 * this hub or another's, gets it with the siginfo glibc fills (SI_QUEUE,
 * the sender's pid and uid, the value); one that blocks it or waits for it
 * in sigwait has it pending for itself with that siginfo, which its
 * handler or sigwaitinfo sees when it takes it, as the kernel keeps a
 * queued signal's. An ended target is ESRCH, as glibc's. */
static int sigqueue_thread(pthread_t t, int sig, const union sigval value)
{
	struct green *g = tid_green(t);
	struct hub *h = hub_peek();
	siginfo_t si;
	int r;

	/* A root's pthread_t is its OS thread's own: glibc's call. */
	if (g == NULL)
		return REAL(pthread_sigqueue)(t, sig, value);
	if (green_ended(g))
		return ESRCH;
	if (sig == 32 || sig == 33 || sig < 0 || sig >= NSIG)
		return EINVAL;
	if (sig == 0)
		return 0;
	if (preload_native())
		return kill_thread(t, sig);
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value = value;
	if (h != NULL && hub_in_handler(h) && g != hub_current(h))
		return -hub_defer_kill_green(g, sig, &si); /* as pthread_kill's */
	if (elsewhere(g, h))
		return -hub_post_kill_green(g, sig, &si); /* its hub delivers it */
	if (hub_in_handler(h))
		return kill_thread(t, sig);
	r = sigmask_thread_kill(g, sig, &si); /* kept pending for g, with si */
	if (r != 0)
		return r < 0 ? -r : 0;
	sigmask_raise_here(h, g, sig, &si);
	return 0;
}

GS_WRAP int pthread_sigqueue(pthread_t t, int sig, const union sigval value)
{
	int r = sigqueue_thread(t, sig, value);

	preempt_at_return((uintptr_t)__builtin_return_address(0)); /* as pthread_kill's */
	return r;
}

/*
 * Thread ids. Each green thread has its own, as each pthread has its
 * kernel id: PRELOAD_GREEN_TID_BASE plus its green id, a number that no
 * real thread id reaches (pid_max is at most 2^22). The root keeps its OS
 * thread's. Where a green id reaches a call that passes it to the kernel
 * (tgkill, tkill, sched_setaffinity, sched_getaffinity), it stands for
 * that green thread: a signal is for it (as pthread_kill), the affinity
 * mask is its own (affinity.c).
 */
static pid_t green_kernel_id(const struct green *g)
{
	return PRELOAD_GREEN_TID_BASE + (pid_t)(g->id & GID_KEY_MASK); /* gid_find's key */
}

/* The live green thread with kernel id tid, from any hub (src/gid.c),
 * with its whole id and its hub; NULL if none. */
static struct green *green_by_kernel_id(pid_t tid, uint64_t *id, struct hub **on)
{
	if (tid < PRELOAD_GREEN_TID_BASE)
		return NULL;
	return gid_find((uint32_t)(tid - PRELOAD_GREEN_TID_BASE), id, on);
}

GS_WRAP pid_t gettid(void)
{
	struct green *g = self_green();

	return g != NULL ? green_kernel_id(g) : REAL(gettid)();
}

long preload_gettid(void)
{
	return gettid();
}

long preload_tgkill(pid_t tgid, pid_t tid, int sig, bool *is_real)
{
	struct hub *h = hub_peek(), *on;
	struct green *g;
	uint64_t id;
	int r;

	*is_real = false;
	if (tid < PRELOAD_GREEN_TID_BASE) {
		*is_real = true;
		return 0;
	}
	g = green_by_kernel_id(tid, &id, &on);
	if (g == NULL || (tgid != -1 && tgid != getpid()))
		return preload_fail(-ESRCH);
	/* One of the caller's hub's threads stays there and lives on while
	 * the caller runs (only this OS thread moves or ends it): signalled
	 * as pthread_kill signals it. */
	if (h != NULL && on == h && !elsewhere(g, h)) {
		r = kill_thread(green_tid(g), sig);
		return r == 0 ? 0 : preload_fail(-r);
	}
	/* Another hub's, which may end or move at any time: named by
	 * (g, id), which its hub checks, and sent on if it moved. As
	 * pthread_kill's: glibc's internal signals are refused. */
	if (sig < 0 || sig >= NSIG || sig == 32 || sig == 33)
		return preload_fail(-EINVAL);
	if (sig == 0)
		return 0;
	if (h != NULL && hub_in_handler(h))
		r = hub_defer_kill_id(on, g, id, sig, NULL);
	else
		r = hub_post_kill_id(on, g, id, sig, NULL);
	return r == 0 ? 0 : preload_fail(r);
}

GS_WRAP int tgkill(pid_t tgid, pid_t tid, int sig)
{
	bool is_real;
	long r = preload_tgkill(tgid, tid, sig, &is_real);

	if (is_real)
		r = REAL(tgkill)(tgid, tid, sig);
	preempt_at_return((uintptr_t)__builtin_return_address(0)); /* as pthread_kill's */
	return (int)r;
}

/*
 * kill and sigqueue with a thread's id: the kernel finds the thread, then
 * signals its process (any of its threads may take the signal). A green
 * thread's id does the same: the process, if a live green thread has it,
 * else ESRCH, where the kernel said ESRCH for every one (before
 * 2026-12-07). The raw calls and syscall()'s go the same way (rawsys.c).
 */
static int process_of_thread(pid_t *pid)
{
	struct hub *on;
	uint64_t id;

	if (*pid < PRELOAD_GREEN_TID_BASE)
		return 0; /* every other pid (0, -1, a group) as it is */
	if (green_by_kernel_id(*pid, &id, &on) == NULL)
		return -ESRCH;
	*pid = getpid();
	return 0;
}

GS_WRAP int kill(pid_t pid, int sig)
{
	int r = process_of_thread(&pid);

	return r < 0 ? preload_fail(r) : REAL(kill)(pid, sig);
}

GS_WRAP int sigqueue(pid_t pid, int sig, const union sigval value)
{
	int r = process_of_thread(&pid);

	return r < 0 ? preload_fail(r) : REAL(sigqueue)(pid, sig, value);
}

long preload_sched_tid(long tid)
{
	struct hub *on;
	uint64_t id;

	if (tid < PRELOAD_GREEN_TID_BASE)
		return tid;
	return green_by_kernel_id((pid_t)tid, &id, &on) != NULL ? 0 : -ESRCH;
}

/*
 * Scheduling, nice value and I/O priority by thread id, as GLib copies its
 * creator's scheduler settings into each new thread (sched_getattr of its
 * gettid): a green thread's id stands for the caller's OS thread, as a
 * green pthread_t does for pthread_setschedparam (below), where the kernel
 * said ESRCH (before 2026-12-07: every GLib program that made a thread
 * printed "Failed to set scheduler settings"). The raw calls and
 * syscall()'s go the same way (rawsys.c).
 */
GS_WRAP int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)
{
	long t = preload_sched_tid(pid);

	return t < 0 ? preload_fail((int)t) : REAL(sched_setscheduler)((pid_t)t, policy, param);
}

GS_WRAP int sched_getscheduler(pid_t pid)
{
	long t = preload_sched_tid(pid);

	return t < 0 ? preload_fail((int)t) : REAL(sched_getscheduler)((pid_t)t);
}

GS_WRAP int sched_setparam(pid_t pid, const struct sched_param *param)
{
	long t = preload_sched_tid(pid);

	return t < 0 ? preload_fail((int)t) : REAL(sched_setparam)((pid_t)t, param);
}

GS_WRAP int sched_getparam(pid_t pid, struct sched_param *param)
{
	long t = preload_sched_tid(pid);

	return t < 0 ? preload_fail((int)t) : REAL(sched_getparam)((pid_t)t, param);
}

GS_WRAP int sched_rr_get_interval(pid_t pid, struct timespec *ts)
{
	long t = preload_sched_tid(pid);

	return t < 0 ? preload_fail((int)t) : REAL(sched_rr_get_interval)((pid_t)t, ts);
}

GS_WRAP int getpriority(__priority_which_t which, id_t who)
{
	long t = which == PRIO_PROCESS ? preload_sched_tid((long)who) : (long)who;

	return t < 0 ? preload_fail((int)t) : REAL(getpriority)(which, (id_t)t);
}

GS_WRAP int setpriority(__priority_which_t which, id_t who, int prio)
{
	long t = which == PRIO_PROCESS ? preload_sched_tid((long)who) : (long)who;

	return t < 0 ? preload_fail((int)t) : REAL(setpriority)(which, (id_t)t, prio);
}

/* Whose affinity pid names (affinity.c): a green id, its thread; else as
 * affinity_of_pid says. */
static int affinity_who(struct aff_who *w, pid_t pid)
{
	struct green *g;
	struct hub *on;
	uint64_t id;

	if (pid >= PRELOAD_GREEN_TID_BASE) {
		if ((g = green_by_kernel_id(pid, &id, &on)) == NULL)
			return -ESRCH;
		affinity_of_green(w, g, id, on);
	} else {
		affinity_of_pid(w, pid);
	}
	return 0;
}

GS_WRAP int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	struct aff_who w;
	int r = affinity_who(&w, pid);

	if (r == 0)
		r = affinity_set(&w, size, set);
	return r < 0 ? preload_fail(r) : 0;
}

GS_WRAP int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
	struct aff_who w;
	int r = affinity_who(&w, pid);

	if (r == 0)
		r = affinity_get(&w, size, set);
	return r < 0 ? preload_fail(r) : 0;
}

/* glibc's pthread_yield calls its internal sched_yield, past our wrapper.
 * Its header renames pthread_yield to sched_yield for new programs: the
 * symbol is for older binaries, defined under its name with an asm label. */
GS_WRAP int preload_pthread_yield(void) __asm__("pthread_yield");

GS_WRAP int preload_pthread_yield(void)
{
	return sched_yield();
}

/*
 * The calls below, but for the affinity ones, act on an OS thread. A green
 * pthread_t stands for the caller's OS thread (its hub's, which runs every
 * green thread of the hub; with several hubs, not the one another hub's
 * thread runs on: see docs/LIMITATIONS.md), so they act on that one, with
 * glibc's own result.
 */
static pthread_t os_thread_of(pthread_t t)
{
	return tid_green(t) != NULL ? REAL(pthread_self)() : t;
}

GS_WRAP int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *param)
{
	return REAL(pthread_setschedparam)(os_thread_of(t), policy, param);
}

GS_WRAP int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *param)
{
	return REAL(pthread_getschedparam)(os_thread_of(t), policy, param);
}

GS_WRAP int pthread_setschedprio(pthread_t t, int prio)
{
	return REAL(pthread_setschedprio)(os_thread_of(t), prio);
}

/* A green pthread_t, or main's, names a thread whose mask is its own
 * (affinity.c); glibc's calls return the error rather than set errno. */
static bool affinity_of_tid(struct aff_who *w, pthread_t t)
{
	struct green *g = tid_green(t);

	if (g == NULL)
		return affinity_of_main(w, t);
	affinity_of_green(w, g, g->id, g->hub);
	return true;
}

GS_WRAP int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	struct aff_who w;

	if (!affinity_of_tid(&w, t))
		return REAL(pthread_setaffinity_np)(t, size, set);
	return -affinity_set(&w, size, set);
}

GS_WRAP int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	struct aff_who w;

	if (!affinity_of_tid(&w, t))
		return REAL(pthread_getaffinity_np)(t, size, set);
	return -affinity_get(&w, size, set);
}

/* The kernel's encoding of a thread's CPU clock (MAKE_THREAD_CPUCLOCK):
 * the id inverted, shifted, then "per thread" and "scheduler time". Ids
 * of 28 bits fit: a green kernel id does not, so a green thread's clock
 * names CLOCK_GREEN_BASE plus its id's low 27 bits (CLOCK_GREEN_MASK),
 * above every real thread id (PID_MAX_LIMIT, 2^22), refused by the kernel.
 * Two live threads whose ids differ by a multiple of 2^27 (some 134
 * million threads made while the first lives) share a clock: the older
 * is read. */
#define THREAD_CLOCK_BITS 6
#define THREAD_CLOCK_OF(tid) ((clockid_t)((~(unsigned)(tid) << 3) | THREAD_CLOCK_BITS))
#define CLOCK_GREEN_BASE (1 << 22)
#define CLOCK_GREEN_MASK ((1u << 27) - 1)

/* A green thread's clock names its green id, as natively its kernel id:
 * clock_gettime and clock_getres (time.c) know it. Main's, and a plain
 * thread's, are the kernel's; clock_gettime gives main's its own time. */
GS_WRAP int pthread_getcpuclockid(pthread_t t, clockid_t *clk)
{
	struct green *g = tid_green(t);

	if (g == NULL)
		return REAL(pthread_getcpuclockid)(t, clk);
	*clk = THREAD_CLOCK_OF(CLOCK_GREEN_BASE + (pid_t)(g->id & CLOCK_GREEN_MASK));
	return 0;
}

/* The thread that a thread CPU clock's kernel id names: 0, with the
 * thread, its id and its hub; -EINVAL: a green id no live thread has; 1:
 * none of greenshim's (a plain thread's, or main's without green
 * threads). */
static int clock_thread(pid_t tid, struct hub *self, struct green **g, uint64_t *id,
			struct hub **on)
{
	if (tid == 0) {
		/* The kernel's "calling thread". */
		if (self == NULL || hub_in_loop(self) || (*g = hub_current(self)) == NULL)
			return 1;
		*on = self;
		*id = (*g)->id;
	} else if (tid >= CLOCK_GREEN_BASE) {
		*g = gid_find_bits((uint32_t)(tid - CLOCK_GREEN_BASE), CLOCK_GREEN_MASK, id, on);
		if (*g == NULL)
			return -EINVAL;
	} else if (tid == getpid() && (*g = introspect_main_green(on)) != NULL) {
		*id = (*g)->id;
	} else {
		return 1;
	}
	return 0;
}

int preload_thread_clock(clockid_t clk, int64_t *ns)
{
	pid_t tid = (pid_t)~(clk >> 3);
	struct hub *self = hub_peek(), *on, *now_on;
	struct green *g, *now;
	uint64_t id, now_id;
	int r;

	if (clk >= 0 || (clk & 7) != THREAD_CLOCK_BITS || preload_native())
		return 1;
	for (int tries = 0;; tries++) {
		r = clock_thread(tid, self, &g, &id, &on);
		if (r != 0 || ns == NULL)
			return r;
		r = introspect_green_cpu_ns(g, id, on, ns);
		/* The caller itself, or main, which stays on its hub. */
		if (tid < CLOCK_GREEN_BASE)
			return r;
		/* Another, which may have ended or moved while it was read:
		 * read again unless it is still that thread, there. */
		if (clock_thread(tid, self, &now, &now_id, &now_on) != 0)
			return -EINVAL;
		if ((r == 0 && now == g && now_id == id && now_on == on) || tries == 100)
			return r;
	}
}

/*
 * Cancellation, deferred: the target ends at its next cancellation point,
 * or now if it waits in one (src/green.c, green_cancel; the wait returns
 * -ECANCELED and the wrapper, its state cleaned up, acts in preload_fail).
 * The cancellation points are the waits glibc cancels in: reads, writes,
 * accept, connect, poll, select, epoll_wait, the sleeps, condition waits,
 * sem_wait, join, the sigwait family, pause, sigsuspend, the wait family,
 * and stdio calls that wait; and pthread_testcancel. A call that finishes
 * without waiting does not act (glibc acts on entry). A thread of the
 * asynchronous type ends at once when it cancels itself or turns
 * asynchronous or enabled with a cancellation due, as glibc's; cancelled
 * by another, at the preemption tick that next finds it in the program's
 * own code (src/preempt.c: one or two ticks later, where glibc signals it
 * at once), or at a cancellation point before that. With a shared TLS
 * (GREENSHIM_TLS=shared) a green thread has no cleanup chain of its own:
 * ENOTSUP.
 */
GS_WRAP int pthread_cancel(pthread_t t)
{
	struct green *g = tid_green(t);

	if (g == NULL)
		return REAL(pthread_cancel)(t);
	if (!(g->flags & GREEN_OWN_TLS))
		return green_ended(g) ? ESRCH : ENOTSUP;
	if (green_ended(g))
		return 0; /* glibc: a thread that has ended but is not joined */
	/* Only its own hub touches a thread's flags and wait. */
	if (elsewhere(g, hub_peek()))
		return hub_post_kill_green(g, KILL_MSG_CANCEL, NULL) == 0 ? 0 : EAGAIN;
	green_cancel(g);
	/* On itself, glibc acts at once only for the asynchronous type. */
	if (g == self_green() && (g->flags & GREEN_CANCEL_ASYNC))
		preload_cancel_act();
	return 0;
}

/* A cancellation setting of green thread g, kept in one flag: value is
 * set (flag on) or unset (off); the old value goes to *old. A thread left
 * asynchronous and enabled with a cancellation due (another hub's taken
 * first, as pthread_testcancel) ends at once, as glibc's. */
static int cancel_setting(struct green *g, unsigned flag, int value, int set, int unset, int *old)
{
	if (value != set && value != unset)
		return EINVAL;
	if (old != NULL)
		*old = (g->flags & flag) ? set : unset;
	if (value == set)
		g->flags |= flag;
	else
		g->flags &= ~flag;
	if (g->flags & GREEN_CANCEL_ASYNC) {
		hub_take_kills_sent(g->hub);
		preload_cancel_act();
	}
	return 0;
}

GS_WRAP int pthread_setcancelstate(int state, int *old)
{
	struct green *g = self_green();

	if (g == NULL || !(g->flags & GREEN_OWN_TLS))
		return REAL(pthread_setcancelstate)(state, old);
	return cancel_setting(g, GREEN_CANCEL_DISABLED, state, PTHREAD_CANCEL_DISABLE,
			      PTHREAD_CANCEL_ENABLE, old);
}

GS_WRAP int pthread_setcanceltype(int type, int *old)
{
	struct green *g = self_green();

	if (g == NULL || !(g->flags & GREEN_OWN_TLS))
		return REAL(pthread_setcanceltype)(type, old);
	return cancel_setting(g, GREEN_CANCEL_ASYNC, type, PTHREAD_CANCEL_ASYNCHRONOUS,
			      PTHREAD_CANCEL_DEFERRED, old);
}

GS_WRAP void pthread_testcancel(void)
{
	struct green *g = self_green();

	if (g == NULL || !(g->flags & GREEN_OWN_TLS)) {
		REAL(pthread_testcancel)();
		return;
	}
	/* A pthread_cancel another hub sent before now acts here, as
	 * natively once it returned (hub_take_kills_sent). */
	hub_take_kills_sent(g->hub);
	preload_cancel_act();
}
