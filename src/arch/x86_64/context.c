/*
 * Building a fresh x86-64 context: the frame ctx_switch (switch.S) expects
 * to pop, with ctx_trampoline as the return address. MXCSR and the x87
 * control word start from the creator's values, as a new pthread's do.
 */
#include <stdint.h>

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
