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

#include <asm/ldt.h>
#include <sys/syscall.h>

#include "syscall.h"

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

/*
 * A thread pointer below 4 GiB can also come from a descriptor of the
 * process's local descriptor table (modify_ldt, Linux): a MOV of its
 * selector into FS loads the descriptor's 32-bit base, and the kernel
 * loads the selector again at its own context switches, FSGSBASE or not.
 * Measured on a KVM guest: a few ns a load, where WRFSBASE took 13 ns and
 * arch_prctl(ARCH_SET_FS) 0.2 us (5 us on the PVM guests). The table is
 * the process's (every OS thread's, copied by fork), 8,192 entries.
 */
#define ARCH_TP_SLOTS LDT_ENTRIES
#define ARCH_TP_SLOT_LIMIT (UINT64_C(1) << 32) /* a descriptor's base is 32 bits */

/* Slot i's selector: index, table indicator (LDT), privilege level 3. */
static inline uint16_t arch_tp_slot_sel(unsigned slot)
{
	return (uint16_t)(slot << 3 | 4 | 3);
}

static inline unsigned arch_tp_sel_slot(uint16_t sel)
{
	return sel >> 3;
}

/* Points slot at base (below ARCH_TP_SLOT_LIMIT): 0 or -errno (-ENOSYS
 * where the kernel was built without modify_ldt). */
static inline int arch_tp_slot_set(unsigned slot, const void *base)
{
	struct user_desc d = {
		.entry_number = slot,
		.base_addr = (unsigned)(uintptr_t)base,
		.limit = 0xfffff, /* unchecked in 64-bit mode */
		.seg_32bit = 1,
		.limit_in_pages = 1,
		.useable = 1,
	};

	return (int)arch_syscall3(SYS_modify_ldt, 0x11 /* write */, (long)&d, sizeof d);
}

static inline void arch_tp_load_sel(uint16_t sel)
{
	__asm__ volatile("movw %0, %%fs" : : "r"(sel) : "memory");
}

/* The stack pointer a setjmp saved in a jmp_buf's __jmpbuf: word 6
 * (JB_RSP), mangled with the thread's pointer guard (PTR_MANGLE: xor with
 * fs:0x30, then rotated left by 17 bits). */
static inline uintptr_t arch_jmpbuf_sp(const long *jmpbuf)
{
	uintptr_t guard, v = (uintptr_t)jmpbuf[6];

	__asm__("movq %%fs:0x30, %0" : "=r"(guard));
	return ((v >> 17) | (v << 47)) ^ guard;
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
