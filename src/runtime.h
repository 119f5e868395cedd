/*
 * greenshim runtime: the internal interface of src/.
 *
 * The runtime knows nothing of the libc symbols that preload/ replaces. It
 * offers green threads (struct green) scheduled cooperatively by one hub per
 * OS thread (struct hub), and the ways a green thread can wait: on a wait
 * queue, on fd readiness, on a timer, or on a message from another OS
 * thread. Everything that preload/ builds (pthreads, sockets, sleeps) is a
 * short path over these.
 *
 * Conventions:
 *  - functions return 0 (or a count) on success and a negative errno value
 *    on failure; nothing here sets errno;
 *  - times are CLOCK_MONOTONIC deadlines in nanoseconds (int64_t);
 *    GS_NO_DEADLINE waits forever;
 *  - everything that takes a struct hub is called on that hub's OS thread,
 *    except hub_remote_post(), the one thread-safe entry.
 *
 * The tools' view of it (the control socket, introspection, profiles,
 * the blocking monitor) has its own header, src/tools.h, for the files
 * that serve or feed the tools.
 *
 * The design is explained in docs/ARCHITECTURE.md.
 */
#ifndef GS_RUNTIME_H
#define GS_RUNTIME_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <ev.h>

#if defined(__x86_64__)
#include "arch/x86_64/ctx.h"
#include "arch/x86_64/tls.h"
#else
#error "greenshim: no src/arch/ support for this CPU yet"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define GS_ASAN 1 /* tell ASan about every stack switch (hub.c) */
#endif
#if defined(__SANITIZE_THREAD__)
#define GS_TSAN 1 /* every context is a TSan fiber (ctx_switch below) */
#endif

/* The invariants the design comments state, checked where they can break
 * in sanitizer builds (make check SANITIZE=..., which defines
 * GS_CHECK_INVARIANTS): a broken one stops the program with its name and
 * place, as Go's runtime throws. Compiled out otherwise. */
#ifdef GS_CHECK_INVARIANTS
#define GS_INVARIANT(cond, what) \
	((cond) ? (void)0 : gs_invariant_failed(what, __FILE__, __LINE__))
_Noreturn void gs_invariant_failed(const char *what, const char *file, int line);
#else
#define GS_INVARIANT(cond, what) ((void)0)
#endif

#define GS_API __attribute__((visibility("default")))
#define GS_LIKELY(x) __builtin_expect(!!(x), 1)
#define GS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GS_CONTAINER_OF(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/* Asks for the cache line at p, which is about to be read (hub.c); never
 * faults. Not __builtin_prefetch: gcc 12 at -O1 and above drops some of
 * those, such as every one of a loop's over an array of pointers (a
 * function made of such loops compiled to a bare return). */
static inline void gs_prefetch(const void *p)
{
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
}

struct green;
struct hub;
struct ctl_call;
struct sample;

/* ---- the runtime's own memory ----------------------------------------- */

/*
 * Everything the runtime allocates for itself comes from glibc's
 * allocator (mem.c), never from the malloc the program brings: a program's allocator calls wrappers (pthread_once,
 * pthread_mutex_lock, syscall) from inside its own start, holding its own
 * lock, and a hub made there with that allocator would wait for that lock
 * for ever (tcmalloc); and the runtime's allocations in the hub's context
 * would use the per-thread caches of whichever thread's TLS is loaded.
 * Memory the program frees or gets (getline's buffer, open_memstream's)
 * stays the program's malloc's.
 */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *gs_malloc(size_t n);
void *gs_calloc(size_t n, size_t size);
void *gs_realloc(void *p, size_t n);
void gs_free(void *p);
/* Set in a child made by the vfork wrapper, which glibc's fork locks did
 * not prepare (_Fork): another OS thread may have held malloc's lock, so
 * the runtime's frees leave the memory to the exec or exit to come. */
extern bool gs_mem_keep;
char *gs_strdup(const char *s);

/* ---- arch/<cpu>/: the context switch ------------------------------------ */

/* A suspended context: the callee-saved state is on its own stack. */
struct ctx {
	void *sp;
#ifdef GS_TSAN
	void *fiber; /* TSan's, for ctx_make's; the OS thread's own for the
		      * context a thread started on (taken at its first switch) */
#endif
};

/* Prepares c so that switching to it calls entry(arg) on the stack below
 * stack_top. entry must never return. */
void ctx_make(struct ctx *c, void *stack_top, void (*entry)(void *), void *arg);
#ifndef GS_TSAN
/* Saves the running context into from and resumes to. */
void ctx_switch(struct ctx *from, struct ctx *to);
/* c, made by ctx_make, will not run again (its thread is released). */
static inline void ctx_release(struct ctx *c)
{
	(void)c;
}
#else
/* Under ThreadSanitizer each context is one of its fibers: it keeps a
 * shadow stack and a clock per fiber, and a switch between contexts of one
 * OS thread orders what each did before it (flags 0: they take turns).
 * The switch is announced just before the stack changes, with no
 * instrumented code between. */
void ctx_switch_raw(struct ctx *from, struct ctx *to);
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
static inline void ctx_switch(struct ctx *from, struct ctx *to)
{
	if (from->fiber == NULL)
		from->fiber = __tsan_get_current_fiber();
	__tsan_switch_to_fiber(to->fiber, 0);
	ctx_switch_raw(from, to);
}
void ctx_release(struct ctx *c);
#endif

/* ---- config.c: GREENSHIM_* variables --------------------------------- */

struct gs_config {
	size_t stack_size;   /* default green stack size, bytes, page multiple */
	bool native_threads; /* GREENSHIM_THREADS=native: threads stay real */
	int64_t preempt_ns;  /* GREENSHIM_PREEMPT_MS; 0: never preempt */
	unsigned pool_size;  /* GREENSHIM_POOL_SIZE: worker threads at most */
	bool file_io_pool;   /* GREENSHIM_FILE_IO=pool: regular files on it */
	int64_t max_blocking_ns; /* GREENSHIM_MAX_BLOCKING_MS; 0: no monitor */
	const char *log_path;    /* GREENSHIM_LOG; NULL: stderr */
	bool control;            /* GREENSHIM_CONTROL: the greenctl socket */
	const char *profile_path; /* GREENSHIM_PROFILE; NULL: no whole-run profile */
	unsigned profile_kinds;   /* GREENSHIM_PROFILE_KINDS: PROF_* bits */
	bool profile_all_frames;  /* GREENSHIM_PROFILE_FRAMES=all */
	bool tls_green;           /* GREENSHIM_TLS=green: a TLS per green thread */
	bool tls_explicit;        /* GREENSHIM_TLS was set */
	unsigned tls_load;        /* GREENSHIM_TLS_LOAD: enum config_tls_load */
	const char *native_libs;  /* GREENSHIM_NATIVE_LIBS: names, colon-separated */
	bool syscalls_trap;       /* GREENSHIM_SYSCALLS=trap: raw system calls caught */
	unsigned hubs;            /* GREENSHIM_HUBS: the scheduler's hubs */
};

/* GREENSHIM_TLS_LOAD: how a green thread's thread pointer is loaded. */
enum config_tls_load {
	CONFIG_TLS_LOAD_AUTO,     /* the cheapest way that works here */
	CONFIG_TLS_LOAD_WRFSBASE, /* TLS_FAST */
	CONFIG_TLS_LOAD_LDT,      /* TLS_LDT */
	CONFIG_TLS_LOAD_SYSCALL,  /* TLS_SLOW */
};

#define CONFIG_HUBS_MAX 64

#define CONFIG_POOL_DEFAULT 10          /* as gevent's thread pool */
#define CONFIG_MAX_BLOCKING_DEFAULT_MS 100 /* as gevent's max_blocking_time */
#define CONFIG_PREEMPT_DEFAULT_MS 2     /* under LD_PRELOAD (preload/init.c) */

/* The preemption interval when GREENSHIM_PREEMPT_MS is unset: defined by
 * the preloaded library (preload/init.c); absent (0) when the runtime is
 * linked into a program, whose own code would then be taken for a safe
 * point (src/preempt.c). */
extern const int64_t gs_preempt_default_ns __attribute__((weak));
/* Whether raw system calls are trapped when GREENSHIM_SYSCALLS is unset:
 * defined (true) by the preloaded library; absent (false) when the runtime
 * is linked into a program (src/trap.c). */
extern const bool gs_syscalls_default __attribute__((weak));

extern struct gs_config gs_config;

/* Reads the environment once; an invalid value prints one line naming the
 * variable and exits with status 2. Safe to call many times. */
void config_load(void);
/* A program that checks the variables before it execs one under greenshim
 * (tools/greenrun) reports a bad value its own way: called instead of the
 * line on stderr, then the program exits with status 2 as usual. */
extern void (*config_reject_hook)(const char *name, const char *value, const char *form);
/* Parses "123", "64k", "8M" into bytes. 0, -EINVAL or -ERANGE. */
int config_parse_size(const char *s, size_t *out);
/* The tightest CPU bandwidth limit (cgroup v2's cpu.max, v1's CFS quota)
 * of the process's cgroups and their ancestors, in whole CPUs rounded up,
 * or 0 for none. From cgroup_file and mountinfo_file, /proc/self/cgroup
 * and /proc/self/mountinfo (cgroup.c). */
unsigned cgroup_cpu_limit(const char *cgroup_file, const char *mountinfo_file);
/* The kinds of profile (profile.c), as GREENSHIM_PROFILE_KINDS and
 * greenctl's -k name them: "cpu", "wait", "lock", a comma-separated list
 * of them, or "all". */
enum prof_kind { PROF_CPU = 1, PROF_WAIT = 2, PROF_LOCK = 4, PROF_ALL = 7 };
#define PROF_KINDS_FORM "cpu, wait, lock, a comma-separated list of them, or all"
/* The PROF_* bits of s, or -EINVAL. */
int config_parse_profile_kinds(const char *s);
const char *config_profile_kind_name(unsigned kind); /* one PROF_* bit: "cpu"... */
const char *config_tls_load_name(unsigned way); /* enum config_tls_load: "auto"... */
/* The file of one kind of a profile of kinds: base itself for one kind,
 * "base.KIND" for several. 0 or -ENAMETOOLONG. */
int config_profile_file(char *buf, size_t size, const char *base, unsigned kind, unsigned kinds);

/* ---- time.c ----------------------------------------------------------- */

#define GS_NO_DEADLINE INT64_MAX

int64_t gs_now_ns(void); /* CLOCK_MONOTONIC */
/* now + ns, saturating at GS_NO_DEADLINE; ns < 0 means forever. */
int64_t gs_deadline_after(int64_t ns);

/* ---- stack.c: green thread stacks ------------------------------------- */

/* Usable stack [lo, hi); guard bytes below lo fault on access. */
struct stack {
	char *lo;
	char *hi;
	unsigned guard; /* 0 or STACK_GUARD_SIZE */
	unsigned vg_id; /* valgrind's name for it while in use (stack.c) */
};

