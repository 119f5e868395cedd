/*
 * Raw system calls for x86-64: for the few places where the runtime must
 * not go through libc's exported functions, because greenshim interposes
 * them (write, fcntl) and the caller may be a signal handler or the
 * interposition's own bootstrap. Linux ABI: number in rax, arguments in
 * rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered; -errno comes back
 * in rax.
 *
 * While raw system calls are trapped (src/trap.c: Syscall User Dispatch,
 * which lets through only those made from libc's text), the instruction
 * that carries them out is one of libc's own: arch_libc_syscall points at
 * a "syscall; ret" there, reached through arch_syscall_libc (switch.S), an
 * ordinary call to its caller: the compiler keeps the red zone (the 128
 * bytes under the stack pointer a leaf function may use) and the caller's
 * unwind rules stay true at the return, so a handler of a signal that
 * comes in the call unwinds into its caller (before 2026-12-06 an inline
 * call below the red zone left the rules 128 bytes off, and libgcc's
 * unwinding stopped there).
 */
#ifndef GS_ARCH_SYSCALL_H
#define GS_ARCH_SYSCALL_H

/* "syscall; ret" inside libc's text, or NULL: the instruction is ours. */
extern void *arch_libc_syscall;
/* switch.S: jumps to arch_libc_syscall with the call's registers set;
 * its ret comes back to the caller. */
long arch_syscall_libc(long n, long a, long b, long c, long d, long e, long f);

static inline long arch_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	/* Loaded before the register variables are set: nothing may come
	 * between them and the asm that could be a call (a sanitizer's
	 * check of this load is one), which would not keep r8-r10. */
	void *insn = arch_libc_syscall;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	if (insn != NULL)
		return arch_syscall_libc(n, a, b, c, d, e, f);
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

/* intr.S: system call n, unless *stop is set, or the preemption signal
 * marked as a stop moves the pc from where it has not returned to
 * arch_intr_stopped (src/pool.c, pool_stop_signal): -EINTR then. Only on
 * the pool's workers, whose calls are not trapped. */
long arch_intr_syscall(const int *stop, long n, long a, long b, long c, long d, long e);
extern const char arch_intr_end[], arch_intr_stopped[];

static inline long arch_syscall3(long n, long a, long b, long c)
{
	return arch_syscall6(n, a, b, c, 0, 0, 0);
}

#endif
