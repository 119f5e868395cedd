/*
 * Per-thread state: a TLS block and a thread descriptor of its own for
 * every green thread, made and released with glibc's own entry points.
 *
 * What it owns: the knowledge of glibc's static TLS (its size, alignment,
 * where libc's own block sits in it), the descriptor fields greenshim
 * must fill in, and per hub the malloc state that dead green threads left
 * (below, "libc's block").
 *
 * Design. A green thread gets what nptl/allocatestack.c gives a pthread,
 * in the same place: at the top of its stack, below struct green, sits a
 * struct pthread (the thread pointer points at it) and below that the
 * static TLS of every module loaded at start, so that the descriptor and
 * the thread's first frames share pages, and both come back with the
 * stack pool. glibc itself fills the TLS: _dl_allocate_tls(tcb) makes the
 * thread's dynamic thread vector (DTV) and copies each module's
 * initialization image (.tbss zeroed); modules dlopen'ed later get
 * per-thread blocks lazily through __tls_get_addr, as on any thread; and
 * _dl_deallocate_tls(tcb, false) frees the DTV and those blocks. A switch
 * loads the next thread's pointer into the FS base (hub.c): errno,
 * h_errno, the locale of uselocale, C++'s exception stack, __thread and
 * thread_local variables of every module, and the descriptor fields that
 * glibc reaches FS-relative (tid, cancellation, cleanup buffers, the
 * resolver's _res through __resp) become the green thread's own. The root
 * (the OS thread's own context) and the hub's context keep the OS thread's
 * pointer: they share its TLS, so errno is still saved for them (hub.c).
 *
 * Sizes come from glibc (_dl_get_tls_static_info), and descriptor offsets
 * from the _thread_db_* descriptors libthread_db reads; none is written
 * here. The first words of the TCB header are the CPU ABI's
 * (arch/x86_64/tls.h). The descriptor starts zeroed, as on a fresh
 * mapping, and gets what glibc's pthread_create and start_thread set:
 *  1. the header: its own address, the creator's stack-protector canary,
 *     pointer guard and CET features, more than one thread;
 *  2. tid: the kernel id of the OS thread that runs it (glibc's recursive
 *     locks, such as the loader's, take it as their owner's id);
 *  3. rseq: the copy is never updated by the kernel, so it says
 *     "registration failed" and sched_getcpu asks the kernel instead;
 *  4. __resp points at the descriptor's own _res (start_thread's
 *     "__resp = &pd->res"), found once from a real thread;
 *  5. the locale is the global one and the ctype tables follow it
 *     (uselocale at the thread's first run, green.c).
 *
 * THREAD_SELF stays the OS thread's: that of the hub the green thread runs
 * on, set again when it moves (tls_move). glibc reads the descriptor's address
 * from the header's self word where it needs a pointer rather than a
 * field: as the owner of its recursive locks (every FILE lock, the stdio
 * list lock), for the stack bookkeeping of fork, and for the buffers of
 * strerror and strsignal on unknown numbers. Green threads of one OS
 * thread are one owner to those locks, as they always were: a green
 * thread that parks while glibc holds one for it (a fopencookie stream's
 * function that waits, the program's own flockfile across a wait or a
 * preemption tick) cannot make another green thread's stdio call sleep in
 * the kernel, where the holder could never run again; flockfile itself
 * tells them apart (preload/stdio.c). Green threads running at once on
 * two hubs are two owners, as two pthreads are; a thread that holds a
 * FILE lock it took with flockfile or ftrylockfile stays on its hub
 * until it lets go (GREEN_FLOCK_MASK), since the lock names the hub's
 * OS thread, and is not preempted meanwhile. A fork from a green thread does
 * glibc's bookkeeping on the OS thread's descriptor, which is on glibc's
 * lists. The price: those two text buffers are per OS thread.
 *
 * The kernel must keep the FS base. With FSGSBASE enabled for user space
 * (AT_HWCAP2, Linux 5.9+) a WRFSBASE costs some 14 ns and the kernel
 * saves and restores the register at its own context switches. Without
 * it, the kernel restores the base it last set for the thread, so only
 * arch_prctl(ARCH_SET_FS) is safe: on this project's VMs (a PVM guest,
 * "FS base via WRFSBASE (host CR4.FSGSBASE set)") the instruction does
 * not fault, yet the value it wrote was gone after the thread's next
 * sleep in the kernel (Rust threads ran on the main thread's TLS). There
 * each switch between two green threads costs an arch_prctl, about 5 us
 * here, and the hub's context runs on whatever TLS is loaded (hub.c), so
 * that a hand-off through the hub costs one, not two. Under valgrind too,
 * whatever the kernel: its CPU has no WRFSBASE (SIGILL, "unhandled
 * instruction"), and it carries out arch_prctl(ARCH_SET_FS) on its own
 * copy of the FS base.
 *
 * libc's block. glibc frees a thread's malloc cache (tcache) and detaches
 * it from its arena in start_thread, through __libc_thread_freeres, which
 * it does not export. So the block of libc's own TLS variables of a dead
 * green thread is kept (a copy of libc's PT_TLS bytes) and handed to the
 * next green thread made on that hub, less its public variables (errno,
 * h_errno, __resp, the dlerror result), which start afresh: the next
 * thread takes over the cache as a pthread from glibc's stack cache
 * would, and none is leaked however many threads come and go.
 *
 * Rejected:
 *  - copying the creator's whole descriptor (the experiment in
 *    shared/NOTES.md): it copies pointers the creator owns (its strerror
 *    and strsignal buffers, its key blocks, its list links), which the new
 *    thread would free or corrupt;
 *  - THREAD_SELF naming the green thread's own descriptor: every glibc
 *    recursive lock would then tell green threads apart, and one held
 *    across a park stops the OS thread (above);
 *  - probing WRFSBASE by executing it: it runs on this VM and still does
 *    not stick;
 *  - copying each thread's TLS in and out of the OS thread's at every
 *    switch (no FS change): a pointer to a thread's __thread variable
 *    would show whichever thread runs;
 *  - a separate pool of TLS blocks: 4,224 bytes span two pages, where at
 *    the top of the stack they share pages with the first frames.
 *
 * Checked on glibc 2.36 (Debian 12). Where an entry point or descriptor
 * is missing (another libc), one line says so and green threads share
 * their OS thread's TLS, as with GREENSHIM_TLS=shared.
 */