struct stack_class;

struct stack_pool {
	struct stack_class *classes;
	size_t nclasses;
};

enum stack_guard_mode {
	STACK_GUARD_AUTO,     /* MADV_GUARD_INSTALL if the kernel has it */
	STACK_GUARD_MADVISE,  /* guard markers: no VMA per guard (Linux 6.13+) */
	STACK_GUARD_MPROTECT, /* PROT_NONE pages: one more VMA per stack */
};

#define STACK_GUARD_SIZE (64 * 1024)
/* Freed stacks that keep their memory per size class whatever their age;
 * the others keep it until they stay free for a whole period of
 * STACK_DECAY_NS (stack.c). */
#define STACK_WARM_MAX 16
#define STACK_DECAY_NS 1000000000LL

size_t stack_default_size(void); /* the native default, see stack.c */
size_t stack_round(size_t size);  /* page multiple, at least the minimum */
int stack_get(struct stack_pool *p, size_t size, struct stack *out);
void stack_put(struct stack_pool *p, const struct stack *s);
/* A stack the program gave (pthread_attr_setstack), as it starts and
 * stops being a green thread's: only valgrind is told. */
void stack_adopt(struct stack *s);
void stack_disown(const struct stack *s);
void stack_pool_destroy(struct stack_pool *p);
/* Decay (stack.c): has some class more warm stacks than STACK_WARM_MAX?
 * stack_pool_period() begins a period; stack_pool_decay() ends one, gives
 * back the stacks that stayed free all through it but the most recent,
 * begins the next, and says whether the pool still has an excess. */
bool stack_pool_excess(const struct stack_pool *p);
void stack_pool_period(struct stack_pool *p);
bool stack_pool_decay(struct stack_pool *p);
/* For tests: force a guard mechanism; returns the mode in force. */
enum stack_guard_mode stack_guard_mode(enum stack_guard_mode want);

/* ---- tls.c: a TLS block and descriptor per green thread ------------- */

enum tls_mode {
	TLS_SHARED, /* green threads share their OS thread's TLS */
	TLS_FAST,   /* their own, loaded with WRFSBASE at each switch */
	TLS_LDT,    /* their own, below 4 GiB, loaded from a selector of the
		     * LDT; the contexts without one (the OS thread's own TLS,
		     * threads made past the last slot) with WRFSBASE where the
		     * kernel keeps it (gs_tls_rest_fast), else as TLS_SLOW */
	TLS_SLOW,   /* their own, loaded with arch_prctl: no WRFSBASE and no
		     * LDT (tls.c) */
};

extern enum tls_mode gs_tls_mode; /* settled by tls_init() */
extern bool gs_tls_rest_fast;     /* TLS_LDT: the rest with WRFSBASE */

/* Reads GREENSHIM_TLS and what glibc offers, once; any thread. */
void tls_init(void);
/* Bytes a green stack must have for its TLS block, on top of its frames. */
size_t tls_reserve(void);
/* Builds g's descriptor and TLS below g (the top of its stack) and sets
 * g->tp; *top is where its frames may begin. 0, -EINVAL (a program's
 * stack too small), -EAGAIN (no memory). On g's hub's OS thread. */
int tls_make(struct hub *h, struct green *g, char **top);
/* On g itself: at its first run, and as it ends (thread_local
 * destructors). */
/* g, made on one hub and never run, is to run on t's OS thread. */
void tls_move(struct green *g, struct hub *t);
void tls_first_run(struct green *g);
void tls_exit(struct green *g);
/* g is dead and off its stack: its TLS goes (libc's block is kept for the
 * hub's next green thread). */
void tls_release(struct hub *h, struct green *g);
void tls_hub_fini(struct hub *h);
/* In a child just forked, on h, its one hub: the hub's descriptors name
 * the child's thread. */
void tls_fork_child(struct hub *h);
/* Around glibc's call on a robust mutex (preload/sync.c) from g, the
 * running green thread: glibc keeps the robust mutexes a thread holds on
 * a list that starts in its descriptor, reaches that head both FS-relative
 * and through THREAD_SELF (the OS thread's descriptor, see tls.c), and
 * links the mutexes to the head's address. The call runs on the OS
 * thread's own thread pointer: every access is to the OS thread's list,
 * the one glibc registered with the kernel, which marks those mutexes when
 * the process dies. begin says whether end is to follow (not for a thread
 * without a TLS of its own). No switch may come in between: glibc's code
 * is not preempted, and these calls do not park. */
bool tls_robust_begin(const struct green *g);
void tls_robust_end(const struct green *g);
/* The lowest address of g's TLS block: its frames' top. */
char *tls_block_lo(const struct green *g);
void tls_set_slow(void *tp);
/* Puts ours in front of glibc's SIGSETXID handler (the set*id calls),
 * once glibc has installed it: after an OS thread is made. */
void tls_setxid_wrap(void);
/* Green threads' TLS comes from the LDT's selectors or arch_prctl: the
 * hub's context then runs on whatever TLS is loaded (hub.c). */
static inline bool tls_hub_rides(void)
{
	return gs_tls_mode >= TLS_LDT;
}

/* The TLS the hub's context goes on when the one it runs on goes away
 * (hub.c, unlink_green): a block of its own, where one is cheap to load;
 * else the OS thread's. Sets h->fs. (tls_load(g), which loads the thread
 * pointer of g, the context about to run, follows struct green.) */
void tls_hub_park(struct hub *h);
/* A thread of h made one to run on t (h itself, or another hub): t's
 * context gets its own block now if it has none (TLS_LDT). */
void tls_spare_for(struct hub *h, struct hub *t);

/* ---- waitq.c: waits and wait queues ------------------------------------ */

/* One blocking wait of one green thread; lives on that thread's stack.
 * The first wait_complete() decides the result; later ones are ignored. */
/* A wait's progress (struct wait's state). A waker on another hub claims
 * it, then the waiter's hub ends it (wait_complete); until then nobody
 * else may end it and the waiter stays parked. */
enum wait_state {
	WAIT_OPEN,    /* nobody has ended it */
	WAIT_CLAIMED, /* a waker on another hub has: its result is on the way */
	WAIT_ENDED,   /* result set; the waiter may go */
};

struct wait {
	struct green *g;
	int result;
	uint8_t state;      /* enum wait_state: atomic, wait_done() */
	bool interruptible; /* a signal handler may end it (hub_signal) */
	bool cancelpoint;   /* a cancellation point (pthread_cancel ends it) */
	uint8_t kind;       /* enum wait_kind: what it waits on (introspect.c) */
	long num;           /* fd, pid, number of fds, by kind */
	const void *obj;    /* mutex, cond, semaphore, joined green, by kind */
	int64_t deadline;   /* set by wait_park */
	struct wait *remote_next; /* in the waiter's hub's remote_waits */
};

/* What a wait waits on, for the tools (introspect.c): set by whoever begins
 * the wait, with wait_label(), after wait_init(); WAIT_OTHER otherwise. */
enum wait_kind {
	WAIT_OTHER,
	WAIT_FD_READ,  /* num: the fd */
	WAIT_FD_WRITE, /* num: the fd */
	WAIT_POLL,     /* num: how many fds (poll, select, epoll_wait) */
	WAIT_MUTEX,    /* obj: struct gsync_mutex (its owner is known) */
	WAIT_COND,     /* obj: struct gsync_cond */
	WAIT_SEM,      /* obj: struct gsync_sem */
	WAIT_RWLOCK,   /* obj: the lock */
	WAIT_BARRIER,  /* obj: the barrier */
	WAIT_ONCE,     /* obj: the once control */
	WAIT_FUTEX,    /* obj: the futex word */
	WAIT_SLEEP,    /* until the wait's deadline */
	WAIT_JOIN,     /* obj: struct green joined */
	WAIT_POOL,     /* obj: the pool call (a worker thread runs it) */
	WAIT_CHILD,    /* num: pid, or -1 for any child */
	WAIT_SIGNAL,   /* sigwait, poll with no fd: the deadlock report is
			* not written while one waits so */
	WAIT_KINDS
};

static inline void wait_label(struct wait *w, enum wait_kind kind, const void *obj, long num)
{
	w->kind = (uint8_t)kind;
	w->obj = obj;
	w->num = num;
}

#define WAITER_EXCLUSIVE 1u /* an fd waiter that consumes: wake one of them */
#define WAITER_FD_OPEN 2u   /* fdw_add: the caller just used the fd, so it is
			     * open; skips the check (one system call) */
/* FDW_EXC's events, epoll's (EPOLLPRI, EPOLLRDBAND, EPOLLWRBAND,
 * EPOLLRDHUP), in these bits of the flags. */
#define WAITER_EXC_SHIFT 16
#define WAITER_EXC_EVENTS(flags) ((uint32_t)(flags) >> WAITER_EXC_SHIFT)

/* One entry of a wait in one queue. A wait may have entries in several
 * queues (poll on many fds); each entry is unlinked by whoever wakes it or
 * by its owner after waking. */
struct waiter {
	struct waiter *prev, *next;
	struct waitq *q;
	struct wait *wait;
	unsigned flags;
	int revents; /* fd waits: EV_READ/EV_WRITE/EV_ERROR seen */
};

struct waitq {
	struct waiter *head, *tail;
};

/* Results a waker hands to a wait; negative values are errors. */
enum {
	WAKE_OK = 0,
	WAKE_RETRY = 1, /* the resource was freed: try again */
	WAKE_OWNED = 2, /* the resource was handed to the waiter */
	WAKE_SIGNAL = 3, /* a handler with SA_RESTART ran: restart the call
			  * if it restarts (signal(7)), else fail with EINTR;
			  * a handler without SA_RESTART gives -EINTR */
};

void wait_init(struct wait *w);
/* A wait that a signal handler interrupts, as a blocking system call; it
 * is a cancellation point too (wait_park), unless the caller says not. */
void wait_init_interruptible(struct wait *w);
/* Parks the current green thread until w completes or the deadline passes
 * (-ETIMEDOUT). A deadline already past returns -ETIMEDOUT at once. A
 * cancellation point returns -ECANCELED, at once or when woken, while the
 * thread has a cancellation pending that it does not disable
 * (green_cancel): its caller cleans up and returns it, and the pthread
 * layer acts on it. */
int wait_park(struct wait *w, int64_t deadline);
/* The caller of an interruptible wait has undone it (taken its waiters off
 * their queues): the handlers of the signals that ended it, or came as it
 * ended, run now, on the waiting thread, before the call returns or is
 * made again (wait_park). A handler may leave with siglongjmp. */
void wait_after(struct wait *w);
/* Passes on the process's signals h deferred (hub_defer_signal) to the
 * threads they are for: on h, outside signal handlers. */
void hub_take_deferred(struct hub *h);
/* Ends w with result unless someone ended or claimed it first: true if
 * this call did. Any OS thread may call it, under the lock of the object
 * whose queue holds w (so w is alive); on another hub than the waiter's,
 * it claims w and posts it to the waiter's hub, which ends it. */
