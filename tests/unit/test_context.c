/* The context switch itself, and what must survive it: errno per green
 * thread, callee-saved registers, MXCSR and the x87 control word. */
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "unit.h"

static struct ctx main_ctx, co_ctx;
static volatile int co_steps;

static void co_entry(void *arg)
{
	int *counter = arg;

	for (;;) {
		(*counter)++;
		co_steps++;
		ctx_switch(&co_ctx, &main_ctx);
	}
}

START_TEST(ctx_switch_ping_pong_resumes_both_sides)
{
	size_t size = 64 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int counter = 0;
	/* Locals held in callee-saved registers across the switches. */
	volatile uint64_t a = 0x1111, b = 0x2222;

	ck_assert_ptr_ne(stack, MAP_FAILED);
	ctx_make(&co_ctx, stack + size, co_entry, &counter);
	for (int i = 1; i <= 1000; i++) {
		ctx_switch(&main_ctx, &co_ctx);
		ck_assert_int_eq(counter, i);
		a += 1;
		b += 2;
	}
	ck_assert_int_eq(co_steps, 1000);
	ck_assert_uint_eq(a, 0x1111 + 1000);
	ck_assert_uint_eq(b, 0x2222 + 2000);
	munmap(stack, size);
}
END_TEST

static void *set_errno_and_yield(void *arg)
{
	int mine = (int)(intptr_t)arg;

	errno = mine;
	for (int i = 0; i < 100; i++) {
		green_yield();
		if (errno != mine)
			return (void *)1;
		errno = mine;
	}
	return NULL;
}

START_TEST(errno_is_private_to_each_green_thread)
{
	struct green *g[8];
	void *ret;

	errno = 4242;
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(green_spawn(NULL, set_errno_and_yield, (void *)(intptr_t)(100 + i), &g[i]), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(green_join(g[i], &ret, GS_NO_DEADLINE), 0);
		ck_assert_ptr_null(ret);
	}
	ck_assert_int_eq(errno, 4242);
}
END_TEST

static void *round_upward_and_yield(void *arg)
{
	(void)arg;
	fesetround(FE_UPWARD);
	green_yield();
	return (void *)(intptr_t)fegetround();
}

START_TEST(floating_point_control_is_private_to_each_green_thread)
{
	struct green *g;
	void *ret;

	fesetround(FE_TONEAREST);
	ck_assert_int_eq(green_spawn(NULL, round_upward_and_yield, NULL, &g), 0);
	green_yield(); /* g sets FE_UPWARD and yields back to us */
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
	ck_assert_int_eq(green_join(g, &ret, GS_NO_DEADLINE), 0);
	ck_assert_int_eq((int)(intptr_t)ret, FE_UPWARD);
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
}
END_TEST

Suite *suite_context(void)
{
	Suite *s = suite_create("context");
	TCase *t = tcase_create("switch");

	tcase_add_test(t, ctx_switch_ping_pong_resumes_both_sides);
	tcase_add_test(t, errno_is_private_to_each_green_thread);
	tcase_add_test(t, floating_point_control_is_private_to_each_green_thread);
	suite_add_tcase(s, t);
	return s;
}