#include <dlfcn.h>
#include <locale.h>
#include <netdb.h>
#include <resolv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "sys.h"

#include <link.h> /* after runtime.h: <elf.h> and ev.h both name EV_NONE */
#include <sys/auxv.h>

#include <asm/prctl.h>
#include <valgrind/valgrind.h>

/* linux/rseq.h: struct rseq { u32 cpu_id_start; u32 cpu_id; ... } */
#define RSEQ_CPU_ID_OFF 4
#define RSEQ_CPU_ID_REGISTRATION_FAILED (-2)
/* The most bytes of the stack that must stay below the TLS block
 * (glibc's MINIMAL_REST_STACK). */
#define TLS_MIN_REST 2048

enum tls_mode gs_tls_mode = TLS_SHARED;

static struct {
	void *(*allocate)(void *tcb);
	void (*deallocate)(void *tcb, bool dealloc_tcb);
	void (*call_dtors)(void);
	size_t static_size; /* static TLS, descriptor included */
	size_t align;
	size_t pd_size;     /* struct pthread */
	size_t tid_off;
	long rseq_off;      /* from the thread pointer; 0: no rseq area */
	long res_off;       /* pd->res; -1: unknown (_res stays shared);
			     * TLS_RES_UNPROBED until the first green thread */
	long resp_off;      /* __resp, from the thread pointer */
	long libc_off;      /* libc's block, from the thread pointer */
	size_t libc_size;
	long pub_off[4];    /* libc's public variables in its block */
	size_t pub_size[4];
} tls;

static const uint32_t *db_field(const char *name)
{
	return dlvsym(RTLD_DEFAULT, name, "GLIBC_PRIVATE");
}

/* ---- loading the thread pointer ------------------------------------------ */

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

void tls_set_slow(void *tp)
{
	arch_syscall3(SYS_arch_prctl, ARCH_SET_FS, (long)tp, 0);
}

/* ---- what glibc says ------------------------------------------------------ */

static int find_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (strstr(info->dlpi_name, "/libc.so") == NULL || info->dlpi_tls_data == NULL)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type == PT_TLS) {
			tls.libc_off = (char *)info->dlpi_tls_data - (char *)arch_tp_get();
			tls.libc_size = info->dlpi_phdr[i].p_memsz;
			return 1;
		}
	}
	return 0;
}