bool wait_complete(struct wait *w, int result);

/* Ended or claimed: no waker may hand w anything any more. */
static inline bool wait_done(const struct wait *w)
{
	return __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != WAIT_OPEN;
}

static inline void waitq_init(struct waitq *q)
{
	q->head = q->tail = NULL;
}

static inline bool waitq_empty(const struct waitq *q)
{
	return q->head == NULL;
}

void waitq_add(struct waitq *q, struct waiter *e, struct wait *w, unsigned flags);
void waitq_add_front(struct waitq *q, struct waiter *e, struct wait *w, unsigned flags);
void waitq_remove(struct waiter *e); /* no-op if not linked */

/* Whether e is still in its queue. A waiter woken by the waker that
 * unlinked it (the usual case) may skip the queue's lock to leave it: the
 * waker's unlinking happened before its wait_complete. */
static inline bool waitq_linked(const struct waiter *e)
{
	return __atomic_load_n(&e->q, __ATOMIC_RELAXED) != NULL;
}
/* Unlinks and returns the first entry whose wait is not done yet. */
struct waiter *waitq_pop_live(struct waitq *q);
/* 1 if a waiter was woken, 0 if none was waiting. */
int waitq_wake_one(struct waitq *q, int result);
/* The number of waiters woken. */
unsigned waitq_wake_all(struct waitq *q, int result);
/* Waits on q alone until woken or the deadline: the waker's result. */
int waitq_wait(struct waitq *q, int64_t deadline);
/* The same, labelled for the tools (wait_label). */
int waitq_wait_as(struct waitq *q, int64_t deadline, enum wait_kind kind, const void *obj);

/* ---- green.c: green threads ------------------------------------------- */

enum green_state {
	GREEN_RUNNING,
	GREEN_READY,  /* in the run queue */
	GREEN_PARKED, /* waiting; something will unpark it */
	GREEN_DEAD,   /* finished; joinable until joined */
};

/* struct green's detached once a join of it has returned: the handle is
 * spent (a join or a detach says ESRCH, as glibc's). */
#define GREEN_JOINED 2

#define GREEN_SIGWAKE 0x1u   /* woken from an open wait to run a signal's
			      * handler (hub_sigwake): parks again after,
			      * unless the wait is interruptible */
#define GREEN_ROOT 0x2u      /* the OS thread's own context */
#define GREEN_HUB 0x4u       /* the hub's context */
#define GREEN_USER_STACK 0x8u /* stack given by the program: not ours */
#define GREEN_OWN_TLS 0x10u   /* tls.c: its own TLS and descriptor at tp */
#define GREEN_CANCEL_PENDING 0x20u  /* pthread_cancel asked for it */
#define GREEN_CANCEL_DISABLED 0x40u /* pthread_setcancelstate(DISABLE) */
#define GREEN_CANCEL_ASYNC 0x80u    /* PTHREAD_CANCEL_ASYNCHRONOUS asked */
#define GREEN_UNWINDING 0x100u      /* cancelled or exiting: no new cancel */
#define GREEN_PREEMPTED 0x200u      /* READY because the tick preempted it
				     * (for the wait profile: profile.c) */
#define GREEN_IN_RUNQ 0x400u        /* in the run queue; kept with
				     * GS_CHECK_INVARIANTS only (hub.c) */
#define GREEN_MOVING 0x800u         /* handed to another hub, not yet
				     * linked there (sched_moves_pause) */
/* Bits 12-15: FILE locks the program holds through flockfile and
 * ftrylockfile (preload/stdio.c), up to 15, then counted again from
 * stdio.c's table as they are let go (for good with GREENSHIM_TLS=shared,
 * which keeps none): glibc's lock names the hub's OS thread as its owner,
 * so the thread neither moves nor is preempted while it holds one. */
#define GREEN_FLOCK_ONE 0x1000u
#define GREEN_FLOCK_MASK 0xf000u
/* preload/stdio.c's calls in progress (bits 16-23): a cancellation is
 * acted on when the outermost ends, with the FILE let go. */
/* Bits 24-29: the index of the scheduler hub that made it (sched.c), whose
 * pools its stack and TLS go back to. */
#define GREEN_HOME_SHIFT 24
#define GREEN_HOME_MASK (0x3fu << GREEN_HOME_SHIFT)
#define GREEN_STDIO_ONE 0x10000u
#define GREEN_STDIO_MASK 0xff0000u
/* Between wait_init_interruptible and wait_after: the process's signals
 * for it come by the loop (hub_defer_signal). */
#define GREEN_INTR_WAIT 0x40000000u

struct green_attr {
	size_t stack_size;  /* 0: gs_config.stack_size */
	void *stack_addr;   /* with stack_size: the program's own stack */
	bool detached;
	bool here;          /* on the creator's hub, never placed elsewhere */
};

/* Signals pending for one green thread alone (sigmask.c), out of struct
 * green: few threads ever have one, and struct green sits at the top of
 * its thread's stack, so every byte of it pushes the thread's frames
 * deeper (one more stack page touched by a thread whose read is
 * interrupted by the preemption tick: about 1.4 KiB per connection in the
 * demo server when these fields were inline). Allocated by the first
 * pthread_kill that keeps one, freed with the thread. */
struct green_tsig {
	uint64_t pending;    /* signals pending for this thread alone */
	uint16_t count[64];  /* instances pending per signal (queued RT) */
	/* The instances that came with a siginfo (pthread_sigqueue), oldest
	 * first; the others are SI_USER, as from pthread_kill. */
	struct tsig_info *infos;
};

struct tsig_info {
	struct tsig_info *next;
	unsigned ahead; /* instances of its signal pending before it */
	siginfo_t info;
};

/* Kept within 256 bytes (with the 64-byte alignment, what the thread's
 * stack gives up at its top): see struct green_tsig. */
/* A green thread's getrusage(RUSAGE_THREAD), what its OS threads' changed
 * while it ran, counted at switches once the program asks (introspect.c,
 * GS_STATS_RUSAGE); the switches are its own: a wait is a voluntary one,
 * a preemption or a yield an involuntary one. It lies right below the
 * thread's struct green, wherever that is (the top of its stack, the
 * root's allocation: green_ru), not in it: struct green fits 256 bytes. */
struct green_rusage {
	int64_t utime_us, stime_us;
	long minflt, majflt, inblock, oublock, nvcsw, nivcsw;
};

struct green {
	struct ctx ctx;
	void *tp;           /* its thread pointer (FS base): tls.c */
	struct hub *hub;
	struct green *next; /* run queue; a hub's adopt or release list */
	uint8_t state;      /* enum green_state */
	uint8_t detached;   /* pthread_detach'ed, or made so; GREEN_JOINED */
	uint16_t join_lock; /* gsync_lock: state DEAD, join_wait, detached:
			     * a joiner or a detach may be on another hub */
	int saved_errno;
	unsigned flags;
	int8_t intr_result;    /* -EINTR or WAKE_SIGNAL for that wait (intr_seq) */
	uint8_t os_locks;      /* glibc's mutexes it holds that name its OS
				* thread (preload/sync.c): it stays on its hub;
				* at UINT8_MAX for good */
	uint16_t fs_sel;       /* tls.c: tp's LDT selector (TLS_LDT); 0: none */
	/* Up to here, and the two below: what a switch to it and its wake-up
	 * read and write, in its first cache line (hub.c, runq_pop). */
	uint64_t switches;
	int64_t since;         /* introspect.c: when it entered its state */
	uint64_t id;
	void *(*start)(void *);
	union {
		void *arg;    /* until it starts */
		void *retval; /* once it has ended */
	};
	struct wait *wait;      /* the wait in progress, if parked */
	struct wait *join_wait; /* the joiner's wait, if one is joining */
	ev_timer timer;         /* deadline of the wait in progress */
	struct stack stack;
	struct green *all_prev, *all_next; /* every live green of the hub */
	uint64_t sigmask;      /* sigmask.c: the program's mask for it */
	uint64_t waitset;      /* the signals a sigwait of it waits for */
	struct green_tsig *tsig; /* its own pending signals; NULL: none yet */
	int64_t cpu_ns;        /* its run slices, counted while stats are on */
	uint32_t wait_seq;     /* waits begun (mod 2^32); names the wait in progress */
	uint32_t intr_seq;     /* the wait a signal interrupted */
	void *user; /* for preload/: the pthread layer's per-thread data */
#ifdef GS_ASAN
	void *asan_fake;
	const void *asan_bottom;
	size_t asan_size;
#endif
	char name[16];
};

static inline struct green_rusage *green_ru(const struct green *g)
{
	return (struct green_rusage *)(uintptr_t)g - 1;
}

static inline uint64_t green_tpending(const struct green *g)
{
	return g->tsig != NULL ? g->tsig->pending : 0;
}

/* tls.c's: loads the thread pointer of g, the context about to run. */
static inline void tls_load(const struct green *g)
{
	if (GS_LIKELY(gs_tls_mode == TLS_FAST))
		arch_tp_set_fast(g->tp);
	else if (GS_LIKELY(g->fs_sel != 0))
		arch_tp_load_sel(g->fs_sel);
	else if (GS_LIKELY(gs_tls_rest_fast))
		arch_tp_set_fast(g->tp);
	else
		tls_set_slow(g->tp);
}

/* Creates a green thread, ready to run after the caller parks or yields. */
int green_spawn(const struct green_attr *a, void *(*fn)(void *), void *arg,
		struct green **out);
/* g has ended: DEAD, or released with its memory given back since (id 0,
 * which no thread has: green.c's opening comment). */
static inline bool green_ended(const struct green *g)
{
	return g->state == GREEN_DEAD || g->id == 0;
}
/* 0, -EDEADLK (self), -EINVAL (detached, or being joined), -ESRCH
 * (joined), -ETIMEDOUT, -EBUSY (deadline 0 and still running). */
int green_join(struct green *g, void **retval, int64_t deadline);
int green_detach(struct green *g);
_Noreturn void green_exit(void *retval);
/* Called by every green thread that ends (the root too, if it ends with
 * green_exit), on its own stack, before it is marked dead: the pthread
 * layer runs thread-specific data destructors there. */
void green_set_exit_hook(void (*hook)(struct green *));
/* Runs a new green thread's start routine in its place (the pthread layer
 * sets up what glibc's start_thread does around it) and returns its
 * result; NULL: start(arg) itself. */
void green_set_run_hook(void *(*run)(struct green *));
/* Asks g to end at its next cancellation point (pthread_cancel): a wait
 * at one that g is parked in ends with -ECANCELED now, unless g disabled
 * cancellation. On g's hub. */
void green_cancel(struct green *g);
/* Does g's next cancellation point act? */
static inline bool green_cancel_due(const struct green *g)
{
	return (g->flags & (GREEN_CANCEL_PENDING | GREEN_CANCEL_DISABLED | GREEN_UNWINDING)) ==
	       GREEN_CANCEL_PENDING;
}
/* Ends the calling green thread as its cancellation (the pthread layer
 * unwinds its stack and never returns). The preemption tick calls it for
 * a thread of the asynchronous type whose cancellation is due, where the
 * tick finds the program's own code under it (preempt.c). */
