/*
 * Raw system calls: caught with Syscall User Dispatch.
 *
 * The wrappers see every system call a program makes through libc. Some
 * code makes its own: liburing's io_uring_enter, libgomp's futex calls, a
 * statically linked library's read, ld.so's loading. A blocking one holds
 * the hub's OS thread until the kernel returns, and every other green
 * thread waits with it.
 *
 * Linux 5.11's Syscall User Dispatch (prctl PR_SET_SYSCALL_USER_DISPATCH)
 * lets one range of code make system calls as usual and turns a call made
 * from anywhere else into SIGSYS, while a selector byte that the thread
 * names says "block" (SYSCALL_DISPATCH_FILTER_BLOCK); "allow" lets every
 * call through. The range here is libc's text: every wrapper, libev and
 * the runtime itself call the kernel through libc (the runtime's own raw
 * calls, src/arch/<cpu>/syscall.h, through a "syscall; ret" of libc's:
 * arch_libc_syscall). The setting is per OS thread and neither clone nor
 * fork passes it on: it is made for a hub's OS thread when the hub gets its
 * second green thread (a program with one thread has nothing to gain),
 * again in a fork child when that happens there, never for the runtime's
 * own threads, the worker pool, or the native threads of a library kept
 * native (GREENSHIM_NATIVE_LIBS) unless they make green threads.
 *
 * The SIGSYS handler runs on the calling thread's stack, with SA_NODEFER
 * (a thread parked inside it must not leave SIGSYS blocked for the next
 * one: a trapped call with SIGSYS blocked kills the process, so the kernel
 * mask never blocks it while this is on, src/sigmask.c, and no handler's
 * sa_mask does, preload/signal.c). It reads the call from the registers
 * and:
 * - for a call made on a green thread by code that is not the runtime's
 *   (ld.so's loading, the vDSO's fallbacks, libgreenshim's own: carried
 *   out as they are) and not on the alternate signal stack, asks preload/
 *   (trap_set_hook), which carries out the blocking calls as the libc
 *   functions of the same names would under greenshim: a read on a socket
 *   parks the thread, a futex wait waits in the hub, io_uring_enter
 *   waiting for completions waits for the ring's fd; a change of signal
 *   mask goes through the green thread's mask. A call made by the code of
 *   a library whose threads stay native (libgomp, whose real threads wake
 *   the caller in the kernel) is passed through, as below;
 * - passes through the calls that cannot run inside a signal handler
 *   (clone, clone3, fork, vfork, execve, execveat, rt_sigreturn), and
 *   libgomp's: made once more, for real, when the handler returns, with
 *   every register as the program left it (pass_call, below). A child
 *   (fork, vfork, a thread) starts where the program's call returns, as
 *   natively, on the stack the program gave it;
 * - carries out every other call as asked, with the kernel's result in
 *   rax; rt_sigprocmask on the context the handler returns to, since
 *   sigreturn restores that mask.
 * A SIGSYS that is not a dispatch (seccomp's SECCOMP_RET_TRAP, kill) goes
 * to the program's disposition, kept here as overflow.c keeps SIGSEGV's.
 *
 * Cost (tools/bench/rawbench.c): a trapped call that is carried out costs
 * one signal delivery and return more than the call itself, 3.6-5.4 us on
 * this project's VMs; nothing changes for calls made through libc.
 *
 * Never under valgrind: it runs the program's code on a CPU of its own and
 * makes every system call, the program's included, from its own text,
 * outside libc's; dispatch on would send it SIGSYS for each, and the
 * process dies of the first. Raw calls then go to the kernel as they are,
 * as with GREENSHIM_SYSCALLS=off (docs/LIMITATIONS.md).
 */
#include "hub_impl.h" /* before <link.h>: <elf.h> defines EV_NONE, ev.h an enum */

#include <link.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/audit.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <valgrind/valgrind.h>

#include "sys.h"

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#ifndef PR_SYS_DISPATCH_OFF
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_ALLOW
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

/* The syscall instruction is two bytes long (0f 05), as is int $0x80. */
#define SYSCALL_INSN_LEN 2
#define RUNTIME_RANGES_MAX 16

struct range {
	uintptr_t lo, hi;
};

static struct range libc_text;
static struct range runtime_text[RUNTIME_RANGES_MAX];
static int nruntime;
static atomic_int state; /* 0 unknown, 1 ready, -1 unavailable, TRAP_SETTING_UP */
static struct sigaction prev_sys;
static enum trap_action (*green_hook)(long nr, const long a[6], void *uc, long *ret);