/* The address of a variable of libc's block in the calling thread, as an
 * offset into that block; -1 if it is not in it. */
static long libc_var(const void *addr, size_t size, int k)
{
	long off = (const char *)addr - ((char *)arch_tp_get() + tls.libc_off);

	if (addr == NULL || off < 0 || (size_t)off + size > tls.libc_size)
		return -1;
	tls.pub_off[k] = off;
	tls.pub_size[k] = size;
	return off;
}

/* What a real thread of the runtime's finds in its own descriptor. */
struct probe {
	long resp_off; /* in: __resp from the thread pointer */
	long res_off;  /* out: where __resp points, from the thread pointer */
};

static void *probe_thread(void *arg)
{
	struct probe *pr = arg;
	char *tp = arch_tp_get();
	struct __res_state *res = *(struct __res_state **)(tp + pr->resp_off);

	pr->res_off = (char *)res - tp;
	return NULL;
}

#define TLS_RES_UNPROBED (-2L)

/* pd->res, where start_thread points a new thread's __resp, read by a
 * short-lived real thread of the runtime's: made when the first green
 * thread is, so that a program that makes none pays no thread. */
static void probe_descriptor(void)
{
	struct probe pr = { .resp_off = tls.resp_off, .res_off = -1 };
	pthread_t t;

	tls.res_off = -1;
	if (osthread_start(&t, "gs-tls-probe", probe_thread, &pr, false) != 0 ||
	    os_ops.join(t, NULL) != 0)
		return;
	if (pr.res_off >= 0 && (size_t)pr.res_off + sizeof(struct __res_state) <= tls.pd_size)
		tls.res_off = pr.res_off;
}

static bool tls_unavailable(const char *what)
{
	char line[200];
	int n = snprintf(line, sizeof line,
			 "greenshim: this libc has no %s: green threads share their OS thread's "
			 "thread-local storage (GREENSHIM_TLS=shared)\n", what);

	sys_write(STDERR_FILENO, line, (size_t)n);
	return false;
}

/* Fills tls from what glibc says; false (one line said) if it cannot. */
static bool tls_setup(void)
{
	const uint32_t *pd_size = db_field("_thread_db_sizeof_pthread");
	const uint32_t *tid = db_field("_thread_db_pthread_tid");
	const long *rseq_off = dlsym(RTLD_DEFAULT, "__rseq_offset");
	const unsigned *rseq_size = dlsym(RTLD_DEFAULT, "__rseq_size");
	struct __res_state **resp = dlvsym(RTLD_DEFAULT, "__resp", "GLIBC_PRIVATE");
	void **dlerr = dlvsym(RTLD_DEFAULT, "__libc_dlerror_result", "GLIBC_PRIVATE");
	void (*static_info)(size_t *, size_t *) =
		(void (*)(size_t *, size_t *))dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info",
						     "GLIBC_PRIVATE");

	tls.allocate = (void *(*)(void *))dlvsym(RTLD_DEFAULT, "_dl_allocate_tls", "GLIBC_PRIVATE");
	tls.deallocate = (void (*)(void *, bool))dlvsym(RTLD_DEFAULT, "_dl_deallocate_tls",
							 "GLIBC_PRIVATE");
	tls.call_dtors = (void (*)(void))dlvsym(RTLD_DEFAULT, "__call_tls_dtors", "GLIBC_PRIVATE");
	if (tls.allocate == NULL || tls.deallocate == NULL || static_info == NULL)
		return tls_unavailable("_dl_allocate_tls, _dl_deallocate_tls or _dl_get_tls_static_info");
	if (pd_size == NULL || tid == NULL || resp == NULL)
		return tls_unavailable("_thread_db descriptors for struct pthread");
	static_info(&tls.static_size, &tls.align);
	tls.pd_size = *pd_size;
	tls.tid_off = tid[2];
	if (tls.align < 64)
		tls.align = 64;
	if (tls.pd_size < TCB_COPY_END || tls.static_size < tls.pd_size || tid[0] != 32 ||
	    (tls.align & (tls.align - 1)) != 0)
		return tls_unavailable("thread descriptor of the expected shape");
	/* Also when registration failed (__rseq_size 0: under valgrind, or a
	 * seccomp filter): a zeroed cpu_id would say "registered", and
	 * pthread_create from the green thread would make a thread that must
	 * register and aborts when it cannot ("rseq registration failed"). */
	if (rseq_off != NULL && rseq_size != NULL && *rseq_off > 0 &&
	    (size_t)*rseq_off + RSEQ_CPU_ID_OFF + 4 <= tls.pd_size)
		tls.rseq_off = *rseq_off;
	if (dl_iterate_phdr(find_libc, NULL) == 0)
		return tls_unavailable("TLS block of its own");
	if (libc_var(__errno_location(), sizeof(int), 0) < 0 ||
	    libc_var(__h_errno_location(), sizeof(int), 1) < 0 ||
	    libc_var(resp, sizeof *resp, 2) < 0)
		return tls_unavailable("errno, h_errno and __resp in its TLS block");
	if (libc_var(dlerr, sizeof *dlerr, 3) < 0) {
		tls.pub_off[3] = tls.pub_off[2]; /* nothing more to keep afresh */
		tls.pub_size[3] = tls.pub_size[2];
	}
	tls.resp_off = (char *)resp - (char *)arch_tp_get();
	tls.res_off = TLS_RES_UNPROBED;
	return true;
}