void green_set_cancel_hook(void (*act)(struct green *));
void green_cancel_now(struct green *g);
struct green *green_self(void);
/* Lets every ready green thread run once, then returns. */
void green_yield(void);
/* 0 once the deadline has passed, or the interrupting result: -EINTR for
 * any handled signal (a sleep's), -ECANCELED. */
int green_sleep_until(int64_t deadline);
/* The same, but a signal whose handlers all have SA_RESTART ends it with
 * WAKE_SIGNAL, for a caller whose call the kernel would restart. */
int green_nap_until(int64_t deadline);

/* ---- sched.c: the scheduler's hubs ------------------------------------- */

/* Makes the calling thread's hub the scheduler's first, where
 * GREENSHIM_HUBS asks for several; the other hubs start with the program's
 * second thread (sched_place). 0 or a negative errno. */
int sched_start(void);
int sched_hubs(void);
/* The hub a new green thread made on h is to run on. */
struct hub *sched_place(struct hub *h);
/* The root green thread whose pthread_t (its OS thread's own, the thread
 * pointer) is self: h's, or the first hub's (main), seen from h; NULL if
 * neither. */
struct green *sched_root_named(struct hub *h, uintptr_t self);
/* A program thread begins on h (counted where it will run) / ended. */
void sched_thread_started(struct hub *h);
void sched_thread_ended(struct hub *h);
/* Does h, the calling thread's hub, run another program thread besides
 * the caller, one that a call blocking the OS thread would hold up? */
bool sched_shared(const struct hub *h);
/* Is the caller, on its hub h, the process's only program thread (with
 * GREENSHIM_THREADS=native, its hub's)? Then no other thread can need its
 * OS thread, nor post it a signal or a cancellation through its hub, while
 * a call blocks it. */
bool sched_alone(const struct hub *h);
/* g, just preempted on h with other threads ready there: moved to an idle
 * hub if one is and g may move (sched.c). false: it stays. */
bool sched_share(struct hub *h, struct green *g);
/* No thread moves between hubs from the first call until the matching
 * resume, and none is in transit when the first returns (unless a hub
 * has not taken its own for 100 ms: it runs a thread that does not
 * yield): greenctl's ps, stacks and stats read one hub after another and
 * count each thread once. sched_moved_in: g, handed over by a move, is
 * linked on its new hub (GREEN_MOVING). */
void sched_moves_pause(void);
void sched_moves_resume(void);
void sched_moved_in(struct green *g);
/* Is g the thread another scheduler hub than h runs right now? A racy
 * read of each hub's current thread: a hint (gsync.c's mutex_spin). */
bool sched_runs_elsewhere(struct hub *h, const struct green *g);
/* Called by an interposed call that may have waited, as the last thing
 * before it returns to ra (its return address): if threads wait on this
 * hub and another is idle, the running thread goes on there, when its
 * stack allows (sched.c). errno is kept. */
void sched_settle(uintptr_t ra);
/* Whether the process's threads have all ended: the process ends. */
bool hub_ended(struct hub *h);
void sched_fork_child(struct hub *h);
/* The calling hub, one of several scheduler hubs, has nothing to run and
 * nothing of its own that could wake a thread (no fd or timer watched):
 * true if every hub is so now, with two program threads or more: the
 * process may be deadlocked. *epoch names this moment for
 * sched_stuck_confirm, which the caller calls after STUCK_GRACE_NS with
 * no wake-up: true if no hub was woken since, nothing is on its way to
 * one (a post, a signal), and no report was made since one was last
 * woken: the process is deadlocked. sched_stuck_end: the calling hub is
 * woken (before it reads what woke it). */
bool sched_stuck_begin(unsigned long *epoch);
bool sched_stuck_confirm(unsigned long epoch);
void sched_stuck_end(void);
/* In a handler on an extra hub h, for a signal the kernel gave h's OS
 * thread (not one of ours for a thread of h): true if it goes to the main
 * thread's hub instead (the main thread does not block it), which
 * delivers it there (sched_take_forwarded, from its wake-up callback). */
bool sched_forward_signal(struct hub *h, int sig, const siginfo_t *si);
void sched_take_forwarded(struct hub *h);
/* The scheduler's hub i (0 to sched_hubs() - 1). */
struct hub *sched_hub(int i);
/* Is h one of the scheduler's hubs (several hubs, and h not a hub of its
 * own on a real thread a native library made)? */
bool sched_member(const struct hub *h);
/* Where g's stack and TLS go back to once it is released. */
struct hub *sched_home(struct green *g);

/* ---- hub.c: the scheduler, one per OS thread ---------------------------- */

/* Message from another OS thread completing a wait on this hub. */
struct remote_msg {
	struct remote_msg *next;
	struct wait *wait;
	int result;
};

/* A signal a thread of another hub sent to one of this hub's green
 * threads (pthread_kill), or a cancellation (pthread_cancel): the hub
 * delivers it (sigmask_kill_here, green_cancel). */
struct kill_msg {
	struct kill_msg *next;
	struct green *g;
	uint64_t id; /* g's, checked: g may have ended and gone meanwhile */
	int sig;     /* or KILL_MSG_CANCEL */
	bool queued; /* with info (pthread_sigqueue's) */
	siginfo_t info;
};
#define KILL_MSG_CANCEL (-1)

/* A close in another OS thread of an fd this hub may watch (fdwait.c). */
struct close_msg {
	struct close_msg *next;
	int fd;
	unsigned gen;
};

struct fdw;

/* struct hub, a hub's whole state, is the runtime's own (hub_impl.h);
 * preload/ reaches a hub through the functions below. */
struct hub;

/* What preload/ reads of a hub on its fast paths, inline: struct hub's
 * first fields, in this order (hub_impl.h checks it). */
struct __attribute__((may_alias)) hub_view {
	struct ev_loop *loop;
	struct green *current;   /* the context running on the hub now */
	struct green *hub_green; /* the hub's own, which runs the loop */
	unsigned long program_signals; /* program handlers run on it so far */
};

/* The context running on h now: a green thread of the program, the
 * root, or the hub's own (hub_in_loop). */
static inline struct green *hub_current(const struct hub *h)
{
	return ((const struct hub_view *)(const void *)h)->current;
}

/* Does h's own context run (its loop, a handler the hub runs for one of
 * its threads), rather than a green thread? */
static inline bool hub_in_loop(const struct hub *h)
{
	const struct hub_view *v = (const void *)h;

	return v->current == v->hub_green;
}

/* Program signal handlers run on h so far (sigwait tells its own from a
 * handler's; PRELOAD_NO_TICK_EINTR a tick's EINTR from a handler's). */
static inline unsigned long hub_program_signals(const struct hub *h)
{
	return ((const struct hub_view *)(const void *)h)->program_signals;
}
/* Is a pthread_exit here the OS thread's own end: the hub's own context,
 * or the root of a real thread alone on its hub (one a native library
 * made), not the process's main thread? */
bool hub_exit_ends_os_thread(const struct hub *h);
/* Are threads of h ready to run, waiting for the running one? On h. */
bool hub_others_ready(const struct hub *h);
/* The kernel id of h's OS thread. */
int hub_os_tid(const struct hub *h);
/* The process's id, as of h's last fork: getpid() without a system call. */
int hub_pid(const struct hub *h);
/* Around a program's signal handler that the hub runs (preload/signal.c):
 * counted, and a thread preempted meanwhile is left alone. On a green
 * thread's own context (kmask: the first word of the signal frame's
 * uc_sigmask), the thread's mask has extra blocked while the handler
 * runs, as the kernel blocks it, and gets back what the frame says after
 * (sigmask_handler_enter, _leave). */
struct handler_frame {
	struct handler_frame *up; /* the handler this one interrupted */
	struct green *g; /* the thread the handler runs on, or NULL */
	uint64_t old;      /* its mask before */
	uint64_t at_entry; /* the frame's mask as the kernel wrote it */
};
void hub_handler_begin(struct hub *h, struct handler_frame *f, uint64_t extra, uint64_t *kmask);
void hub_handler_end(struct hub *h, struct handler_frame *f, uint64_t *kmask);
/* Is a program's signal handler running on h's current context
 * (hub_handler_begin)? Kept per context: a handler that waits leaves the
 * others outside it (hub_switch). */
bool hub_in_handler(const struct hub *h);
/* A longjmp (siglongjmp, longjmp) on h's current context is about to go
 * to a frame whose stack pointer is sp: the handlers it leaves (those
 * deeper on the same stack, or on another, a signal stack) are over. */
void hub_handlers_left(struct hub *h, uintptr_t sp);
/* g, a thread of the calling hub's, has a signal kept for it to handle on
 * its own context (sigmask_thread_kill): if parked in a wait, it runs now,
 * its wait still open; it handles the signal, then the wait ends with
 * EINTR if it is interruptible, or goes on (wait_park). */
void hub_sigwake(struct green *g);
/* The green thread a signal raised on h now is for (sigmask_raise_here),
 * or NULL: a signal of the process's. */
struct green *hub_kill_target(const struct hub *h);

/* The calling OS thread's hub, created on first use (NULL on ENOMEM). */
struct hub *hub_get(void);
/* The calling OS thread's hub if it has one. */
struct hub *hub_peek(void);
void hub_unpark(struct green *g);
/* Gives the CPU to the next ready green (or the hub); the caller has set its
 * own state (READY and queued, PARKED or DEAD) beforehand. */
void hub_switch_out(struct hub *h, struct green *cur);
/* The running green cur is preempted (src/preempt.c): to the hub, which
 * polls, then queues cur behind what the poll made ready. */
void hub_preempt(struct hub *h, struct green *cur);
/* The running green cur, READY again, goes to the back of h's run queue
 * (a yield's first half: the switch away is the caller's). */
void hub_requeue(struct hub *h, struct green *cur);
/* The running green cur yields to the hub, which polls, then runs its
 * queue, cur last: a preemption at a call's return (preempt_owed), where
 * no move to another hub is made. */
void hub_yield_polling(struct hub *h, struct green *cur);
void hub_runq_push(struct hub *h, struct green *g);
/* Called for a stuck hub: every green parked, and nothing (fd, timer,
 * remote work) left that could wake one. Once per stuck episode. */
void hub_set_stuck_hook(void (*hook)(struct hub *));
/* Called on the hub's context when the root has exited (green_exit from
 * the OS thread's own context) and no other green thread is left; it must
 * not return. The default exits the process with status 0. */
void hub_set_end_hook(void (*hook)(struct hub *));
/* Another OS thread will complete a wait here: announce it first (so the
 * hub is not reported stuck meanwhile), then post exactly once. */