atomic_ulong trap_count, trap_green_count;

bool trap_wanted(void)
{
	config_load();
	return gs_config.syscalls_trap && atomic_load_explicit(&state, memory_order_relaxed) >= 0 &&
	       !RUNNING_ON_VALGRIND;
}

void trap_set_hook(enum trap_action (*hook)(long nr, const long a[6], void *uc, long *ret))
{
	green_hook = hook;
}

static bool in_range(const struct range *r, uintptr_t pc)
{
	return pc >= r->lo && pc < r->hi;
}

/* Code whose system calls are carried out as they are: the loader's, the
 * vDSO's fallbacks and the runtime's own (and what it runs with the
 * wrappers off). */
static bool runtime_pc(uintptr_t pc)
{
	for (int i = 0; i < nruntime; i++)
		if (in_range(&runtime_text[i], pc))
			return true;
	return false;
}

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	static const char *const runtime[] = { "ld-linux", "linux-vdso", "libgreenshim",
					       "libev.so", "libunwind" };
	bool is_libc = strstr(info->dlpi_name, "/libc.so") != NULL;
	bool is_runtime = false;

	(void)size;
	(void)arg;
	for (size_t i = 0; i < sizeof runtime / sizeof runtime[0]; i++)
		if (strstr(info->dlpi_name, runtime[i]) != NULL)
			is_runtime = true;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		struct range r = { info->dlpi_addr + p->p_vaddr,
				   info->dlpi_addr + p->p_vaddr + p->p_memsz };

		if (p->p_type != PT_LOAD || !(p->p_flags & PF_X))
			continue;
		if (is_libc)
			libc_text = r;
		else if (is_runtime && nruntime < RUNTIME_RANGES_MAX)
			runtime_text[nruntime++] = r;
	}
	return 0;
}

/* A "syscall; ret" in libc's text: a whole wrapper of glibc's (getpid's
 * "mov $39, %eax; syscall; ret") ends that way. */
static void *find_libc_syscall(void)
{
	static const unsigned char insn[] = { 0x0f, 0x05, 0xc3 };
	const unsigned char *p = (const unsigned char *)libc_text.lo;

	if (libc_text.hi - libc_text.lo < sizeof insn)
		return NULL;
	p = memmem(p, libc_text.hi - libc_text.lo, insn, sizeof insn);
	return (void *)p;
}