#ifdef GS_TSAN
#define TLS_TSAN true
#else
#define TLS_TSAN false
#endif

void tls_init(void)
{
	static atomic_int state; /* 0: not yet, 1: being settled, 2: settled */
	int expected = 0;

	if (GS_LIKELY(atomic_load_explicit(&state, memory_order_acquire) == 2))
		return;
	if (!atomic_compare_exchange_strong(&state, &expected, 1)) {
		while (atomic_load_explicit(&state, memory_order_acquire) != 2)
			arch_syscall3(SYS_sched_yield, 0, 0, 0);
		return;
	}
	config_load();
	/* ThreadSanitizer keeps its per-thread state in the OS thread's TLS
	 * (and its fibers, ctx_switch, in that state): green threads share
	 * the OS thread's TLS in its builds. */
	if (gs_config.tls_green && !gs_config.native_threads && !TLS_TSAN && tls_setup()) {
		/* Only a kernel that says so keeps a WRFSBASE value across
		 * its own context switches (HWCAP2_FSGSBASE, Linux 5.9+). */
		if (RUNNING_ON_VALGRIND) {
			gs_tls_mode = TLS_SLOW;
		} else if (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) {
			gs_tls_mode = TLS_FAST;
		} else {
			static const char msg[] =
				"greenshim: this kernel does not keep the FS base that WRFSBASE "
				"sets: each switch between green threads loads their TLS with "
				"arch_prctl (a system call); GREENSHIM_TLS=shared shares one TLS "
				"instead, GREENSHIM_TLS=green keeps this and silences this line\n";

			/* Told to a person at a terminal; a script's or a
			 * test's stderr stays the program's own. */
			gs_tls_mode = TLS_SLOW;
			if (!gs_config.tls_explicit && isatty(STDERR_FILENO))
				sys_write(STDERR_FILENO, msg, sizeof msg - 1);
		}
	}
	atomic_store_explicit(&state, 2, memory_order_release);
}

size_t tls_reserve(void)
{
	return gs_tls_mode == TLS_SHARED ? 0 : tls.static_size + tls.align + TLS_MIN_REST;
}

/* ---- libc's block: kept from dead threads for new ones ------------------- */

struct tls_stash {
	unsigned char *blocks;
	size_t n, cap;
};

static void stash_put(struct hub *h, const char *tp)
{
	struct tls_stash *s = h->tls_stash;

	if (s == NULL) {
		s = gs_calloc(1, sizeof *s);
		if (s == NULL)
			return;
		h->tls_stash = s;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		unsigned char *b = gs_realloc(s->blocks, cap * tls.libc_size);

		if (b == NULL)
			return; /* that thread's cache is lost, nothing else */
		s->blocks = b;
		s->cap = cap;
	}
	memcpy(s->blocks + s->n++ * tls.libc_size, tp + tls.libc_off, tls.libc_size);
}

/* A fresh libc block at tp takes over a dead thread's, but for the
 * public variables, which start as glibc initialised them. */
static void stash_take(struct hub *h, char *tp)
{
	struct tls_stash *s = h->tls_stash;
	char *block = tp + tls.libc_off;
	unsigned char keep[4][8];

	if (s == NULL || s->n == 0)
		return;
	for (int k = 0; k < 4; k++)
		memcpy(keep[k], block + tls.pub_off[k], tls.pub_size[k]);
	memcpy(block, s->blocks + --s->n * tls.libc_size, tls.libc_size);
	for (int k = 0; k < 4; k++)
		memcpy(block + tls.pub_off[k], keep[k], tls.pub_size[k]);
}