/* Another hub claimed w (wait_complete): this hub is to end it. */
void hub_post_wait(struct hub *h, struct wait *w);
/* On the waiter's hub: ends a wait hub_post_wait brought. */
void wait_end_claimed(struct wait *w);
void hub_remote_begin(struct hub *h);
/* Releases g (dead, joined or detached) on its own hub, from any hub. */
void hub_release_remote(struct green *g);
/* Gives h the new green g (READY, never run) to link and run (sched.c). */
void hub_adopt_remote(struct hub *h, struct green *g);
void hub_remote_post(struct hub *h, struct remote_msg *m);
/* Sends sig to g, a green thread of h, from another OS thread: h
 * delivers it as its own thread's pthread_kill would; KILL_MSG_CANCEL:
 * h cancels g (green_cancel). 0 or -EAGAIN. */
int hub_post_kill(struct hub *h, struct green *g, int sig, const siginfo_t *si);
/* The same for the thread (g, id) that gid_find found on h: if it is no
 * longer there, h forwards it to the hub it went to, or drops it if it
 * has ended (hub.c, fate_of). */
int hub_post_kill_id(struct hub *h, struct green *g, uint64_t id, int sig, const siginfo_t *si);
/* The same to g wherever it runs, from any hub: the read of g->hub and the
 * post are one step under g->join_lock, which a move takes too
 * (hub_move_green). With si, sent with that siginfo (pthread_sigqueue)
 * where it is delivered at once. */
int hub_post_kill_green(struct green *g, int sig, const siginfo_t *si);
/* Called on h's OS thread by its running green thread about to look at
 * its own signals (its mask changes, its pending set is read or taken
 * from, pthread_testcancel): what other hubs posted to h's threads
 * (hub_post_kill) is taken first, as the hub's loop would take it, so that
 * a pthread_kill, pthread_sigqueue or pthread_cancel that returned before
 * has acted on its target, as natively. Until 2026-12-05 it waited for
 * the hub's next poll: a thread that three real-time signals were sent
 * to, told so through memory, unblocked them and had two handled (1 CI
 * run). Not inside a program's handler (sigmask_thread_kill is not
 * async-signal-safe): there they wait for the poll. */
void hub_take_kills_sent(struct hub *h);
/* Hands g, h's preempted or handed-over thread (READY, its stack in the
 * program's own code, or returning to it: sched.c), over to t, an idle
 * scheduler hub, to run there from now on. */
void hub_move_green(struct hub *h, struct green *g, struct hub *t);
/* The running cur leaves h for t, claimed idle (sched_settle): once its
 * context is saved, h's hub context moves it. Returns on t. */
void hub_hand_over(struct hub *h, struct green *cur, struct hub *t);

/* A stack back to h's pool (stack_put), whose decay h's loop then runs
 * (stack.c). */
void hub_stack_put(struct hub *h, const struct stack *st);
/* Releases what a hub owns; only with no green but the root left. */
void hub_destroy(void);
/* In a child just forked: the calling thread's hub keeps only the green
 * thread that forked (POSIX), gets its own event loop (the parent's epoll
 * set is not shared any more) and preemption timer. */
void hub_fork_child(void);
/* The runtime's own fds, by what they are: what a move must do. */
enum own_kind {
	OWN_OTHER = 1, /* libev's, unknown: not movable */
	OWN_BACKEND,   /* a hub's epoll fd (libev's backend) */
	OWN_WAKE,      /* a hub's wake-up eventfd */
	OWN_MONITOR,   /* the monitor's /proc fd for a hub */
	OWN_EXC,       /* a hub's set for exceptional conditions (fdwait.c) */
	OWN_CONTROL,   /* the control socket */
};
/* Is fd one the runtime opened for a hub or for itself? Any thread,
 * lock-free. */
bool hub_is_own_fd(int fd);
/* The runtime's fds from first to last, in order, in out (at most max):
 * how many. */
int hub_own_fds_between(unsigned first, unsigned last, int *out, int max);
struct epoll_event;
/* libev's wait for events (its epoll backend's epoll_wait, which it calls
 * through the PLT, on the calling hub's epoll fd): the same, except that
 * it ends at the earliest timed wait of the hub to the nanosecond, where
 * libev would round its time up to whole milliseconds and to one at
 * least, and that a preemption tick does not end it. -1 and errno as
 * epoll_wait. */
int hub_loop_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms);
/* The fd-placement lock: held while the runtime makes an fd and places
 * it (the kernel gives it the lowest free number for a moment), and by
 * the program's dup2 and dup3 (preload/fd.c), so that neither replaces
 * the other's new fd. Never held while waiting for another thread. */
void hub_own_lock(void);
void hub_own_unlock(void);
/* Under the lock: a new fd of the runtime's moved to the top of the
 * numbers below 1024 (or the open-files limit), out of the way of the
 * numbers programs use, close-on-exec, and registered as kind for h (or
 * NULL); its number returned (fd < 0 comes back as it is). */
int hub_own_place(int fd, enum own_kind kind, struct hub *h);
/* Under the lock: a duplicate of the runtime's fd at the highest free
 * number, which the registry now names in fd's place (a move), or
 * -errno. */
int hub_own_dup(int fd);
void hub_forget_own_fd(int fd);
/* The program is about to dup2/dup3 over fd, one of the runtime's own
 * (called without the lock): the runtime moves its use of fd to another
 * number (the same open file description, high), so that fd can be
 * replaced. 0, or -EBUSY for an fd that cannot move (libev's other fds, a
 * greenctl connection being served), -EMFILE when no number is free. */
int hub_move_own_fd(int fd);
/* Under the lock: a new fd made through a wrapper (preload/fd.c) by
 * libev for a hub's loop, while the loop is made or later in the hub's
 * own context (libev makes its epoll set again when the kernel's has gone
 * stale): placed and made the hub's own (hub_own_place), its new number
 * returned. Other fds come back as they are. */
int hub_take_new_fd(int fd, enum own_kind kind);
/* Is libev making or closing an fd for a hub now (hub_take_new_fd's case)? */
bool hub_making_fd(void);
/* libev closes one of the hub's own fds (the stale epoll set). */
void hub_drop_own_fd(int fd);
/* libev closes fd in the hub's context: the fd to close in its place
 * (the moved epoll fd's new number, once), else fd. */
int hub_close_redirect(int fd);
/* Wakes h's loop from any thread or signal handler (async-signal-safe);
 * a burst of calls costs one write. */
void hub_wake(struct hub *h);
/* Moves of the control socket and of the monitor's fd for h (under
 * hub_own_lock): the new number, or -errno. */
int control_move_fd(int fd);
int monitor_move_fd(struct hub *h, int fd);
/* Releases the fds the monitor keeps for h (hub_destroy, the fork child). */
void monitor_forget_hub(struct hub *h);
/* Opens them, when the monitor is on and they are not open
 * (hub_make_kept_fds). */
void monitor_open_files(struct hub *h);
/* Makes the fds h keeps besides its loop's (the set for exceptional
 * conditions, the monitor's files) where no program thread but the caller
 * runs: an extra hub's start, and the first hub's second thread. */
void hub_make_kept_fds(struct hub *h);
/* Called by a signal handler that just ran on this OS thread (restart:
 * it had SA_RESTART). Async-signal-safe. The green thread the signal was
 * for — the one named by hub_signal_target(), else the root, as Linux
 * gives a process's signals to its main thread first (unless its mask
 * blocks sig: then the running thread, or one that does not) — has its
 * interruptible wait ended with -EINTR or WAKE_SIGNAL, if it was in one
 * when the signal came; a thread that was running sees nothing, as
 * natively. Returns the thread the signal was for (NULL without a hub, or
 * on an extra hub that has no thread of the program). */
struct green *hub_signal(int sig, bool restart);
/* Called by a signal handler on h's OS thread, before hub_signal: a
 * process's signal that came on the hub's context, or on a thread other
 * than the one it is for (signal_receiver: the main thread first), is
 * kept for the loop to pass on to that thread, whose handler then runs on
 * its own context, as hub_sigwake's do (true: the caller returns without
 * running it). Not for a signal raised for a thread (hub_signal_target),
 * nor one the running thread takes. Async-signal-safe. */
bool hub_defer_signal(struct hub *h, int sig, const siginfo_t *si);
/* A signal sent from inside a program's handler to g, another thread of h
 * (pthread_kill, pthread_sigqueue with its siginfo si, else NULL):
 * kept for the loop, which passes it on to g as a signal sent from
 * outside a handler is (sigmask_kill_here: g's handler on g's context).
 * 0, or -EAGAIN if no slot is free. Async-signal-safe. */
int hub_defer_kill(struct hub *h, struct green *g, int sig, const siginfo_t *si);
/* The same for (g, id) found by gid_find on h, as hub_post_kill_id. */
int hub_defer_kill_id(struct hub *h, struct green *g, uint64_t id, int sig, const siginfo_t *si);
/* The same for a thread of any hub: kept for g's hub's loop (no memory
 * allocated, unlike hub_post_kill_green's). */
int hub_defer_kill_green(struct green *g, int sig, const siginfo_t *si);
/* The next signal raised on this OS thread is for green thread g
 * (pthread_kill). */
void hub_signal_target(struct green *g);

/* Sets the hub that code running on the TLS at tp finds (tls.c). */
void hub_tls_adopt(void *tp, struct hub *h);

/* Internal to green.c and hub.c. */
void hub_first_run(struct hub *h); /* first thing a new context does */
uint64_t hub_new_green_id(void);
void hub_link_green(struct hub *h, struct green *g);
/* h runs one of several program threads: raw system calls are trapped
 * there and the blocking monitor starts (once a second thread exists). */
void hub_threaded(struct hub *h);
void hub_release_green(struct hub *h, struct green *g);

/* ---- fdwait.c: waiting for fd readiness ------------------------------- */

/* FDW_EXC: what libev cannot watch, through the hub's own epoll set
 * (fdwait.c): the events of fdw_add's flags (WAITER_EXC_EVENTS) or, with
 * none, an error or a hang-up only. */
enum { FDW_READ = 0, FDW_WRITE = 1, FDW_EXC = 2 };

/* Adds e (for w) to the fd's queue for dir and makes sure the fd's
 * watcher for that direction runs. -EBADF for a negative fd, -ENOMEM. */
int fdw_add(struct hub *h, int fd, int dir, struct waiter *e, struct wait *w,
	    unsigned flags);
/* Unlinks e (if a waker has not) and stops the watcher when no waiter is
 * left. Every fdw_add() is paired with one fdw_remove(), after the wait. */
void fdw_remove(struct hub *h, int fd, int dir, struct waiter *e);
/* fd is ready for dir (FDW_READ, FDW_WRITE) now, as the caller knows (it
 * just wrote to the other end of a pipe): h's waiters for it are woken as
 * its watcher would wake them at the next poll. On h, a green's context. */
void fdw_ready(struct hub *h, int fd, int dir);
/* Waits for EV_READ or EV_WRITE (one of them) on fd: 0 when ready,
 * -ETIMEDOUT, -EBADF if the fd was closed meanwhile. */