/* Carries out a call as asked, from libc's text: the kernel's result. */
static long trap_exec(long nr, const long a[6])
{
	return arch_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* Was the call made on the alternate signal stack (a handler with
 * SA_ONSTACK)? A thread must not park there: the next signal would be
 * delivered onto the frames it left. uc_stack is that stack's setting. */
static bool on_altstack(const ucontext_t *uc)
{
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	uintptr_t lo = (uintptr_t)uc->uc_stack.ss_sp;

	return !(uc->uc_stack.ss_flags & SS_DISABLE) && sp >= lo && sp - lo < uc->uc_stack.ss_size;
}

/* rt_sigprocmask on the mask that sigreturn will restore. */
static long sigprocmask_on_context(ucontext_t *uc, const long a[6])
{
	const uint64_t never = ((uint64_t)1 << (SIGKILL - 1)) | ((uint64_t)1 << (SIGSTOP - 1)) |
			       ((uint64_t)1 << (SIGSYS - 1));
	uint64_t old, set;

	if (a[3] != sizeof(uint64_t))
		return -EINVAL;
	memcpy(&old, &uc->uc_sigmask, sizeof old);
	if (a[1] != 0) {
		memcpy(&set, (const void *)a[1], sizeof set);
		switch (a[0]) {
		case SIG_BLOCK:
			set = old | set;
			break;
		case SIG_UNBLOCK:
			set = old & ~set;
			break;
		case SIG_SETMASK:
			break;
		default:
			return -EINVAL;
		}
		set &= ~never;
		memcpy(&uc->uc_sigmask, &set, sizeof set);
	}
	if (a[2] != 0)
		memcpy((void *)a[2], &old, sizeof old);
	return 0;
}

/* ---- passing a call through, once ----------------------------------------
 *
 * The selector lets every call through while it says "allow": set so for
 * the one call that must be made in the program's own context, it would
 * let the calls after it through too, until something set it back. Until
 * 2026-12-07 that was the thread's next switch (hub.c): after each of its
 * signal handlers (Go's own restorer makes rt_sigreturn) and each
 * os/exec (a vfork clone), a cgo-built Go program's next raw futex wait
 * went to the kernel and held the hub's OS thread, and the program hung.
 *
 * rt_sigreturn goes to libc's own restorer instead, which makes the same
 * call on the same stack from libc's text (allowed): nothing changes.
 * Every other call goes to a stub of its own (one per call site and hub,
 * made on first use, kept for the process's life):
 *
 *     syscall                  the program's call, its registers as they were
 *     movabs $selector, %rcx   the hub's selector: "block" again
 *     movb   $1, (%rcx)
 *     movabs $return, %rcx     where the program's call returns; rcx holds
 *     jmp    *%rcx             that natively after a syscall, r11 the flags
 *
 * It uses no stack and no TLS, so a child on a new stack with a TLS of its
 * own runs it as well as its parent (and writes "block" into the parent's
 * selector, which is what the parent wants: a child has no dispatch of
 * its own). A thread stopped before the stub's syscall (a tick, a move to
 * another hub) finds its selector saying "block" when it resumes: the
 * stub's call is caught, and passed again by the stub of its own hub.
 * Where no stub can be made (PASS_STUBS_MAX reached, no memory), the old
 * way: "allow" until the next switch. */
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* <asm/signal.h>'s; glibc's headers keep it */
#endif
#define PASS_STUBS_MAX 256

struct pass_stub {
	uintptr_t ret;               /* the program's call returns here */
	const volatile char *sel;    /* the hub's selector */
	const unsigned char *code;   /* a page of its own, read and run only */
};

static struct pass_stub pass_stubs[PASS_STUBS_MAX];
static atomic_int npass_stubs;   /* published: entries below are whole */
static atomic_flag pass_making = ATOMIC_FLAG_INIT;
static uintptr_t libc_restorer;  /* libc's "mov $15, %rax; syscall" */

static const struct pass_stub *stub_at(uintptr_t code)
{
	int n = atomic_load_explicit(&npass_stubs, memory_order_acquire);

	for (int i = 0; i < n; i++)
		if ((uintptr_t)pass_stubs[i].code == code)
			return &pass_stubs[i];
	return NULL;
}

static const unsigned char *stub_find(uintptr_t ret, const volatile char *sel)
{
	int n = atomic_load_explicit(&npass_stubs, memory_order_acquire);

	for (int i = 0; i < n; i++)
		if (pass_stubs[i].ret == ret && pass_stubs[i].sel == sel)
			return pass_stubs[i].code;
	return NULL;
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, sizeof v);
}

/* The stub for a call that returns to ret on the hub whose selector is
 * sel, made if need be; NULL where none can be. In a signal handler: the
 * maker is one at a time, and a handler that comes while another makes
 * one does without. */
static const unsigned char *pass_stub(uintptr_t ret, const volatile char *sel)
{
	const unsigned char *code = stub_find(ret, sel);
	unsigned char *p;
	int n;

	if (code != NULL || atomic_flag_test_and_set_explicit(&pass_making, memory_order_acquire))
		return code;
	n = atomic_load_explicit(&npass_stubs, memory_order_relaxed);
	code = stub_find(ret, sel);
	if (code == NULL && n < PASS_STUBS_MAX) {
		p = (unsigned char *)arch_syscall6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if ((uintptr_t)p < (uintptr_t)-4095) {
			static const unsigned char syscall_insn[] = { 0x0f, 0x05 };
			static const unsigned char movabs_rcx[] = { 0x48, 0xb9 };
			static const unsigned char movb_1_rcx[] = { 0xc6, 0x01,
								    SYSCALL_DISPATCH_FILTER_BLOCK };
			static const unsigned char jmp_rcx[] = { 0xff, 0xe1 };
			size_t at = 0;

			memcpy(p + at, syscall_insn, 2), at += 2;
			memcpy(p + at, movabs_rcx, 2), put64(p + at + 2, (uintptr_t)sel), at += 10;
			memcpy(p + at, movb_1_rcx, 3), at += 3;
			memcpy(p + at, movabs_rcx, 2), put64(p + at + 2, ret), at += 10;
			memcpy(p + at, jmp_rcx, 2), at += 2;
			if (arch_syscall3(SYS_mprotect, (long)p, 4096, PROT_READ | PROT_EXEC) == 0) {
				pass_stubs[n] = (struct pass_stub){ ret, sel, p };
				atomic_store_explicit(&npass_stubs, n + 1, memory_order_release);
				code = p;
			} else {
				arch_syscall3(SYS_munmap, (long)p, 4096, 0);
			}
		}
	}
	atomic_flag_clear_explicit(&pass_making, memory_order_release);
	return code;
}

