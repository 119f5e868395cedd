/* Stacks: reuse, memory given back, VMAs, and overflow into the guard. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

static void *touch_64k(void *arg)
{
	volatile char buf[64 * 1024];

	for (size_t i = 0; i < sizeof buf; i += 4096)
		buf[i] = 1;
	return arg;
}

START_TEST(a_joined_threads_stack_is_reused_by_the_next_spawn)
{
	struct green *g;
	char *lo = NULL;

	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(green_spawn(NULL, touch_64k, NULL, &g), 0);
		if (lo != NULL)
			ck_assert_ptr_eq(g->stack.lo, lo);
		lo = g->stack.lo;
		ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	}
}
END_TEST

static size_t resident_pages(char *lo, char *hi)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (size_t)(hi - lo) / page, count = 0;
	unsigned char *vec = malloc(n);

	ck_assert_int_eq(mincore(lo, (size_t)(hi - lo), vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

static void sleep_periods(int quarters)
{
	ck_assert_int_eq(green_sleep_until(gs_now_ns() + quarters * (STACK_DECAY_NS / 4)), 0);
}

enum { BURST = 40 };

static void spawn_touch_join(struct stack *st)
{
	struct green *g[BURST];
	const int n = BURST;

	for (int i = 0; i < n; i++)
		ck_assert_int_eq(green_spawn(NULL, touch_64k, NULL, &g[i]), 0);
	green_yield();
	for (int i = 0; i < n; i++) {
		st[i] = g[i]->stack;
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	}
}

/* A burst of threads that ended keeps its stacks' memory for the next
 * burst; once they stay free for a whole period (STACK_DECAY_NS, the
 * hub's timer) they go back to the kernel, all but the STACK_WARM_MAX
 * most recently freed. */
START_TEST(freed_stacks_keep_their_memory_until_a_period_passes_unused)
{
	enum { N = BURST };
	struct stack st[N];

	spawn_touch_join(st);
	for (int i = 0; i < N; i++) {
		size_t res = resident_pages(st[i].lo, st[i].hi);

		ck_assert_msg(res >= 16, "stack %d, just freed, keeps only %zu pages", i, res);
	}
	sleep_periods(10); /* two periods end in it: the second finds them idle */
	for (int i = 0; i < N; i++) {
		size_t res = resident_pages(st[i].lo, st[i].hi);

		if (i < N - STACK_WARM_MAX)
			ck_assert_msg(res == 0, "stack %d, idle, keeps %zu pages", i, res);
		else
			ck_assert_msg(res >= 16, "recent stack %d keeps only %zu pages", i, res);
	}
}
END_TEST

/* Threads whose number swings by more than STACK_WARM_MAX, again and again
 * (a server's thread per request): their stacks stay warm through the
 * periods, none faulted in afresh. Until 2026-12-07 all but 16 went back
 * at every swing. */
START_TEST(stacks_taken_again_within_a_period_stay_warm)
{
	enum { N = BURST };
	struct stack first[N], st[N];

	spawn_touch_join(first);
	for (int round = 0; round < 12; round++) {
		sleep_periods(1);
		spawn_touch_join(st);
	}
	for (int i = 0; i < N; i++) {
		size_t res = resident_pages(first[i].lo, first[i].hi);

		ck_assert_msg(res >= 16, "stack %d, in use every quarter period, keeps %zu pages", i, res);
	}
}
END_TEST

static int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, ch;

	ck_assert_ptr_nonnull(f);
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static struct waitq park_q;

static void *park(void *arg)
{
	waitq_wait(&park_q, GS_NO_DEADLINE);
	return arg;
}

