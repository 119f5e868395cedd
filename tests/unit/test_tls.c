/*
 * Per-thread state loaded each way GREENSHIM_TLS_LOAD names: each green
 * thread's __thread variable and errno are its own across switches, and
 * with the LDT's selectors the blocks lie below 4 GiB, each with a slot,
 * and go to the next threads made on the hub once their threads are gone.
 * The way is settled once per process, so each case runs in a child.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#include <sys/auxv.h> /* after unit.h: <elf.h> and ev.h both name EV_NONE */

/* ThreadSanitizer's builds share the OS thread's TLS (tls.c): the suite
 * is empty there, its tests counted as skipped. */
#ifndef __SANITIZE_THREAD__
#define ROUND 8
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1) /* asm/hwcap2.h */
#endif

static __thread long mine;

struct seen {
	void *tp;
	uint16_t sel;
	int bad; /* its __thread variable or errno changed across a switch */
};

static void *note_and_yield(void *arg)
{
	struct seen *s = arg;
	struct green *self = green_self();
	long want = (long)(intptr_t)s;

	s->tp = self->tp;
	s->sel = self->fs_sel;
	mine = want;
	errno = (int)(want & 0xffff);
	for (int i = 0; i < 5; i++) {
		green_yield(); /* every other thread of the round runs here */
		if (mine != want || errno != (int)(want & 0xffff))
			s->bad++;
	}
	return NULL;
}

/* One round of ROUND threads on the caller's hub, joined. */
static void round_of_threads(struct seen *s)
{
	struct green_attr a = { .here = true };
	struct green *g[ROUND];

	for (int i = 0; i < ROUND; i++)
		ck_assert_int_eq(green_spawn(&a, note_and_yield, &s[i], &g[i]), 0);
	for (int i = 0; i < ROUND; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
}

static bool same_blocks(const struct seen *x, const struct seen *y)
{
	for (int i = 0; i < ROUND; i++) {
		bool found = false;

		for (int j = 0; j < ROUND && !found; j++)
			found = x[i].tp == y[j].tp && x[i].sel == y[j].sel;
		if (!found)
			return false;
	}
	return true;
}

/* The root, back from a round: its thread pointer and __thread variable
 * are its own, and stay so across sleeps in the kernel, which switches
 * its OS thread out and back in. With the LDT's way and WRFSBASE for the
 * rest, FS still holds the last green thread's selector here; the kernel
 * must restore the base WRFSBASE wrote, not the selector's. */
static bool root_keeps_its_own(void *tp)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 3; i++) {
		if (arch_tp_get() != tp || mine != -1)
			return false;
		syscall(SYS_nanosleep, &ms, NULL);
	}
	return arch_tp_get() == tp && mine == -1;
}

/* In a child: the way named by arg, one hub; exits 3 if the way is not
 * the one asked for, 4 if a thread saw another's state, 5 if a block or
 * selector is not what the way gives, 6 if the second round did not get
 * the first round's blocks (ldt only), 7 if the root's own TLS did not
 * come back, or did not stay across a sleep in the kernel. */
static void rounds_with_way(void *arg)
{
	const char *way = arg;
	struct seen first[ROUND], second[ROUND];
	bool ldt = strcmp(way, "ldt") == 0;
	void *tp = arch_tp_get();

	setenv("GREENSHIM_TLS_LOAD", way, 1);
	setenv("GREENSHIM_HUBS", "1", 1);
	config_load();
	tls_init();
	if (gs_tls_mode != (ldt ? TLS_LDT : TLS_SLOW) ||
	    gs_tls_rest_fast != (ldt && (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)))
		_exit(3);
	mine = -1;
	memset(first, 0, sizeof first);
	memset(second, 0, sizeof second);
	round_of_threads(first);
	if (!root_keeps_its_own(tp))
		_exit(7);
	round_of_threads(second);
	if (!root_keeps_its_own(tp))
		_exit(7);
	for (int i = 0; i < ROUND; i++) {
		if (first[i].bad || second[i].bad)
			_exit(4);
		if (ldt ? first[i].sel == 0 || (uintptr_t)first[i].tp >= (UINT64_C(1) << 32)
			: first[i].sel != 0)
			_exit(5);
	}
	if (ldt && !same_blocks(second, first))
		_exit(6);
}

/* rounds_with_way(way) in a child, which must exit 0. */
static void rounds_pass_with(const char *way)
{
	char err[512];
	int status = run_in_child(rounds_with_way, (void *)way, err, sizeof err);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %#x: %s", way,
		      status, err);
}

START_TEST(ldt_blocks_lie_below_4gib_and_go_to_the_next_threads)
{
	rounds_pass_with("ldt");
}
END_TEST

START_TEST(arch_prctl_way_keeps_each_thread_its_own_state)
{
	rounds_pass_with("syscall");
}
END_TEST

/* Does this kernel offer the LDT's way? Asked in a child, where the
 * runtime settles it (and stops with its one line and status 2 where it
 * does not); outside any test, so without Check's asserts. */
static bool ldt_offered(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDERR_FILENO);
		setenv("GREENSHIM_TLS_LOAD", "ldt", 1);
		config_load();
		tls_init();
		_exit(gs_tls_mode == TLS_LDT ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

#endif

Suite *suite_tls(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("ways");

#ifndef __SANITIZE_THREAD__
	if (ldt_offered())
		tcase_add_test(tc, ldt_blocks_lie_below_4gib_and_go_to_the_next_threads);
	else
		unit_skip("tls", "ldt_blocks_lie_below_4gib_and_go_to_the_next_threads",
			  "this kernel does not offer GREENSHIM_TLS_LOAD=ldt");
	tcase_add_test(tc, arch_prctl_way_keeps_each_thread_its_own_state);
#else
	unit_skip("tls", "ldt_blocks_lie_below_4gib_and_go_to_the_next_threads",
		  "TSan's builds share the OS thread's TLS");
	unit_skip("tls", "arch_prctl_way_keeps_each_thread_its_own_state",
		  "TSan's builds share the OS thread's TLS");
#endif
	suite_add_tcase(s, tc);
	return s;
}
