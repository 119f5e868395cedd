/*
 * Raw system calls for x86-64: for the few places where the runtime must
 * not go through libc's exported functions, because greenshim interposes
 * them (write, fcntl) and the caller may be a signal handler or the
 * interposition's own bootstrap. Linux ABI: number in rax, arguments in
 * rdi, rsi, rdx; rcx and r11 are clobbered; -errno comes back in rax.
 */
#ifndef GS_ARCH_SYSCALL_H
#define GS_ARCH_SYSCALL_H

static inline long arch_syscall3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

#endif
