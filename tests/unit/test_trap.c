/* Raw system calls caught with Syscall User Dispatch (src/trap.c). */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "unit.h"

/* A system call made with this file's own instruction: outside libc. */
static long raw4(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static long raw3(long n, long a, long b, long c)
{
	return raw4(n, a, b, c, 0);
}

static long hooked_nr = -1;
static int hooked_ours;

/* getuid is answered here, getgid made for real by its caller, the rest
 * made as asked. Only make_raw_calls's are noted: a sanitizer's runtime
 * makes raw calls of its own (ThreadSanitizer's munmap), caught too. */
static enum trap_action hook(long nr, const long a[6], void *uc, long *ret)
{
	(void)a;
	(void)uc;
	if (nr == SYS_getppid || nr == SYS_getuid || nr == SYS_close || nr == SYS_getgid) {
		hooked_nr = nr;
		hooked_ours++;
	}
	if (nr == SYS_getuid) {
		*ret = 4242;
		return TRAP_DONE;
	}
	return nr == SYS_getgid ? TRAP_PASS : TRAP_EXEC;
}

static long results[7];

static void *make_raw_calls(void *arg)
{
	(void)arg;
	results[0] = raw3(SYS_getppid, 0, 0, 0);
	results[1] = raw3(SYS_getuid, 0, 0, 0);
	results[2] = raw3(SYS_close, -1, 0, 0);
	/* Let through once: the call after it is caught again (until
	 * 2026-12-07, none was until the thread's next switch). */
	results[3] = raw3(SYS_getgid, 0, 0, 0);
	results[4] = raw3(SYS_getppid, 0, 0, 0);
	/* A fork, made in the program's context: the child returns where
	 * the call does, and leaves; the parent's next call is caught. */
	results[5] = raw3(SYS_fork, 0, 0, 0);
	if (results[5] == 0)
		raw3(SYS_exit_group, 0, 0, 0);
	results[6] = raw3(SYS_getppid, 0, 0, 0);
	return NULL;
}

static struct hub *start(const char *mode)
{
	setenv("GREENSHIM_SYSCALLS", mode, 1);
	config_load();
	return hub_get();
}

START_TEST(a_raw_call_on_a_hub_with_two_threads_is_caught_and_answered)
{
	struct hub *h = start("trap");
	unsigned long before = atomic_load(&trap_count);
	struct green *g;
	int status;

	trap_set_hook(hook);
	ck_assert(!h->trap_on); /* one thread: nothing to gain */
	ck_assert_int_eq(green_spawn(NULL, make_raw_calls, NULL, &g), 0);
	ck_assert(h->trap_on);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(results[0], getppid());
	ck_assert_int_eq(results[1], 4242);         /* the hook's answer */
	ck_assert_int_eq(results[2], -EBADF);       /* the kernel's, as asked */
	ck_assert_int_eq(results[3], getgid());     /* made again, for real */
	ck_assert_int_eq(results[4], getppid());
	ck_assert_int_gt(results[5], 0);
	ck_assert_int_eq(waitpid((pid_t)results[5], &status, 0), results[5]);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(results[6], getppid());
	ck_assert_int_eq(hooked_nr, SYS_getppid);
	/* getgid was caught once, then made without being caught again;
	 * the getppid calls after it and after the fork were caught. */
	ck_assert_int_eq(hooked_ours, 6);
#ifndef __SANITIZE_THREAD__
	ck_assert_uint_eq(atomic_load(&trap_count) - before, 7);
#endif
	/* Calls through libc are never caught. */
	before = atomic_load(&trap_count);
	ck_assert_int_eq(getppid(), results[0]);
	ck_assert_uint_eq(atomic_load(&trap_count), before);
	trap_set_hook(NULL);
}
END_TEST

START_TEST(with_syscalls_off_nothing_is_caught)
{
	struct hub *h = start("off");
	unsigned long before = atomic_load(&trap_count);
	struct green *g;

	ck_assert_int_eq(green_spawn(NULL, make_raw_calls, NULL, &g), 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert(!h->trap_on);
	ck_assert_int_eq(results[0], getppid());
	ck_assert_int_eq(results[1], getuid());
	ck_assert_uint_eq(atomic_load(&trap_count), before);
	ck_assert_int_eq(waitpid((pid_t)results[5], NULL, 0), results[5]);
}
END_TEST

/* A handler's return by the program's own restorer, as Go's runtime
 * returns from every handler: rt_sigreturn by its own syscall
 * instruction, caught, and made by libc's restorer; the call after it is
 * caught again (until 2026-12-07, none was until the thread's switch). */
__asm__(".text\n"
	".type own_restorer, @function\n"
	"own_restorer:\n"
	"\tmov $15, %eax\n"
	"\tsyscall\n"
	"\thlt\n"
	".size own_restorer, .-own_restorer\n");
void own_restorer(void);

struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static volatile int usr1_handled;
static long after_return[2];

static void on_usr1(int sig)
{
	(void)sig;
	usr1_handled++;
}

static void *returns_by_its_own_restorer(void *arg)
{
	struct kernel_sigaction ka = { on_usr1, 0x04000000 /* SA_RESTORER */, own_restorer, 0 };

	(void)arg;
	after_return[0] = raw4(SYS_rt_sigaction, SIGUSR1, (long)&ka, 0, sizeof ka.mask);
	hooked_ours = 0;
	/* Sent raw (made in the handler), taken as the SIGSYS handler
	 * returns: on_usr1 runs, and returns through own_restorer. */
	raw3(SYS_tgkill, getpid(), raw3(SYS_gettid, 0, 0, 0), SIGUSR1);
	after_return[1] = raw3(SYS_getppid, 0, 0, 0);
	return NULL;
}

START_TEST(a_handlers_own_sigreturn_is_made_once)
{
	struct green *g;

	start("trap");
	trap_set_hook(hook);
	ck_assert_int_eq(green_spawn(NULL, returns_by_its_own_restorer, NULL, &g), 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(after_return[0], 0);
	ck_assert_int_eq(usr1_handled, 1);
	ck_assert_int_eq(after_return[1], getppid());
	ck_assert_int_eq(hooked_nr, SYS_getppid);
	ck_assert_int_eq(hooked_ours, 1); /* the getppid after the return */
	trap_set_hook(NULL);
	signal(SIGUSR1, SIG_DFL);
}
END_TEST

static long mask_ret[2];
static uint64_t mask_after[2];

/* rt_sigprocmask made raw, with a wrong size, then the right one. */
static void *block_raw(void *arg)
{
	uint64_t set = (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGSYS - 1));

	(void)arg;
	mask_ret[0] = raw4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 4);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask_after[0], sizeof mask_after[0]);
	mask_ret[1] = raw4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, sizeof set);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask_after[1], sizeof mask_after[1]);
	return NULL;
}

