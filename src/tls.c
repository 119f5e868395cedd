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
 * lists. The price: those two text buffers are per OS thread. A robust
 * mutex's list mixes both descriptors (its head's fields FS-relative, its
 * links to the head's address through THREAD_SELF): glibc's calls on one
 * run on the OS thread's thread pointer (tls_robust_begin).
 *
 * The kernel must keep the FS base. Three ways (GREENSHIM_TLS_LOAD names
 * one; by default the LDT's where the kernel offers it, else WRFSBASE,
 * else arch_prctl):
 *  1. A selector of the LDT (TLS_LDT, arch/x86_64/tls.h): each block of
 *     descriptor and TLS lies in one region below 4 GiB (a descriptor's
 *     base is 32 bits), block i's thread pointer in slot i of the
 *     process's LDT (modify_ldt), written when the block is first handed
 *     out. A MOV of the selector into FS loads the base (8.5 ns, against
 *     12 ns for a WRFSBASE, on the AMD EPYC KVM guest; a switch between
 *     green threads 14-16 ns against 28-30, since the WRFSBASE also holds
 *     up what follows it), and the kernel loads the selector again at its
 *     context switches. The blocks stay with the hub that made them (a
 *     free list per hub: a thread's TLS goes back on its home hub, as its
 *     stack does), and a slot keeps its block for the life of the
 *     process: a write copies the whole table (4 us with a small one, 19
 *     us with 8,192 entries) and interrupts the process's other CPUs, so
 *     each slot is written once. The table has 8,192 slots; a thread made
 *     when none is free gets its TLS at the top of its stack and no
 *     selector. The contexts without a selector (that thread, the root's
 *     and the hub's, whose TLS is glibc's above 4 GiB) are loaded with
 *     WRFSBASE where the kernel keeps it (gs_tls_rest_fast: with FSGSBASE
 *     the kernel saves the selector and the base at its context switches
 *     and restores the selector first, then the base), else with
 *     arch_prctl.
 *  2. WRFSBASE (TLS_FAST), where the kernel enables FSGSBASE for user
 *     space (AT_HWCAP2, Linux 5.9+) and the LDT's way is not taken (no
 *     modify_ldt, or asked for): the kernel saves and restores the
 *     register at its own context switches. Without FSGSBASE the kernel
 *     restores the base it last set for the thread: on some of this
 *     project's VMs (a PVM guest, "FS base via WRFSBASE (host
 *     CR4.FSGSBASE set)") the instruction does not fault, yet the value
 *     it wrote was gone after the thread's next sleep in the kernel (Rust
 *     threads ran on the main thread's TLS).
 *  3. arch_prctl(ARCH_SET_FS) (TLS_SLOW), a system call: 5 us on the PVM
 *     guests, 0.2 us on a KVM guest. Under valgrind always, whatever the
 *     kernel: its CPU has no WRFSBASE (SIGILL, "unhandled instruction"),
 *     and it carries out arch_prctl(ARCH_SET_FS) on its own copy of the
 *     FS base.
 * With the first and third, the hub's context runs on whatever TLS is
 * loaded (hub.c): a hand-off through the hub costs one load, not two.
 * When that TLS goes (its thread is released), the hub's context moves to
 * a block of its own (tls_hub_park), made when the first thread to run
 * there is made (tls_spare_for: the hub's context calls no allocator).
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
 *  - probing WRFSBASE by executing it: it runs on the PVM guests and
 *    still does not stick;
 *  - copying each thread's TLS in and out of the OS thread's at every
 *    switch (no FS change): a pointer to a thread's __thread variable
 *    would show whichever thread runs;
 *  - a separate pool of TLS blocks where the thread pointer can be
 *    loaded at any address (WRFSBASE, arch_prctl): 4,224 bytes span two
 *    pages, where at the top of the stack they share pages with the
 *    first frames. The LDT's blocks must be below 4 GiB, and pay that;
 *  - an LDT slot per running thread, rewritten as threads take turns
 *    (fewer slots): a write costs more than the arch_prctl it saves;
 *  - WRFSBASE before the LDT's slots where both work (the default until
 *    2026-12-04), and the LDT's way with arch_prctl for the OS thread's
 *    own TLS where WRFSBASE works: the first paid a WRFSBASE per switch
 *    (gs-microbench: a switch 28-30 ns, a mutex + condition variable
 *    hand-off 54 ns, against 14-16 and 40-43 with the LDT's way and
 *    WRFSBASE for the rest), the second an arch_prctl at every switch
 *    into the main thread (spawn + join 444-567 ns against 297-299).
 *    What the default pays instead: a slot write for each of the first
 *    8,192 blocks (making 20,000 threads, 11.6-12.9 us each against
 *    7.3-7.4), and 0.1 KiB more RSS per thread.
 *
 * Checked on glibc 2.36 (Debian 12). Where an entry point or descriptor
 * is missing (another libc), one line says so and green threads share
 * their OS thread's TLS, as with GREENSHIM_TLS=shared.
 */