int fdw_wait(int fd, int events, int64_t deadline, unsigned flags);
/* h's loop closes (hub.c, hub_close_loop): its FDW_EXC set goes. */
void fdw_hub_closing(struct hub *h);
/* Makes h's set for exceptional conditions now (hub_make_kept_fds), if it
 * is not made; without it, the first wait for one makes it. */
void fdw_make_exc(struct hub *h);
/* fd is about to be closed: waiters get -EBADF, watchers are stopped and
 * re-armed so that libev sees a new file behind a reused number. */
void fdw_close(struct hub *h, int fd);
/* Around the program's close of fd (preload/fd.c): before it, counts the
 * close; after it, tells the other hubs, if any watches fd, to end their
 * waits on it (hub_post_close). Every fdw_closing is followed by one
 * fdw_closed, or by fdw_close_failed when nothing was closed. */
/* The highest fd number any hub has watched, ever; -1 if none. */
int fdw_top_fd(void);
void fdw_closing(int fd);
void fdw_closed(int fd);
void fdw_close_failed(int fd);
/* In h's context: the close of fd numbered gen (fdw_closed) arrived. */
void fdw_close_seen(struct hub *h, int fd, unsigned gen);
/* Posts that note to h (any thread); h's loop takes it up. */
void hub_post_close(struct hub *h, int fd, unsigned gen);
/* Hubs alive in the process. */
int hub_count(void);
/* Fork child: stops f's watchers and forgets its waiters, whose threads
 * do not exist there. */
void fdw_drop(struct hub *h, struct fdw *f);

/* ---- gsync.c: green mutex, condition variable, semaphore, rwlock, barrier */

/*
 * The layouts leave room for the layer above: preload/ keeps these inside
 * glibc's own pthread_mutex_t, pthread_cond_t and sem_t, so that static
 * initializers (all zeros, or a mutex kind at glibc's offset) are valid
 * green objects and glibc's fields that tell a process-shared object stay
 * where glibc reads them (sync.c checks the offsets).
 */
struct gsync_mutex {
	struct green *owner; /* atomic: taken by a CAS from NULL */
	uint32_t count;   /* recursion depth, kept by the layer above */
	uint32_t handoff; /* a woken waiter lost a race: hand over on unlock */
	int32_t kind;     /* the layer above's: glibc's __kind */
	uint16_t lock;    /* gsync_lock: the queue and handoff */
	uint16_t spare;
	struct waitq q;
};

struct gsync_cond {
	struct waitq q;
	uint16_t lock;
	uint16_t spare;
	uint32_t waiters; /* in q: atomic, read without the lock */
};

struct gsync_sem {
	uint32_t count;
	uint16_t lock;
	uint16_t handoff; /* posts hand their unit to the queue's head */
	uint32_t reserved[2]; /* the layer above's: glibc's private flag */
	struct waitq q;
};

#define GSYNC_SEM_MAX 0x7fffffffUL /* SEM_VALUE_MAX */

/* A reader-writer lock. kind says who goes first while the lock is held
 * to read: GSYNC_RW_PREFER_READERS lets a new reader in although a writer
 * waits; any other kind queues it behind the writer. */
struct gsync_rwlock {
	uint32_t readers; /* holding it to read */
	uint32_t writers_waiting;
	struct green *writer;
	uint16_t lock;
	uint16_t handoff; /* unlocks grant the lock to the queue's head */
	uint32_t reserved[3]; /* the layer above's: glibc's __shared */
	struct waitq q;
	uint32_t kind;        /* where glibc keeps its kind (__flags) */
};

#define GSYNC_RW_PREFER_READERS 0 /* glibc's PTHREAD_RWLOCK_PREFER_READER_NP */

/* A barrier for count threads; each round releases them together. */
struct gsync_barrier {
	uint32_t count;
	uint32_t arrived;
	uint16_t round;   /* tells a waiter its round is over: one bit would do */
	uint16_t lock;
	int32_t reserved; /* the layer above's: glibc's process-shared flag */
	struct waitq q;
};

#define GSYNC_BARRIER_SERIAL 1 /* the one thread of a round told so */

/* Every object's lock: its threads may run on several hubs. Held for a
 * few instructions, never across a switch (a waiter leaves its queue's
 * lock before it parks); a thread that finds it held spins, for another
 * OS thread holds it, then gives its CPU back to the kernel. */
void gsync_lock_slow(uint16_t *l);
/* The gsync locks this thread holds, and the waits it completed for
 * threads of other hubs meanwhile (wait_complete): those are posted once
 * the last lock is let go. A woken waiter may return at once and free the
 * object whose lock the waker still held (a semaphore or a mutex on its
 * stack, as CPython 3.13's parking lot keeps them): the waker's unlock, a
 * 16-bit store of 0, then landed in the waiter's later frames. */
extern __thread unsigned gs_locks_held __attribute__((tls_model("initial-exec")));
extern __thread struct wait *gs_posts_held __attribute__((tls_model("initial-exec")));
void gsync_post_held(void);

static inline void gsync_lock(uint16_t *l)
{
	gs_locks_held++;
	if (GS_LIKELY(__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) == 0))
		return;
	gsync_lock_slow(l);
}

static inline void gsync_unlock(uint16_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
	if (--gs_locks_held == 0 && GS_UNLIKELY(gs_posts_held != NULL))
		gsync_post_held();
}

/* With *lock held: the calling green thread waits on q (whose waiters
 * any hub may wake, under *lock, with waitq_wake_all) until woken or the
 * deadline, *lock let go meanwhile and held again on return. The wait's
 * result. */
int gsync_wait(uint16_t *lock, struct waitq *q, int64_t deadline, enum wait_kind kind,
	       const void *obj);

static inline struct green *gsync_mutex_owner(const struct gsync_mutex *m)
{
	return __atomic_load_n(&m->owner, __ATOMIC_RELAXED);
}

void gsync_mutex_init(struct gsync_mutex *m);
bool gsync_mutex_busy(struct gsync_mutex *m); /* held, or waited for */
int gsync_mutex_lock(struct gsync_mutex *m, int64_t deadline);
int gsync_mutex_trylock(struct gsync_mutex *m);
int gsync_mutex_unlock(struct gsync_mutex *m);
/* The same for an owner that is no green thread: one of the runtime's own
 * OS threads, which runs program code (a pool worker's NSS lookup calls the
 * program's malloc) and takes the program's mutexes under an address of its
 * own that no green has (compared, never read). It never parks: the caller
 * tries again. Its unlock wakes a green waiter as another hub's would. */
int gsync_mutex_trylock_as(struct gsync_mutex *m, struct green *owner);
int gsync_mutex_unlock_as(struct gsync_mutex *m, struct green *owner);
void gsync_cond_init(struct gsync_cond *c);
bool gsync_cond_busy(struct gsync_cond *c);
/* Always returns with m locked again, as POSIX requires. */
int gsync_cond_wait(struct gsync_cond *c, struct gsync_mutex *m, int64_t deadline);
void gsync_cond_signal(struct gsync_cond *c);
void gsync_cond_broadcast(struct gsync_cond *c);
int gsync_sem_init(struct gsync_sem *s, unsigned long value);
/* 0, -ETIMEDOUT, or -EINTR when a signal handler ran for the waiter
 * (with SA_RESTART only if there is a deadline: as glibc's sem_wait and
 * sem_timedwait). */
int gsync_sem_wait(struct gsync_sem *s, int64_t deadline);
int gsync_sem_trywait(struct gsync_sem *s);
int gsync_sem_post(struct gsync_sem *s);
unsigned gsync_sem_value(struct gsync_sem *s);
void gsync_rwlock_init(struct gsync_rwlock *l, uint32_t kind);
/* 0, -EDEADLK (the caller holds it to write) or -ETIMEDOUT. A thread
 * that finds the lock free takes it, queued waiters or not; a waiter woken
 * tries again, and one that has waited long has the lock handed to it
 * (STARVE_NS, src/gsync.c). */
int gsync_rwlock_lock(struct gsync_rwlock *l, bool write, int64_t deadline);
int gsync_rwlock_trylock(struct gsync_rwlock *l, bool write); /* 0 or -EBUSY */
int gsync_rwlock_unlock(struct gsync_rwlock *l); /* 0 or -EPERM */
bool gsync_rwlock_busy(struct gsync_rwlock *l);
int gsync_barrier_init(struct gsync_barrier *b, unsigned count); /* -EINVAL for 0 */
/* GSYNC_BARRIER_SERIAL for the thread that completes a round, else 0. */
int gsync_barrier_wait(struct gsync_barrier *b);
bool gsync_barrier_busy(struct gsync_barrier *b);

/* ---- preempt.c: preempting green threads that never wait --------------- */

int preempt_signal(void); /* the real-time signal used, SIGRTMAX - 1 */
/* Sends preempt_signal() to OS thread tid of this process marked as the
 * runtime's request for a sample (introspect_sample): a signal not so
 * marked and not the tick is somebody else's, and gets its native action.
 * 0 or -errno. */
long preempt_send_sample(int tid);
/* The same, marked as a stop for the pool's worker tid (pool_stop_signal). */
long preempt_send_stop(int tid);
/* Another OS thread has posted a signal for one of h's threads
 * (hub_post_kill): if h runs a thread now (not in its loop, not idle),
 * preempt_signal() marked as a kick goes to h's OS thread, whose handler
 * takes the post at once where the running thread may be stopped; else
 * h's loop takes it (the post's wake-up). */
void preempt_kick(struct hub *h);
void preempt_init_hub(struct hub *h);
void preempt_fini_hub(struct hub *h);
/* The hub is about to run a green thread: make sure the timer ticks. */
void preempt_arm(struct hub *h);
void preempt_disarm(struct hub *h);
/* A timed wait of h's ends at deadline, while h may run another thread:
 * if that is sooner than the next tick, the next tick comes then (one
 * timer_settime), so that a thread computing meanwhile is preempted on
 * time for the waiter, not up to a tick late. No-op with the timer
 * disarmed (h's loop then sleeps until the deadline itself). */
void preempt_tick_by(struct hub *h, int64_t deadline);
/* The program sets preempt_signal()'s disposition to SIG_IGN (ignore) or
 * SIG_DFL, as a program that resets every signal does: our handler stays
 * (installed now if it was not), and gives every signal that is neither
 * a tick nor a sample the program's disposition; the program's exec
 * inherits it. false if the handler could not be installed: the caller
 * sets it itself. */
bool preempt_keep_signal(bool ignore);
/* The program installs a handler of its own for preempt_signal(), as Go's
 * runtime does for every signal: our handler stays and passes it every
 * signal that is neither a tick nor a sample, through fn (the
 * trampoline of preload/signal.c). false as for preempt_keep_signal. */
bool preempt_keep_handler(void (*fn)(int, siginfo_t *, void *));
/* The tick's handler runs with every signal but the faults blocked; a
 * part of it that moved off the OS thread's alternate stack lets in what
 * the interrupted code let in (uc's mask) but extra. */