START_TEST(a_raw_sigprocmask_changes_the_mask_returned_to_but_never_blocks_sigsys)
{
	struct green *g;

	start("trap");
	trap_set_hook(NULL);
	ck_assert_int_eq(green_spawn(NULL, block_raw, NULL, &g), 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(mask_ret[0], -EINVAL); /* as the kernel says */
	ck_assert(!(mask_after[0] & (1ULL << (SIGUSR1 - 1))));
	ck_assert_int_eq(mask_ret[1], 0);
	ck_assert(mask_after[1] & (1ULL << (SIGUSR1 - 1)));
	ck_assert(!(mask_after[1] & (1ULL << (SIGSYS - 1))));
}
END_TEST

static volatile sig_atomic_t program_got;

static void program_handler(int sig)
{
	program_got = sig;
}

static void *idle(void *arg)
{
	return arg;
}

START_TEST(a_sigsys_that_is_no_caught_call_goes_to_the_program_handler)
{
	struct sigaction sa, old;
	struct green *g;

	start("trap");
	ck_assert_int_eq(trap_program_handler(NULL, &old), -1); /* not in yet */
	ck_assert_int_eq(green_spawn(NULL, idle, NULL, &g), 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = program_handler;
	ck_assert_int_eq(trap_program_handler(&sa, &old), 0);
	ck_assert(old.sa_handler == SIG_DFL);
	raise(SIGSYS);
	ck_assert_int_eq(program_got, SIGSYS);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

Suite *suite_trap(void)
{
	Suite *s = suite_create("trap");
	TCase *tc = tcase_create("dispatch");

	tcase_add_test(tc, a_raw_call_on_a_hub_with_two_threads_is_caught_and_answered);
	tcase_add_test(tc, with_syscalls_off_nothing_is_caught);
	tcase_add_test(tc, a_raw_sigprocmask_changes_the_mask_returned_to_but_never_blocks_sigsys);
	tcase_add_test(tc, a_sigsys_that_is_no_caught_call_goes_to_the_program_handler);
	tcase_add_test(tc, a_handlers_own_sigreturn_is_made_once);
	suite_add_tcase(s, tc);
	return s;
}