void tls_hub_fini(struct hub *h)
{
	struct tls_stash *s = h->tls_stash;

	if (s != NULL) {
		gs_free(s->blocks);
		gs_free(s);
		h->tls_stash = NULL;
	}
}

/* ---- a green thread's TLS ------------------------------------------------ */

int tls_make(struct hub *h, struct green *g, char **top)
{
	char *pd = (char *)(((uintptr_t)g - tls.pd_size) & ~(uintptr_t)(tls.align - 1));
	char *lo = pd - (tls.static_size - tls.pd_size);
	const char *os = h->hub_green->tp; /* the OS thread's TCB */

	if (lo - TLS_MIN_REST < g->stack.lo)
		return -EINVAL; /* a stack of the program's, too small */
	memset(pd, 0, tls.pd_size);
	arch_tcb_init(pd, os);
	if (tls.allocate(pd) == NULL)
		return -EAGAIN;
	*(int32_t *)(pd + tls.tid_off) = h->tid;
	if (tls.rseq_off != 0)
		*(int32_t *)(pd + tls.rseq_off + RSEQ_CPU_ID_OFF) = RSEQ_CPU_ID_REGISTRATION_FAILED;
	stash_take(h, pd);
	if (GS_UNLIKELY(tls.res_off == TLS_RES_UNPROBED))
		probe_descriptor();
	if (tls.res_off >= 0)
		*(void **)(pd + tls.resp_off) = pd + tls.res_off;
	hub_tls_adopt(pd, h);
	g->tp = pd;
	g->flags |= GREEN_OWN_TLS;
	*top = lo;
	return 0;
}

void tls_move(struct green *g, struct hub *t)
{
	if (!(g->flags & GREEN_OWN_TLS)) {
		g->tp = t->hub_green->tp; /* it shares its OS thread's */
		return;
	}
	/* What the descriptor says of its OS thread: its id (gettid reads
	 * it), THREAD_SELF (the owner of glibc's recursive locks: two green
	 * threads running at once on two hubs must be two owners), and the
	 * runtime's own tls_hub. */
	*(int32_t *)((char *)g->tp + tls.tid_off) = t->tid;
	*(void **)((char *)g->tp + TCB_OFF_SELF) = *(void **)((char *)t->hub_green->tp + TCB_OFF_SELF);
	hub_tls_adopt(g->tp, t);
}

void tls_first_run(struct green *g)
{
	(void)g;
	/* The global locale, and the ctype tables of <ctype.h> with it
	 * (start_thread calls __ctype_init; uselocale does the same). */
	uselocale(LC_GLOBAL_LOCALE);
}

void tls_exit(struct green *g)
{
	char *pd = g->tp;

	/* C++ thread_local destructors and __cxa_thread_atexit_impl
	 * callbacks, on the thread's own TLS, before its keys' destructors
	 * (as start_thread orders them). The root in green mode runs them
	 * too: its TLS is the OS thread's own, which no green thread shares. */
	if (tls.call_dtors != NULL &&
	    ((g->flags & GREEN_OWN_TLS) || ((g->flags & GREEN_ROOT) && gs_tls_mode != TLS_SHARED)))
		tls.call_dtors();
	if (!(g->flags & GREEN_OWN_TLS))
		return;
	/* The resolver's sockets, if _res was used (__res_thread_freeres). */
	if (tls.res_off >= 0 && (((struct __res_state *)(pd + tls.res_off))->options & RES_INIT))
		res_nclose((struct __res_state *)(pd + tls.res_off));
}

void tls_release(struct hub *h, struct green *g)
{
	if (!(g->flags & GREEN_OWN_TLS))
		return;
	stash_put(h, g->tp);
	tls.deallocate(g->tp, false);
	g->flags &= ~GREEN_OWN_TLS;
}

void tls_set_tid(void *tp, int tid)
{
	if (gs_tls_mode != TLS_SHARED && tp != NULL)
		*(int32_t *)((char *)tp + tls.tid_off) = tid;
}

char *tls_block_lo(const struct green *g)
{
	if (!(g->flags & GREEN_OWN_TLS))
		return (char *)g;
	return (char *)g->tp - (tls.static_size - tls.pd_size);
}
