/*
 * The thread pointer on x86-64: the FS base, and the part of glibc's thread
 * control block that compiled code reads at fixed offsets from it.
 *
 * The first words of glibc's tcbhead_t are ABI, not glibc's private layout:
 * the TLS ABI puts the thread pointer itself at fs:0, GCC's stack protector
 * reads its canary at fs:0x28, glibc's PTR_MANGLE (setjmp, atexit) its
 * pointer guard at fs:0x30, CET its feature word at fs:0x48, and GCC's
 * split stacks their limit at fs:0x70 (sysdeps/x86_64/nptl/tls.h).
 */
#ifndef GS_ARCH_TLS_H
#define GS_ARCH_TLS_H

#include <stdint.h>
#include <string.h>

#define TCB_OFF_TCB 0x00            /* the TCB's own address */
#define TCB_OFF_SELF 0x10           /* THREAD_SELF: the descriptor glibc names */
#define TCB_OFF_MULTIPLE_THREADS 0x18
#define TCB_OFF_GSCOPE 0x1c
#define TCB_OFF_PRIVATE_SS 0x70     /* split-stack limit */
#define TCB_COPY_END 0x78           /* tcb..__private_ss: copied from the creator */

static inline void *arch_tp_get(void)
{
	void *tp;

	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* WRFSBASE: only where the kernel set CR4.FSGSBASE (tls.c probes it). */
static inline void arch_tp_set_fast(void *tp)
{
	__asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
}

/* A new TCB: the creator's header words (canary, pointer guard, CET
 * features, and its self word: THREAD_SELF names the OS thread that runs
 * the green thread, see src/tls.c), with its own address, more than one
 * thread, no lookup in progress and no split-stack limit. */
static inline void arch_tcb_init(char *tcb, const char *creator)
{
	memcpy(tcb, creator, TCB_COPY_END);
	*(void **)(tcb + TCB_OFF_TCB) = tcb;
	*(int32_t *)(tcb + TCB_OFF_MULTIPLE_THREADS) = 1;
	*(int32_t *)(tcb + TCB_OFF_GSCOPE) = 0;
	*(void **)(tcb + TCB_OFF_PRIVATE_SS) = NULL;
}

#endif
