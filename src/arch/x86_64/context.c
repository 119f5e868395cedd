/*
 * Building a fresh x86-64 context: the frame ctx_switch (switch.S) expects
 * to pop, with ctx_trampoline as the return address. MXCSR and the x87
 * control word start from the creator's values, as a new pthread's do.
 * And moving a signal frame the kernel made to another stack.
 */
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "../../runtime.h"

void ctx_make(struct ctx *c, void *stack_top, void (*entry)(void *), void *arg)
{
	/* After ctx_switch's final ret pops the return address the stack
	 * pointer is top, which must be 16-byte aligned for ctx_trampoline's
	 * call (see switch.S). */
	uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;
	uint32_t mxcsr;
	uint16_t fpucw;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));

	*--sp = (uint64_t)(uintptr_t)ctx_trampoline; /* return address */
	*--sp = 0;                                  /* rbp: ends frame-pointer walks */
	*--sp = 0;                                  /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry;         /* r12 */
	*--sp = (uint64_t)(uintptr_t)arg;           /* r13 */
	*--sp = 0;                                  /* r14 */
	*--sp = 0;                                  /* r15 */
	*--sp = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
	c->sp = sp;
#ifdef GS_TSAN
	c->fiber = __tsan_create_fiber(0);
#endif
}

#ifdef GS_TSAN
void ctx_release(struct ctx *c)
{
	if (c->fiber != NULL)
		__tsan_destroy_fiber(c->fiber);
	c->fiber = NULL;
}
#endif

/* The kernel's signal frame (arch/x86/kernel/signal_64.c): at the
 * handler's stack pointer the restorer's address, then the kernel's
 * ucontext and the siginfo (rt_sigframe); above them, 64-byte aligned, the
 * FPU state uc_mcontext.fpregs points to, whose size the software bytes at
 * its offset 464 give (FP_XSTATE_MAGIC1 and extended_size: the XSAVE area
 * with its closing magic), or 512 bytes of FXSAVE without them. */
#define FPSTATE_SW_BYTES 464
#define FP_XSTATE_MAGIC1 0x46505853U

static size_t fpstate_size(const char *fp)
{
	uint32_t magic, extended;

	if (fp == NULL)
		return 0;
	memcpy(&magic, fp + FPSTATE_SW_BYTES, sizeof magic);
	memcpy(&extended, fp + FPSTATE_SW_BYTES + 4, sizeof extended);
	return magic == FP_XSTATE_MAGIC1 ? extended : 512;
}

void sigframe_move(uintptr_t top, uintptr_t lo, sigframe_fn fn, int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	char *frame = (char *)uc - sizeof(void *);
	size_t frame_len = (size_t)((char *)(si + 1) - frame);
	char *fp = (char *)uc->uc_mcontext.fpregs;
	size_t fp_len = fpstate_size(fp);
	uintptr_t at = top;
	char *new_fp, *new_frame;

	if ((char *)si <= (char *)uc || frame_len > 4096)
		return; /* not a frame laid out as above */
	/* As the kernel places them (get_sigframe). */
	at = (at - fp_len) & ~(uintptr_t)63;
	new_fp = (char *)at;
	at = ((at - frame_len) & ~(uintptr_t)15) - 8;
	if (at < lo || at > top)
		return;
	new_frame = (char *)at;
	memmove(new_fp, fp, fp_len); /* the two may meet at the stacks' ends */
	memmove(new_frame, frame, frame_len);
	uc = (ucontext_t *)(void *)(new_frame + sizeof(void *));
	if (fp != NULL)
		uc->uc_mcontext.fpregs = (fpregset_t)(void *)new_fp;
	sigframe_resume(new_frame, fn, sig, (siginfo_t *)(void *)(new_frame + ((char *)si - frame)), uc);
}
