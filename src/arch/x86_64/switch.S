/*
 * Context switch for x86-64, System V ABI.
 *
 * A suspended context is nothing but its stack pointer. Everything the ABI
 * says a callee must preserve is pushed on the context's own stack before
 * the stack pointer is saved: rbp, rbx, r12-r15, the x87 control word and
 * MXCSR (their control bits are callee-saved; see the ABI, section 3.2.1).
 * Caller-saved registers need no saving: ctx_switch is an ordinary call.
 *
 * Frame left on a suspended stack, from the saved sp upwards:
 *   [sp+0]  MXCSR (4 bytes)  [sp+4] x87 control word (2 bytes)  [sp+6] pad
 *   [sp+8]  r15   [sp+16] r14   [sp+24] r13   [sp+32] r12
 *   [sp+40] rbx   [sp+48] rbp   [sp+56] return address
 * ctx_make (context.c) builds the same frame by hand for a new context,
 * with ctx_trampoline as the return address.
 */

	.text

#ifdef __SANITIZE_THREAD__
/* runtime.h's ctx_switch announces the switch to TSan, then calls this. */
#define ctx_switch ctx_switch_raw
#endif

/* void ctx_switch(struct ctx *from, struct ctx *to) */
	.globl	ctx_switch
	.hidden	ctx_switch
	.type	ctx_switch, @function
	.p2align 4
ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	ctx_switch, .-ctx_switch

/*
 * First code a new context runs: ctx_make left the entry function in r12
 * and its argument in r13. The stack pointer is 16-byte aligned here, so the
 * call below gives the entry function the alignment the ABI promises.
 * The entry function never returns; ud2 makes a bug loud if it does.
 * The CFI marks rip as undefined so that unwinders (gdb, libunwind) stop
 * here instead of walking into the memory above the stack.
 */
	.globl	ctx_trampoline
	.hidden	ctx_trampoline
	.type	ctx_trampoline, @function
	.p2align 4
ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	ctx_trampoline, .-ctx_trampoline

/*
 * long arch_syscall_libc(long n, long a, long b, long c, long d, long e,
 *                        long f): the system call n made by libc's
 * "syscall; ret" (syscall.h): the arguments go where Linux wants them
 * (f, the seventh, from the stack) and the jump leaves the return address
 * where a call of that code would, so its ret returns to our caller.
 */
	.globl	arch_syscall_libc
	.hidden	arch_syscall_libc
	.type	arch_syscall_libc, @function
	.p2align 4
arch_syscall_libc:
	.cfi_startproc
	movq	%rdi, %rax
	movq	%rsi, %rdi
	movq	%rdx, %rsi
	movq	%rcx, %rdx
	movq	%r8, %r10
	movq	%r9, %r8
	movq	8(%rsp), %r9
	jmpq	*arch_libc_syscall(%rip)
	.cfi_endproc
	.size	arch_syscall_libc, .-arch_syscall_libc

/*
 * void sigframe_resume(void *frame, sigframe_fn fn, int sig, siginfo_t *si,
 *                      void *uc): a moved signal frame's handler starts as
 * the kernel starts one, the stack pointer at the restorer's address (so
 * rsp + 8 is 16-byte aligned) and the three arguments in rdi, rsi, rdx.
 * Nothing returns here: fn returns to the restorer, whose return address
 * marks a signal frame for unwinders (glibc's __restore_rt).
 */
	.globl	sigframe_resume
	.hidden	sigframe_resume
	.type	sigframe_resume, @function
	.p2align 4
sigframe_resume:
	.cfi_startproc
	.cfi_undefined rip
	movq	%rdi, %rsp
	movq	%rsi, %rax
	movl	%edx, %edi
	movq	%rcx, %rsi
	movq	%r8, %rdx
	jmpq	*%rax
	.cfi_endproc
	.size	sigframe_resume, .-sigframe_resume

	.section .note.GNU-stack,"",@progbits