/* The call in uc (number nr, its syscall instruction just before the
 * interrupted pc) is made for real, in the program's context, once the
 * handler returns. */
static void pass_call(struct hub *h, ucontext_t *uc, long nr)
{
	greg_t *r = uc->uc_mcontext.gregs;
	uintptr_t ret = (uintptr_t)r[REG_RIP];
	const struct pass_stub *again = stub_at(ret - SYSCALL_INSN_LEN);
	const unsigned char *code;

	r[REG_RAX] = nr;
	if (nr == SYS_rt_sigreturn && libc_restorer != 0) {
		r[REG_RIP] = (greg_t)libc_restorer;
		return;
	}
	if (again != NULL)
		ret = again->ret; /* caught in a stub: stopped before its call */
	code = pass_stub(ret, &h->trap_sel);
	h->trap_sel = SYSCALL_DISPATCH_FILTER_ALLOW;
	r[REG_RIP] = code != NULL ? (greg_t)code : (greg_t)(ret - SYSCALL_INSN_LEN);
}

/* libc's restorer, as glibc's sigaction gives every handler (the one just
 * installed for SIGSYS): taken where its bytes are what rt_sigreturn needs. */
static uintptr_t find_libc_restorer(void)
{
	static const unsigned char insn[] = { 0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05 };
	struct sigaction now;

	if (__sigaction(SIGSYS, NULL, &now) != 0 || !(now.sa_flags & SA_RESTORER) ||
	    !in_range(&libc_text, (uintptr_t)now.sa_restorer) ||
	    (uintptr_t)now.sa_restorer + sizeof insn > libc_text.hi ||
	    memcmp((const void *)now.sa_restorer, insn, sizeof insn) != 0)
		return 0;
	return (uintptr_t)now.sa_restorer;
}

static bool passes_through(long nr)
{
	switch (nr) {
	case SYS_clone:
	case SYS_clone3:
	case SYS_fork:
	case SYS_vfork:
	case SYS_execve:
	case SYS_execveat:
	case SYS_rt_sigreturn:
		return true;
	default:
		return false;
	}
}

/* A SIGSYS that is no dispatch: the program's, as it would be natively. */
static void program_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = prev_sys;

	if (sig_disposition_is_handler(&a) && (a.sa_flags & SA_SIGINFO))
		a.sa_sigaction(sig, si, uc);
	else if (sig_disposition_is_handler(&a))
		a.sa_handler(sig);
	else if (a.sa_handler == SIG_DFL)
		sig_default_again(SIGSYS); /* a core dump, now (SA_NODEFER) */
}

static void sigsys_dispatch(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	greg_t *r = uc->uc_mcontext.gregs;
	struct hub *h = hub_peek();
	int saved_errno = errno;
	uintptr_t pc = (uintptr_t)r[REG_RIP];
	long nr = si->si_syscall, ret = 0;
	enum trap_action act;
	long a[6] = { r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9] };

	(void)sig;
	atomic_fetch_add_explicit(&trap_count, 1, memory_order_relaxed);
	if (si->si_arch != AUDIT_ARCH_X86_64 || h == NULL)
		goto pass;
	/* A stub's own call: the program's, passed already. */
	if (passes_through(nr) || stub_at(pc - SYSCALL_INSN_LEN) != NULL)
		goto pass_once;
	act = TRAP_EXEC;
	if (green_hook != NULL && h->current != h->hub_green && !runtime_pc(pc) &&
	    !on_altstack(uc))
		act = green_hook(nr, a, uc, &ret);
	if (act == TRAP_PASS)
		goto pass_once;
	if (act == TRAP_DONE)
		atomic_fetch_add_explicit(&trap_green_count, 1, memory_order_relaxed);
	else if (nr == SYS_rt_sigprocmask)
		ret = sigprocmask_on_context(uc, a);
	else
		ret = trap_exec(nr, a);
	r[REG_RAX] = ret;
	errno = saved_errno;
	return;
pass_once:
	pass_call(h, uc, nr);
	errno = saved_errno;
	return;
pass:
	/* Made again, for real, when the handler returns (int $0x80 is two
	 * bytes long too). */
	if (h != NULL)
		h->trap_sel = SYSCALL_DISPATCH_FILTER_ALLOW;
	r[REG_RIP] -= SYSCALL_INSN_LEN;
	r[REG_RAX] = nr;
	errno = saved_errno;
}