START_TEST(forty_thousand_threads_need_far_fewer_mappings_than_max_map_count)
{
	enum { N = UNIT_LIVE(40000) };
	struct green **g = calloc(N, sizeof *g);
	int before, after;

	hub_get();
	waitq_init(&park_q);
	before = count_mappings();
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(green_spawn(NULL, park, NULL, &g[i]), 0);
	green_yield();
	after = count_mappings();
#ifdef __SANITIZE_THREAD__
	/* TSan maps some four regions of its own for each fiber: the count
	 * says nothing of the stacks' under it, and is not checked. */
	(void)before;
	(void)after;
#else
	if (stack_guard_mode(STACK_GUARD_AUTO) == STACK_GUARD_MADVISE) {
		/* 40,000 stacks, 40,000 guards: a few hundred slabs. */
		ck_assert_msg(after - before < 400, "%d new mappings", after - before);
	} else {
		/* Without guard markers each guard is a VMA; it still works. */
		ck_assert_int_ge(after - before, N);
	}
#endif
	waitq_wake_all(&park_q, 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	free(g);
}
END_TEST

static volatile int recurse_forever = 1;

static int recurse(int depth)
{
	volatile char frame[512];

	frame[0] = (char)depth;
	if (!recurse_forever)
		return 0;
	return recurse(depth + 1) + frame[0];
}

static void *overflow(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)recurse(0);
}

/* In a child: an overflowing green thread under the given guard mode. */
static void overflow_child(void *arg)
{
	struct green_attr a = { .stack_size = 64 * 1024 };
	struct green *g;

	stack_guard_mode(*(enum stack_guard_mode *)arg);
	if (green_spawn(&a, overflow, NULL, &g) != 0)
		_exit(3);
	strcpy(g->name, "recurser");
	green_join(g, NULL, GS_NO_DEADLINE);
	_exit(4); /* not reached: the overflow kills us */
}

static void check_overflow_report(enum stack_guard_mode mode)
{
	char err[1024];
	int status = run_in_child(overflow_child, &mode, err, sizeof err);

	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		      "child status %#x, stderr: %s", status, err);
	ck_assert_msg(strstr(err, "stack overflow in green thread") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "\"recurser\"") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "stack of 65536 bytes") != NULL, "stderr: %s", err);
}

START_TEST(an_overflow_into_a_guard_marker_kills_with_a_message_naming_the_thread)
{
	if (stack_guard_mode(STACK_GUARD_AUTO) == STACK_GUARD_MPROTECT) {
		/* This kernel has no guard markers: the child uses mprotect. */
		check_overflow_report(STACK_GUARD_MPROTECT);
		return;
	}
	check_overflow_report(STACK_GUARD_MADVISE);
}
END_TEST

START_TEST(an_overflow_into_an_mprotect_guard_kills_with_a_message_naming_the_thread)
{
	check_overflow_report(STACK_GUARD_MPROTECT);
}
END_TEST

static void program_segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	_exit(si->si_addr == (void *)16 ? 42 : 43);
}

static void fault_at_16(void)
{
	volatile int *volatile bad = (int *)16;

	*bad = 1;
}

START_TEST(other_segfaults_reach_the_handler_installed_before_greenshim)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_sigaction = program_segv_handler, .sa_flags = SA_SIGINFO };

		sigaction(SIGSEGV, &sa, NULL);
		hub_get(); /* installs greenshim's handler in front */
		fault_at_16();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42, "status %#x", status);
}
END_TEST

START_TEST(other_segfaults_still_get_the_default_action)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		hub_get();
		fault_at_16();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* Under a sanitizer too: it has no handler (tests/unit/main.c). */
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x", status);
}
END_TEST

Suite *suite_stack(void)
{
	Suite *s = suite_create("stack");
	TCase *t = tcase_create("pool");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, a_joined_threads_stack_is_reused_by_the_next_spawn);
	tcase_add_test(t, freed_stacks_keep_their_memory_until_a_period_passes_unused);
	tcase_add_test(t, stacks_taken_again_within_a_period_stay_warm);
	tcase_add_test(t, forty_thousand_threads_need_far_fewer_mappings_than_max_map_count);
	tcase_add_test(t, an_overflow_into_a_guard_marker_kills_with_a_message_naming_the_thread);
	tcase_add_test(t, an_overflow_into_an_mprotect_guard_kills_with_a_message_naming_the_thread);
	tcase_add_test(t, other_segfaults_reach_the_handler_installed_before_greenshim);
	tcase_add_test(t, other_segfaults_still_get_the_default_action);
	suite_add_tcase(s, t);
	return s;
}
