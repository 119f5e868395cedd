/*
 * System calls the runtime makes without libc's wrappers: libc's write and
 * fcntl are the interposed ones under LD_PRELOAD (a call from inside the
 * library would land in greenshim's own wrapper). Each returns the kernel's
 * result: >= 0, or a negative errno value.
 */
#ifndef GS_SYS_H
#define GS_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#include "arch/x86_64/syscall.h"
#else
#error "greenshim: no src/arch/ support for this CPU yet"
#endif

static inline long sys_write(int fd, const void *buf, size_t n)
{
	return arch_syscall3(SYS_write, fd, (long)buf, (long)n);
}

static inline long sys_fcntl(int fd, int cmd, long arg)
{
	return arch_syscall3(SYS_fcntl, fd, cmd, arg);
}

static inline long sys_gettid(void)
{
	return arch_syscall3(SYS_gettid, 0, 0, 0);
}

/* The kernel's alternate signal stack of the calling OS thread: libc's
 * sigaltstack is greenshim's per green thread (src/overflow.c). */
static inline long sys_sigaltstack(const void *ss, void *old)
{
	return arch_syscall3(SYS_sigaltstack, (long)ss, (long)old, 0);
}

/* rt_sigaction's struct, as the kernel reads it on x86-64. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* FUTEX_WAKE of a word any process may wait on. */
static inline long sys_futex_wake(const void *word, int n)
{
	return arch_syscall3(SYS_futex, (long)word, 1 /* FUTEX_WAKE */, n);
}

#endif