#include <dlfcn.h>
#include <locale.h>
#include <netdb.h>
#include <resolv.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub_impl.h"
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
bool gs_tls_rest_fast;

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

/* TLS_LDT: blocks for descriptor and static TLS in one region below 4 GiB,
 * block i's thread pointer in slot i of the LDT, set when the block is
 * first handed out and kept while the process lives. */
static struct {
	char *base;
	size_t size;          /* of one block */
	unsigned n;           /* blocks in the region (at most ARCH_TP_SLOTS) */
	atomic_uint used;     /* blocks handed out once: their slots are set */
	void *orphans;        /* free blocks of hubs that ended */
	uint16_t orphans_lock; /* gsync_lock */
} ldt;

/* The region's span: 8,192 blocks of a small program's 4,288 bytes take
 * 34 MiB; a program with much more static TLS gets fewer blocks. */
#define LDT_REGION_MAX ((size_t)256 << 20)

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

/* The descriptor's place in a block of TLS_LDT's region: its slot's base,
 * the thread pointer. */
static char *ldt_block_pd(char *b)
{
	return (char *)(((uintptr_t)b + ldt.size - tls.pd_size) & ~(uintptr_t)(tls.align - 1));
}

/* The probe's load, in a child that shares the program's memory and LDT
 * (a vfork): where the kernel takes modify_ldt and the CPU (or a
 * hypervisor) then faults on the load, the child dies, not the program.
 * Only raw instructions here: FS is the probe block's once loaded (hence
 * no stack protector, whose canary is read through FS). */
__attribute__((no_stack_protector)) static int ldt_probe_child(void *pd)
{
	arch_tp_load_sel(arch_tp_slot_sel(0));
	return arch_tp_get() == pd ? 0 : 1;
}