/* Taken on the OS thread's alternate stack (SA_ONSTACK), then moved as the
 * tick's frame is (overflow_signal_stack): below the interrupted stack
 * pointer on the thread's own stack, or onto the program's alternate stack
 * where the thread ran on a stack of the program's (a goroutine's 2 KiB).
 * Until 2026-12-07 the kernel put the frame (some 3.5 KiB with the FPU's
 * state) below the stack pointer wherever it was: a Go program built with
 * cgo, whose runtime's raw futex calls trap here from goroutine stacks,
 * died in its first garbage collection ("unexpected return pc", its
 * stack overwritten). The program's own handler of a SIGSYS that is no
 * dispatch runs where the kernel would have run it. Where the frame is
 * not moved (overflow_signal_stack returns: a SIGSYS that interrupts a
 * handler on the alternate stack nests there), both run where they are;
 * a dispatch there does not park (on_altstack). Until 2026-12-07 (second
 * session) they ran only where it returned true, and a sent SIGSYS that
 * came while another handler ran on the alternate stack was dropped:
 * sent_signals_get_their_native_action_sys saw status 0 where natively
 * the process dies (some 3 runs in 100). */
static void sigsys_handler(int sig, siginfo_t *si, void *ucp)
{
	struct hub *h = hub_peek();

	if (si->si_code != SYS_USER_DISPATCH) {
		overflow_signal_stack(h, (prev_sys.sa_flags & SA_ONSTACK) ? SIGSTACK_ONSTACK : SIGSTACK_PLAIN,
				      program_sigsys, sig, si, ucp);
		program_sigsys(sig, si, ucp);
		return;
	}
	overflow_signal_stack(h, SIGSTACK_TRAP, sigsys_dispatch, sig, si, ucp);
	sigsys_dispatch(sig, si, ucp);
}

#define TRAP_SETTING_UP 2 /* state: another hub's OS thread is at it */

/* Finds libc's text and installs the handler, once; hubs on several OS
 * threads may ask at once, and wait for the first to finish. */
static bool trap_ready(void)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&state, &expected, TRAP_SETTING_UP)) {
		struct sigaction sa;
		int ready = -1;

		if (!RUNNING_ON_VALGRIND) {
			dl_iterate_phdr(collect, NULL);
			arch_libc_syscall = find_libc_syscall();
			memset(&sa, 0, sizeof sa);
			sa.sa_sigaction = sigsys_handler;
			sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART | SA_ONSTACK;
			sigemptyset(&sa.sa_mask);
			if (arch_libc_syscall != NULL && __sigaction(SIGSYS, &sa, &prev_sys) == 0) {
				libc_restorer = find_libc_restorer();
				ready = 1;
			} else {
				arch_libc_syscall = NULL;
			}
		}
		atomic_store(&state, ready);
	}
	while (atomic_load(&state) == TRAP_SETTING_UP)
		arch_syscall3(SYS_sched_yield, 0, 0, 0);
	return atomic_load(&state) > 0;
}

void trap_hub_start(struct hub *h)
{
	if (h->trap_on || !gs_config.syscalls_trap || osthread_is_runtime() || !trap_ready())
		return;
	h->trap_sel = SYSCALL_DISPATCH_FILTER_BLOCK;
	if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, libc_text.lo,
		  libc_text.hi - libc_text.lo, &h->trap_sel) == 0) {
		uint64_t sys = (uint64_t)1 << (SIGSYS - 1);

		h->trap_on = true;
		/* A mask the program set before keeps SIGSYS blocked in the
		 * kernel (its own view of its mask does not change). */
		arch_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&sys, 0, sizeof sys, 0, 0);
		h->kmask &= ~sys;
	} else {
		h->trap_sel = SYSCALL_DISPATCH_FILTER_ALLOW;
	}
}

void trap_hub_stop(struct hub *h)
{
	if (h->trap_on)
		prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
	h->trap_on = false;
	h->trap_sel = SYSCALL_DISPATCH_FILTER_ALLOW;
}

int trap_program_handler(const struct sigaction *act, struct sigaction *old)
{
	if (atomic_load(&state) != 1)
		return -1;
	if (old != NULL)
		*old = prev_sys;
	if (act != NULL)
		prev_sys = *act;
	return 0;
}

char trap_let_through(struct hub *h)
{
	char was = h != NULL ? h->trap_sel : 0;

	if (was != 0)
		h->trap_sel = 0;
	return was;
}

void trap_restore(struct hub *h, char was)
{
	if (was != 0)
		h->trap_sel = was;
}
