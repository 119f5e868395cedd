/*
 * A system call a signal can stop: the pool's blocking calls that have no
 * form to wait on in a loop (file locks, System V's message queues
 * and semaphores: src/pool.c, pool_syscall_intr).
 *
 * long arch_intr_syscall(const int *stop, long n, long a, long b, long c,
 *                        long d, long e): *stop is read, then system call n
 * made with a..e; -EINTR at once if *stop is set. The preemption signal, marked
 * as a stop (src/preempt.c), finds the thread's pc at or before the
 * syscall instruction if the call has not returned: the kernel sets it back
 * to the instruction when it restarts the call (SA_RESTART) and to the one
 * after it when the call ended. The handler then moves the pc to
 * arch_intr_stopped (arch_intr_redirect, pool.c), which returns -EINTR:
 * a call stopped before it began or while it waited is never made again,
 * and one that ended keeps its result. The same scheme as musl's
 * cancellation points (__cp_begin, __cp_end, __cp_cancel).
 */

	.text

	.globl	arch_intr_syscall
	.hidden	arch_intr_syscall
	.globl	arch_intr_end
	.hidden	arch_intr_end
	.globl	arch_intr_stopped
	.hidden	arch_intr_stopped
	.type	arch_intr_syscall, @function
	.p2align 4
arch_intr_syscall:
	.cfi_startproc
	movl	(%rdi), %eax
	testl	%eax, %eax
	jnz	arch_intr_stopped
	movq	%rsi, %rax
	movq	%rdx, %rdi
	movq	%rcx, %rsi
	movq	%r8, %rdx
	movq	%r9, %r10
	movq	8(%rsp), %r8	/* e, the seventh argument, on the stack */
	syscall
arch_intr_end:
	ret
arch_intr_stopped:
	movq	$-4, %rax	/* -EINTR */
	ret
	.cfi_endproc
	.size	arch_intr_syscall, .-arch_intr_syscall

	.section .note.GNU-stack,"",@progbits