static bool ldt_probe(void *pd)
{
	static char stack[16384] __attribute__((aligned(16)));
	int status = 0;
	long pid = clone(ldt_probe_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK, pd);

	if (pid < 0)
		return false;
	/* No signal at its end (none may reach the program's handler), so
	 * waited for as a clone child; with the raw call: wait4 is wrapped. */
	if (arch_syscall6(SYS_wait4, pid, (long)&status, __WCLONE, 0, 0, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Reserves the region of TLS_LDT's blocks and checks, with its first one,
 * that a selector of the LDT loads it: false where the kernel has no
 * modify_ldt (-ENOSYS) or refuses it, the load fails, or the region
 * cannot be below 4 GiB. */
static bool ldt_setup(void)
{
	size_t size = (tls.static_size + 2 * tls.align - 1) & ~(tls.align - 1);
	size_t n = LDT_REGION_MAX / size;
	char *base, *pd;

	if (n > ARCH_TP_SLOTS)
		n = ARCH_TP_SLOTS;
	base = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_32BIT, -1, 0);
	if (base == MAP_FAILED)
		return false;
	ldt.base = base;
	ldt.size = size;
	pd = ldt_block_pd(base);
	if ((uintptr_t)base + n * size > ARCH_TP_SLOT_LIMIT || arch_tp_slot_set(0, pd) != 0)
		goto fail;
	/* The block is empty but for the descriptor's first word, which
	 * names itself as a TCB's does. */
	*(void **)pd = pd;
	if (!ldt_probe(pd))
		goto fail;
	ldt.n = (unsigned)n; /* block 0 goes first, its slot already set */
	return true;
fail:
	munmap(base, n * size);
	ldt.base = NULL;
	return false;
}

/* A free block with its slot set, and its selector; NULL if every slot
 * is taken. On h's OS thread. */
static char *ldt_block_get(struct hub *h, uint16_t *sel)
{
	char *b = h->tls_blocks;
	unsigned i = atomic_load_explicit(&ldt.used, memory_order_relaxed);

	if (b != NULL) {
		h->tls_blocks = *(void **)b;
	} else {
		while (i < ldt.n && !atomic_compare_exchange_weak(&ldt.used, &i, i + 1))
			;
		if (i < ldt.n) {
			b = ldt.base + (size_t)i * ldt.size;
			if (i != 0 && arch_tp_slot_set(i, ldt_block_pd(b)) != 0)
				return NULL; /* that slot is lost; the thread uses arch_prctl */
		} else if (__atomic_load_n(&ldt.orphans, __ATOMIC_RELAXED) != NULL) {
			gsync_lock(&ldt.orphans_lock);
			b = ldt.orphans;
			if (b != NULL)
				ldt.orphans = *(void **)b;
			gsync_unlock(&ldt.orphans_lock);
		}
		if (b == NULL)
			return NULL;
	}
	*sel = arch_tp_slot_sel((unsigned)((size_t)(b - ldt.base) / ldt.size));
	return b;
}

static char *ldt_block_of(uint16_t sel)
{
	return ldt.base + (size_t)arch_tp_sel_slot(sel) * ldt.size;
}

/* b goes back on h's list, its slot still set. */
static void ldt_block_put(struct hub *h, char *b)
{
	*(void **)b = h->tls_blocks;
	h->tls_blocks = b;
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

/* A way the program asked for (GREENSHIM_TLS_LOAD) that this kernel does
 * not offer: one line, exit status 2, as for a value that is not one. */
static _Noreturn void tls_load_refused(unsigned way, const char *why)
{
	char line[200];
	int n = snprintf(line, sizeof line, "greenshim: GREENSHIM_TLS_LOAD=%s: %s\n",
			 config_tls_load_name(way), why);

	sys_write(STDERR_FILENO, line, (size_t)n);
	_exit(2);
}

/* How green threads' thread pointers are loaded: the cheapest way this
 * kernel keeps, or the one asked for. */
static enum tls_mode tls_load_way(unsigned want)
{
	static const char msg[] =
		"greenshim: this kernel neither keeps the FS base that WRFSBASE sets nor "
		"offers modify_ldt: each switch between green threads loads their TLS with "
		"arch_prctl (a system call); GREENSHIM_TLS=shared shares one TLS instead, "
		"GREENSHIM_TLS=green keeps this and silences this line\n";
	/* Only a kernel that says so keeps a WRFSBASE value across its own
	 * context switches (HWCAP2_FSGSBASE, Linux 5.9+); valgrind's CPU
	 * has neither WRFSBASE nor segment loads of its own. */
	bool valgrind = RUNNING_ON_VALGRIND;
	bool fsgsbase = !valgrind && (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE);

	switch (want) {
	case CONFIG_TLS_LOAD_WRFSBASE:
		if (!fsgsbase)
			tls_load_refused(want, valgrind ? "not under valgrind"
							      : "this kernel does not enable "
								"FSGSBASE for programs (AT_HWCAP2)");
		return TLS_FAST;
	case CONFIG_TLS_LOAD_LDT:
		if (valgrind)
			tls_load_refused(want, "not under valgrind");
		if (!ldt_setup())
			tls_load_refused(want, "this kernel has no modify_ldt, or refused it");
		gs_tls_rest_fast = fsgsbase;
		return TLS_LDT;
	case CONFIG_TLS_LOAD_SYSCALL:
		return TLS_SLOW;
	default:
		if (!valgrind && ldt_setup()) {
			gs_tls_rest_fast = fsgsbase;
			return TLS_LDT;
		}
		if (fsgsbase)
			return TLS_FAST;
		/* Told to a person at a terminal; a script's or a test's
		 * stderr stays the program's own. */
		if (!valgrind && !gs_config.tls_explicit && isatty(STDERR_FILENO))
			sys_write(STDERR_FILENO, msg, sizeof msg - 1);
		return TLS_SLOW;
	}
}

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
	if (gs_config.tls_green && !gs_config.native_threads && !TLS_TSAN && tls_setup())
		gs_tls_mode = tls_load_way(gs_config.tls_load);
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
	if (h->tls_spare != NULL) {
		/* The root runs (hub_destroy), on the OS thread's TLS. */
		tls.deallocate(h->tls_spare->tp, false);
		ldt_block_put(h, ldt_block_of(h->tls_spare->fs_sel));
		gs_free(h->tls_spare);
		h->tls_spare = NULL;
	}
	if (h->tls_blocks != NULL) {
		void **last = h->tls_blocks;

		while (*last != NULL)
			last = *last;
		gsync_lock(&ldt.orphans_lock);
		*last = ldt.orphans;
		ldt.orphans = h->tls_blocks;
		gsync_unlock(&ldt.orphans_lock);
		h->tls_blocks = NULL;
	}
}

/* ---- a green thread's TLS ------------------------------------------------ */

/* A descriptor at pd for a thread of h: what it must say before its first
 * run (the design comment's list). 0 or -EAGAIN. */
static int tcb_make(struct hub *h, char *pd)
{
	const char *os = h->hub_green->tp; /* the OS thread's TCB */

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
	return 0;
}

int tls_make(struct hub *h, struct green *g, char **top)
{
	uint16_t sel = 0;
	char *b = gs_tls_mode == TLS_LDT ? ldt_block_get(h, &sel) : NULL;
	char *pd, *lo;
	int r;

	if (b != NULL) {
		pd = ldt_block_pd(b);
		lo = *top; /* the frames have the stack to themselves */
	} else {
		pd = (char *)(((uintptr_t)*top - tls.pd_size) & ~(uintptr_t)(tls.align - 1));
		lo = pd - (tls.static_size - tls.pd_size);
		if (lo - TLS_MIN_REST < g->stack.lo)
			return -EINVAL; /* a stack of the program's, too small */
	}
	r = tcb_make(h, pd);
	if (r < 0) {
		if (b != NULL)
			ldt_block_put(h, b);
		return r;
	}
	g->tp = pd;
	g->fs_sel = sel;
	g->flags |= GREEN_OWN_TLS;
	*top = lo;
	return 0;
}

void tls_hub_park(struct hub *h)
{
	struct green *spare = __atomic_load_n(&h->tls_spare, __ATOMIC_ACQUIRE);

	if (spare == NULL)
		spare = h->hub_green;
	tls_load(spare);
	h->fs = spare->tp;
}

/* What the descriptor at tp says of the OS thread that runs it: its id
 * (gettid reads it), THREAD_SELF (the owner of glibc's recursive locks:
 * two green threads running at once on two hubs must be two owners), and
 * the runtime's own tls_hub. */
static void tcb_move(char *tp, struct hub *t)
{
	*(int32_t *)(tp + tls.tid_off) = t->tid;
	*(void **)(tp + TCB_OFF_SELF) = *(void **)((char *)t->hub_green->tp + TCB_OFF_SELF);
	hub_tls_adopt(tp, t);
}

/*
 * The hub's context's own block, for tls_hub_park, made for t (if it has
 * none) by a thread of h that makes a thread to run on t, in
 * pthread_create, where glibc too allocates. Not by t's context when it
 * needs it, nor by the new thread: _dl_allocate_tls calls the program's
 * malloc, and
 *  - a thread of t preempted inside that malloc may hold its lock (with a
 *    static tcmalloc, t's OS thread then waited in futex for good:
 *    tests/preload's allocators-static-tcmalloc_minimal hung);
 *  - the new thread's own malloc counts would show one call it did not
 *    make (tests/preload/own_malloc.c).
 * Two hubs may make one for t at once: the first to publish it wins.
 */
void tls_spare_for(struct hub *h, struct hub *t)
{
	struct green *spare, *none = NULL;
	char *b;

	if (gs_tls_mode != TLS_LDT || __atomic_load_n(&t->tls_spare, __ATOMIC_ACQUIRE) != NULL)
		return;
	spare = gs_calloc(1, sizeof *spare);
	b = spare != NULL ? ldt_block_get(h, &spare->fs_sel) : NULL;
	if (b != NULL) {
		spare->tp = ldt_block_pd(b);
		if (tcb_make(h, spare->tp) == 0) {
			tcb_move(spare->tp, t);
			if (__atomic_compare_exchange_n(&t->tls_spare, &none, spare, false,
							__ATOMIC_RELEASE, __ATOMIC_RELAXED))
				return;
			tls.deallocate(spare->tp, false);
		}
		ldt_block_put(h, b);
	}
	gs_free(spare);
}

void tls_move(struct green *g, struct hub *t)
{
	if (!(g->flags & GREEN_OWN_TLS)) {
		g->tp = t->hub_green->tp; /* it shares its OS thread's */
		return;
	}
	tcb_move(g->tp, t);
}

/* Loads tp, a thread pointer with no selector of the LDT's (the OS
 * thread's own), as a switch loads one. */
static void tp_load(void *tp)
{
	if (gs_tls_mode == TLS_FAST || gs_tls_rest_fast)
		arch_tp_set_fast(tp);
	else
		tls_set_slow(tp);
}

bool tls_robust_begin(const struct green *g)
{
	if (g == NULL || !(g->flags & GREEN_OWN_TLS))
		return false;
	tp_load(*(char **)((char *)g->tp + TCB_OFF_SELF));
	return true;
}

void tls_robust_end(const struct green *g)
{
	tls_load(g);
}

/* ---- set*id ----------------------------------------------------------- */

/* glibc's SIGSETXID: a set*id call sends it to every thread glibc made
 * (the hubs' OS threads among them), whose handler makes the call there
 * and clears the thread's SETXID bit, reading the descriptor's field
 * through FS and writing it through THREAD_SELF: on a green thread's TLS
 * those are two descriptors, and its compare-and-swap loop never ended
 * (seen with squid, whose setresuid at exit hung with two hubs). Ours runs
 * glibc's on its OS thread's own thread pointer, and loads the green
 * thread's back after. */
#define GLIBC_SIGSETXID 33

static void (*glibc_setxid)(int, siginfo_t *, void *);

static void setxid_handler(int sig, siginfo_t *si, void *uc)
{
	char *tp = arch_tp_get();
	char *pd = *(char **)(tp + TCB_OFF_SELF);

	if (pd != tp)
		tp_load(pd);
	glibc_setxid(sig, si, uc);
	if (pd != tp)
		tp_load(tp);
}

void tls_setxid_wrap(void)
{
	static atomic_bool done;
	struct ksigaction k;

	/* glibc installs its handler at its first pthread_create. */
	if (atomic_exchange(&done, true) ||
	    arch_syscall6(SYS_rt_sigaction, GLIBC_SIGSETXID, 0, (long)&k, sizeof k.mask, 0, 0) != 0 ||
	    !(k.flags & SA_SIGINFO) || k.handler == NULL || k.handler == (void *)setxid_handler)
		return;
	glibc_setxid = (void (*)(int, siginfo_t *, void *))k.handler;
	k.handler = (void *)setxid_handler;
	arch_syscall6(SYS_rt_sigaction, GLIBC_SIGSETXID, (long)&k, 0, sizeof k.mask, 0, 0);
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
	if (g->fs_sel != 0) {
		ldt_block_put(h, ldt_block_of(g->fs_sel));
		g->fs_sel = 0;
	}
}

static void tls_set_tid(void *tp, int tid)
{
	if (gs_tls_mode != TLS_SHARED && tp != NULL)
		*(int32_t *)((char *)tp + tls.tid_off) = tid;
}

void tls_fork_child(struct hub *h)
{
	/* Another hub's OS thread may have held it: it is not in the child. */
	ldt.orphans_lock = 0;
	/* The kernel wrote the child's id into the forking thread's
	 * descriptor only; the hub's context runs on the OS thread's, or on
	 * its own block. */
	tls_set_tid(h->hub_green->tp, h->tid);
	if (h->tls_spare != NULL)
		tls_set_tid(h->tls_spare->tp, h->tid);
}

char *tls_block_lo(const struct green *g)
{
	if (!(g->flags & GREEN_OWN_TLS) || g->fs_sel != 0)
		return (char *)green_ru(g);
	return (char *)g->tp - (tls.static_size - tls.pd_size);
}