void preempt_unmask(void *uc, uint64_t extra);
/* The program's disposition of the signal, while our handler keeps it
 * (preempt_active): SIG_IGN (true) or SIG_DFL. Ignored when this program
 * started counts as the program's. */
bool preempt_program_ignores(void);
/* Around the program's exec (preload/exec.c): no signal of the runtime's
 * may be pending for the thread when the kernel replaces the program,
 * whose default action for it is to end the process. begin holds the
 * hubs' registry, under which every sampler (greenctl's, the whole-run
 * profiler, the monitor) sends its signal and sees it answered or gives
 * it up; disarms the calling hub's tick; takes the signal if it is still
 * pending here, blocked. end (the exec failed) lets the samplers go on;
 * the tick is armed again at the hub's next switch. begin does nothing,
 * and says so (false, for end), in the child of a fork the runtime did
 * not see (a raw system call's). */
bool preempt_exec_begin(void);
void preempt_exec_end(bool begun);
/* Around the program's posix_spawn (preload/exec.c): while the program
 * ignores preempt_signal() (preempt_program_ignores), the kernel's
 * disposition is SIG_IGN, which the child keeps (glibc's spawn resets a
 * handler to SIG_DFL), and the samplers are held off as for an exec.
 * begin says whether it did so; end takes what begin said. */
bool preempt_spawn_begin(void);
void preempt_spawn_end(bool begun);
/* Is our handler installed (for the tick or for samples), and the signal
 * not taken by the program? */
bool preempt_active(void);
/* A tick of h's own timer that reached the program's handler for the
 * signal (the program took it while h's timer ran, from another hub):
 * h's timer stops and the tick is dropped. */
bool preempt_stale_tick(struct hub *h, const siginfo_t *si);
/* Installs the handler if it is not; false if the program took the signal. */
bool preempt_handler_ready(void);
/* Whose code pc is: the program's own (where a tick may preempt), libc's
 * or the loader's (which may hold their locks across a call back into
 * the program) or libunwind's (whose lock the runtime's own unwinding
 * takes: PC_LIBC too), the runtime's, or another library's. */
enum pc_kind { PC_PROGRAM, PC_LIBC, PC_RUNTIME, PC_OTHER };
enum pc_kind preempt_pc_kind(uintptr_t pc);
/* Is pc where the tick may stop a thread: the program's own code, or late
 * code (a library loaded later, a JIT's) it has learnt? */
bool preempt_safe_point(uintptr_t pc);
/* An interposed call made from ra returns: if the last tick due found
 * the thread where it could not preempt it (in libc, the vDSO), and ra
 * is the program's own code, it is preempted here (hub_yield_polling). In the
 * calls that loops waiting for a time spend nearly all their time in
 * (clock_gettime): without it such a loop kept its hub for as long as it
 * ran. The tick marks the TLS of the thread it interrupted
 * (gs_preempt_owed): one load where nothing is owed. */
extern __thread unsigned char gs_preempt_owed __attribute__((tls_model("initial-exec")));
void preempt_owed(uintptr_t ra);
static inline void preempt_at_return(uintptr_t ra)
{
	if (GS_UNLIKELY(gs_preempt_owed))
		preempt_owed(ra);
}
/* dlclose returned: the late code preempt.c learnt may be gone, its
 * ranges another object's from now on. */
void preempt_code_unloaded(void);

/* ---- maps.c: the process's mappings ------------------------------------ */

#define MAPS_NAME_MAX 96

struct maps_entry {
	uintptr_t lo, hi;
	char perms[5];		   /* "r-xp", "rw-s"... */
	char name[MAPS_NAME_MAX]; /* the path's last component, its last
				   * MAPS_NAME_MAX - 1 bytes; "" for
				   * anonymous memory; "[vdso]" as it is */
};

/* The mapping of /proc/self/maps that holds addr, into *e: 0, or -1 if
 * none does or the file cannot be read. Safe in a signal handler. */
int maps_find(uintptr_t addr, struct maps_entry *e);

/* ---- sigmask.c: a signal mask per green thread ------------------------ */

void sigmask_root_init(struct hub *h, struct green *root);
void sigmask_green_start(struct hub *h, struct green *g); /* creator's mask */
/* The same in two steps, for a thread made on h to run on another hub:
 * the creator's mask, on h; counted among the masks of the hub it runs on. */
void sigmask_green_inherit(struct hub *h, struct green *g);
void sigmask_green_count(struct hub *h, struct green *g);
void sigmask_green_end(struct hub *h, struct green *g);   /* it is DEAD */
/* g, running, is about to end: counted out, and every signal but the
 * synchronous ones blocked in the kernel while it finishes (green_exit). */
void sigmask_green_exiting(struct hub *h, struct green *g);
/* Before switching to next (only once h->masks): the kernel mask. */
void sigmask_switch(struct hub *h, struct green *next);
/* pthread_sigmask for the running green thread, on the kernel's 64-bit
 * word: 0, -EINVAL (bad how), or -ENOSYS when the caller is not a green
 * thread (the hub's context, no hub) and must ask the kernel itself. */
/* Counts the live threads' masks afresh (and turns per-thread masks on). */
void sigmask_recount(struct hub *h);
int sigmask_change(int how, const uint64_t *set, uint64_t *old);
bool sigmask_blocks(const struct green *g, int sig);
/* Signals taken in a handler, kept in the order they came, one siginfo
 * each, for a hub to act on outside it: the real-time ones another hub
 * passes on to the first (sched.c), the process's signals a hub keeps
 * for the thread they are for (hub_defer_signal), and those a handler
 * sends to another thread of its hub (hub_defer_kill). Posted from signal
 * handlers on any OS thread; taken by one hub. */
enum { SIG_SLOTS = 256 };
struct sig_post {
	siginfo_t si;
	struct green *g; /* the thread it is for (with its id), or NULL */
	uint64_t gid;
	bool has_info; /* si is the sender's; else only si_signo is set */
};
struct sig_slots {
	struct sig_slot {
		atomic_int state;
		uint64_t seq; /* the order it came in */
		struct sig_post p;
	} slot[SIG_SLOTS];
	atomic_uint_least64_t seq;
	atomic_bool ready; /* one may be posted */
};
/* Async-signal-safe: a slot for p, or false if every one is taken. */
bool sig_slots_post(struct sig_slots *q, const struct sig_post *p);
/* The oldest one posted, or false. */
bool sig_slots_take(struct sig_slots *q, struct sig_post *p);
/* Forgets every one posted (a fork child). */
void sig_slots_clear(struct sig_slots *q);
/* sig is one the kernel sends to the thread that caused it, whoever else
 * lets it in: a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS),
 * SIGPIPE from a write to a broken pipe, SIGXFSZ from one past the file
 * size limit. */
bool sigmask_raised_by_thread(int sig);
/* Signals pending for one green thread (pthread_kill, raise,
 * pthread_sigqueue with si), as the kernel keeps a thread's own: g blocks
 * sig or waits for it in sigwait; or g lets it in, is not the running
 * thread and the program has a handler for sig: kept for g to handle on
 * its own context when it next runs (hub_sigwake). 1 if kept (a sigwait
 * of g for it is woken), 0 if the caller must send it for real, -EAGAIN if no memory
 * could hold it (as the kernel says when its queue is full). A kept
 * instance with si is delivered or taken with that siginfo. Only from g's
 * own hub, outside signal handlers. */
int sigmask_thread_kill(struct green *g, int sig, const siginfo_t *si);
/* Takes one of set from the running green's own pending signals, as the
 * kernel dequeues (synchronous signals first, then the lowest): the
 * signal, or 0. *info is its siginfo if it came with one (*queued true). */
int sigmask_take_pending(struct green *g, uint64_t set, siginfo_t *info, bool *queued);
/* The program's disposition of sig is a handler (preload/signal.c), with
 * SA_RESTART or not; or it is no handler. */
void sigmask_set_handled(int sig, bool handler, bool restart);
/* What the signals kept for g that its mask lets in and that have a
 * handler make of an interruptible wait of g's: -EINTR, WAKE_SIGNAL if
 * every one's handler has SA_RESTART (signal(7)), 0 if none is due. */
int sigmask_due_interrupts(const struct green *g);
/* g, the running thread, handles the signals kept for it that its mask
 * lets in, here on its own context, before it goes on. */
void sigmask_deliver_due(struct green *g);
static inline void green_take_due(struct green *g)
{
	if (GS_UNLIKELY(g->tsig != NULL))
		sigmask_deliver_due(g);
}
/* hub_handler_begin's and _end's work on g's mask: returns g's mask
 * before; *kmask is the signal frame's, which _leave may rewrite to what
 * the hub now keeps in the kernel for g. */
uint64_t sigmask_handler_enter(struct hub *h, struct green *g, uint64_t extra, uint64_t *kmask);
void sigmask_handler_leave(struct hub *h, struct green *g, uint64_t old, uint64_t at_entry,
			   uint64_t *kmask);
/* The running green thread's own pending signals (sigpending), those
 * other hubs sent it included (hub_take_kills_sent). */
uint64_t sigmask_own_pending(struct hub *h);
/* g's own pending signals are dropped (a forked child's) or freed (an
 * ended thread's). */
void sigmask_tsig_clear(struct green *g);
void sigmask_tsig_free(struct green *g);
/* The running green g waits in sigwait for set (0: the wait ended).
 * Meanwhile set is blocked in the kernel while g or the hub runs, so that
 * a signal of set stays pending until g takes it. */
void sigmask_sigwait(struct hub *h, struct green *g, uint64_t set);
/* Those of set that are not a thread's own stay blocked on every hub while
 * any thread waits for them (sigmask.c): h puts the latest such set in its
 * kernel mask, if it has not (its loop; a kick). */
void sigmask_follow_waits(struct hub *h);
/* h's timer for the grace after a waiter leaves: made with the hub,
 * stopped before its loop closes. */
void sigmask_hub_init(struct hub *h);
void sigmask_hub_stop(struct hub *h);
/* Every other scheduler hub follows the set soon: woken, or kicked where
 * it runs a thread (sched.c). */
void sched_follow_waits(struct hub *h);
/* Around an exec or a spawn: the calling OS thread's kernel mask is its
 * thread's own, without other threads' sigwaits (begin: true if it was
 * changed), for the new program to start on; put back if it returns. */
bool sigmask_exec_begin(void);
void sigmask_exec_end(bool begun);
/* A fork's child: no thread waits in sigwait but maybe self, and self's
 * OS thread has self's own mask again. */
void sigmask_fork_child(struct hub *h, struct green *self);
/* sigsuspend: the running green's mask becomes temp (its old one in
 * *old); a pending signal it lets in is delivered now, on it; then every
 * signal is blocked in the kernel until the next switch, so that none is
 * handled on this thread before it parks. */
