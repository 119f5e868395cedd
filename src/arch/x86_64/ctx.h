/*
 * The frame ctx_switch (switch.S) leaves at a suspended context's saved
 * stack pointer, slot by slot (8 bytes each), for those who read it
 * without resuming it: introspect.c's unwinding, and debuggers through
 * the table gs_debug_table names it in (CTX_SLOT_NAMES, gdb's register
 * names; "-" for the MXCSR and x87 control word slot).
 */
#ifndef GS_ARCH_CTX_H
#define GS_ARCH_CTX_H

#include <signal.h>
#include <stdint.h>

enum {
	CTX_SLOT_FPU,
	CTX_SLOT_R15,
	CTX_SLOT_R14,
	CTX_SLOT_R13,
	CTX_SLOT_R12,
	CTX_SLOT_RBX,
	CTX_SLOT_RBP,
	CTX_SLOT_RIP, /* the return address into ctx_switch's caller */
	CTX_SLOTS     /* the resumed stack pointer is sp + 8 * CTX_SLOTS */
};

#define CTX_SLOT_NAMES "- r15 r14 r13 r12 rbx rbp rip"

/* A new context's first code: the return address ctx_make leaves in its
 * CTX_SLOT_RIP, until it first runs. */
void ctx_trampoline(void);

/* A signal handler's continuation: the handler the kernel called, or the
 * part of it still to run, with the frame's own arguments. */
typedef void (*sigframe_fn)(int sig, siginfo_t *si, void *uc);

/* Moves the signal frame the kernel made for the running handler (the one
 * whose si and uc these are) to just below top, laid out as the kernel
 * lays one out, and goes on with fn(sig, si, uc) on the copy, on that
 * stack: fn returns to the frame's restorer, whose rt_sigreturn reads the
 * copy (context.c). The memory the frame was in is free from then on.
 * Returns, moving nothing, if the copy would reach below lo. */
void sigframe_move(uintptr_t top, uintptr_t lo, sigframe_fn fn, int sig, siginfo_t *si, void *uc);

/* switch.S: sp becomes frame (the restorer's address, where the kernel
 * leaves a handler's stack pointer) and fn(sig, si, uc) runs there. */
_Noreturn void sigframe_resume(void *frame, sigframe_fn fn, int sig, siginfo_t *si, void *uc);

#endif
