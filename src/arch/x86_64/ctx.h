/*
 * The frame ctx_switch (switch.S) leaves at a suspended context's saved
 * stack pointer, slot by slot (8 bytes each), for those who read it
 * without resuming it: introspect.c's unwinding, and debuggers through
 * the table gs_debug_table names it in (CTX_SLOT_NAMES, gdb's register
 * names; "-" for the MXCSR and x87 control word slot).
 */
#ifndef GS_ARCH_CTX_H
#define GS_ARCH_CTX_H

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

#endif