void sigmask_suspend(struct hub *h, uint64_t temp, uint64_t *old);
/* A program's handler is about to run on the hub's context for green t:
 * it runs with t's mask and extra blocked, as it would on t itself
 * (the kernel's sigreturn restores the hub's). */
void sigmask_handler_mask(struct hub *h, const struct green *t, uint64_t extra);
/* On h's context: sig sent to g, a green thread of h, by another hub's
 * (hub_post_kill). Kept pending for g as sigmask_thread_kill says, or
 * delivered now on h's OS thread with g's mask, for g. When g is the
 * thread running on h (the posts taken on its own context: a kick, a mask
 * change), kept pending for g and true: the caller takes the rest of its
 * batch first, then runs what is due (sigmask_raise_due). A handler that
 * waits (a collector's stop handler, in sigsuspend until it is resumed)
 * held the rest of the batch on its stack until 2026-12-07: a D program's
 * collector waited for ever for a stop that never came. */
bool sigmask_kill_here(struct hub *h, struct green *g, int sig, const siginfo_t *si);
/* g, running on h: its pending signals that its mask lets in, raised one
 * by one as sigmask_raise_here does, the lowest first. */
void sigmask_raise_due(struct hub *h, struct green *g);
/* On h's context: raises sig on h's OS thread for g, with g's mask in the
 * kernel meanwhile; with si's siginfo if not NULL (rt_tgsigqueueinfo). */
void sigmask_raise_here(struct hub *h, struct green *g, int sig, const siginfo_t *si);
/* An extra hub (sched.c): its root is no program thread. Masks are kept
 * from the start, its root's left out: the OS thread blocks what every
 * thread handed over blocks, everything while it has none. */
void sigmask_idle_root(struct hub *h);

/* ---- osthread.c: the runtime's own OS threads --------------------------- */

/* libc's thread primitives, for the runtime's own threads (never the
 * interposed green ones; see osthread.c). */
struct os_ops {
	int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	int (*detach)(pthread_t);
	int (*join)(pthread_t, void **);
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
			      const struct timespec *);
	int (*cond_signal)(pthread_cond_t *);
	int (*cond_broadcast)(pthread_cond_t *);
	int (*thread_sigmask)(int, const sigset_t *, sigset_t *);
};

extern struct os_ops os_ops;

/* The layer that interposes the pthread calls hands libc's own here. */
void osthread_set_ops(const struct os_ops *ops);
/* Starts fn(arg) on a new OS thread of the runtime's, named name (at most
 * 15 characters shown), every signal blocked; detached or joinable with
 * os_ops.join. 0 or a negative errno. Condition variables used with
 * os_ops must be waited on with CLOCK_MONOTONIC deadlines. */
int osthread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg,
		   bool detached);
/* Is the caller one of those threads? (Then it gets plain libc, but for
 * the program's objects green threads share: osthread.c.) Inline: every
 * wrapper of the thread-specific data asks it. */
extern __thread bool gs_osthread_runtime __attribute__((tls_model("initial-exec")));

static inline bool osthread_is_runtime(void)
{
	return gs_osthread_runtime;
}

/* Around a library the runtime calls on a program's thread (libunwind,
 * which locks its caches with pthread_mutex_lock and sigprocmask through
 * the PLT): every wrapper it reaches gives plain libc, as on the runtime's
 * own threads. Async-signal-safe; end restores what begin returned. */
bool osthread_runtime_begin(void);
void osthread_runtime_end(bool was);

/* ---- pool.c: worker threads for calls with no non-blocking form ------- */

#define POOL_IDLE_NS (10 * INT64_C(1000000000)) /* an idle worker exits */

/* Runs fn(arg) on a worker of the pool while the calling green thread
 * waits (the other green threads run); fn(arg) runs in the caller itself
 * when it may not park, or with GREENSHIM_THREADS=native. Returns once
 * fn(arg) has returned; fn reports its results through arg. Always 0. */
int pool_call(void (*fn)(void *), void *arg);
/* Makes system call call[0] with arguments call[1..5] on a worker while
 * the calling green thread waits, interruptibly: a signal handler due for
 * it, or a cancellation (if cancelpoint), stops the call and ends the wait
 * (the head of pool.c). The call's result (-errno), or -EINTR if it was
 * stopped or never began; *why is what ended the wait first: 0 (the call
 * returned), -EINTR, WAKE_SIGNAL (every handler has SA_RESTART) or
 * -ECANCELED. The handlers have run when it returns. A caller that may not
 * park makes the call itself (a raw one; libc's errno untouched). */
long pool_syscall_intr(const long call[6], bool cancelpoint, int *why);
/* The preemption signal's handler on a worker, for a stop
 * (preempt_send_stop): ucp's pc leaves a stoppable call not yet returned. */
void pool_stop_signal(void *ucp);
/* In a child just forked: no worker exists, no job is queued. */
void pool_fork_child(void);

struct pool_stats {
	unsigned threads;      /* workers alive */
	unsigned idle;         /* of them, waiting for a job */
	unsigned long started; /* workers ever started */
};

void pool_stats(struct pool_stats *st);
/* For tests: how long an idle worker waits for a job before it exits
 * (<= 0: the default, POOL_IDLE_NS). */
void pool_set_idle_ns(int64_t ns);

/* ---- trap.c: raw system calls (Syscall User Dispatch) ------------------- */

/* h has a second green thread: from now on, a system call made by code
 * outside libc on its OS thread traps, and a blocking one parks the green
 * thread that made it (if GREENSHIM_SYSCALLS=trap and the kernel can). */
void trap_hub_start(struct hub *h);
/* Before h is freed (the kernel reads its selector) or after a fork, whose
 * child does not inherit the setting. */
void trap_hub_stop(struct hub *h);
/* Is SIGSYS the runtime's? Then the kernel must never block it: a trapped
 * call with SIGSYS blocked kills the process. */
bool trap_wanted(void);
/* The program's SIGSYS disposition once the runtime's handler is in: like
 * overflow_program_handler; -1 while it is not. */
int trap_program_handler(const struct sigaction *act, struct sigaction *old);
/* preload/: what becomes of a trapped call made by program code on a
 * green thread. TRAP_DONE: carried out as the libc function of the same
 * name would be under greenshim, *ret set to the kernel-style result (>= 0
 * or -errno); TRAP_EXEC: made as asked; TRAP_PASS: made for real by the
 * code that made it, once the handler returns (a library whose threads
 * stay native waits on futexes that its native threads wake in the
 * kernel). uc is the trap's context: a change of signal mask is written
 * there, as sigreturn restores it. */
enum trap_action { TRAP_EXEC, TRAP_DONE, TRAP_PASS };
void trap_set_hook(enum trap_action (*hook)(long nr, const long a[6], void *uc, long *ret));
/* Around a call of the runtime's own into code that makes system calls of
 * its own that must not be caught (liburing's, from preload/uring.c, once
 * it cannot wait): lets them through, then back as before. Any h, or NULL. */
char trap_let_through(struct hub *h);
void trap_restore(struct hub *h, char was);

/* Calls trapped since start, and of them those made green (greenctl). */
extern atomic_ulong trap_count, trap_green_count;

/* ---- overflow.c: stack overflow reports --------------------------------- */

/* Per process, at a hub's start: the SIGSEGV handler that names the green
 * thread whose guard page was hit. */
void overflow_init_thread(void);
/* Per OS thread, once its hub runs a second thread (hub_threaded): the
 * alternate signal stack the runtime's handlers take, made and set in the
 * kernel; one the program had set becomes the calling context's own
 * setting. Not sooner: a program's first thread sees the kernel's own
 * answer to sigaltstack until then, as natively. Go's runtime, built with
 * cgo, asks on its first thread before it makes another (its trapped
 * calls are not caught yet, hub_threaded) and adopted ours as its signal
 * stack where it found one: its SIGURG then came below a goroutine's
 * stack pointer, and every such program on two hubs died at once
 * ("signal 23 received on thread with no signal stack"). Returns the
 * stack, or NULL (none made, or the program runs on its own now). */
void *overflow_altstack_start(void);
void overflow_fini_thread(void *altstack);
/* The program sets its SIGSEGV disposition: kept as the one ours chains
 * to, with the previous one in *old. -1 if ours is not installed (yet). */
struct sigaction;
int overflow_program_handler(const struct sigaction *act, struct sigaction *old);
/* sigaltstack for h's current context, whose setting is its own (kept in
 * its TLS) where overflow_keeps_altstack(h): the kernel's stays the OS
 * thread's, made here. As sigaltstack: 0, or -1 and errno. */
bool overflow_keeps_altstack(const struct hub *h);
int overflow_sigaltstack(const stack_t *ss, stack_t *old);
/* Where a handler the kernel ran on the OS thread's alternate stack, while
 * one of h's green threads ran, is to go on (the first thing it does):
 * the program's, as the kernel would have placed its frame for that thread
 * natively (SIGSTACK_ONSTACK: with SA_ONSTACK, the top of the thread's own
 * alternate stack where it set one and is not on it; else below the
 * interrupted stack pointer); the runtime's tick (SIGSTACK_TICK), which
 * may switch away: below the interrupted stack pointer on the thread's
 * own stack, else on its alternate stack, else below it all the same. */
/* Where a frame that the kernel put on greenshim's alternate stack goes:
 * a program's SA_ONSTACK handler's to the program's alternate stack (or
 * stays, natively there); a plain handler's below the interrupted stack
 * pointer; the tick's and a caught system call's (SIGSYS) to the
 * program's alternate stack where the thread ran on a stack of its own
 * making, else below the stack pointer. */
/* Is the disposition a handler of the program's? sa_handler and
 * sa_sigaction share their storage, and SIG_DFL and SIG_IGN are values of
 * it whatever sa_flags says: a program may set SIG_DFL with SA_SIGINFO
 * (Go's runtime does, raw, before it raises a signal to die of it). Until
 * 2026-12-07 SA_SIGINFO alone counted as a handler here, and such a
 * program jumped to address 0 instead (status 139 for a SIGTERM). */
static inline bool sig_disposition_is_handler(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

/* The kernel's disposition of sig becomes SIG_DFL (glibc's own sigaction,
 * past the wrapper). */
void sig_set_default(int sig);
/* The default action of sig, as natively, for a signal a handler of the
 * runtime's took: SIG_DFL in the kernel, and sig sent to this OS thread
 * again, taken once the handler returns and unblocks it (at once where it
 * is not blocked, SA_NODEFER). */
void sig_default_again(int sig);

enum sigstack_want { SIGSTACK_ONSTACK, SIGSTACK_PLAIN, SIGSTACK_TICK, SIGSTACK_TRAP };
/* Moves the frame there and goes on with fn(sig, si, uc) on the copy, or
 * returns: false if the frame stays on an alternate stack of the OS
 * thread's, which a handler must not leave for another thread (its frame
 * would be overwritten by theirs), true if it is on none. */
bool overflow_signal_stack(struct hub *h, enum sigstack_want want, sigframe_fn fn, int sig, siginfo_t *si,
			   void *uc);

#endif
