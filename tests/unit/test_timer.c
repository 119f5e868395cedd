/* Sleeps and deadlines: order, accuracy, and other threads running meanwhile. */
#include <stdint.h>

#include "unit.h"

static int woke[4], nwoke;

static void *sleep_ms(void *arg)
{
	int ms = (int)(intptr_t)arg;

	ck_assert_int_eq(green_sleep_until(gs_deadline_after((int64_t)ms * 1000000)), 0);
	woke[nwoke++] = ms;
	return NULL;
}

START_TEST(sleepers_wake_in_deadline_order_not_spawn_order)
{
	static const int ms[4] = { 40, 10, 30, 20 };
	struct green *g[4];

	nwoke = 0;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(green_spawn(NULL, sleep_ms, (void *)(intptr_t)ms[i], &g[i]), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(green_join(g[i], NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(nwoke, 4);
	ck_assert_int_eq(woke[0], 10);
	ck_assert_int_eq(woke[1], 20);
	ck_assert_int_eq(woke[2], 30);
	ck_assert_int_eq(woke[3], 40);
}
END_TEST

START_TEST(sleep_is_never_short_and_rarely_late)
{
	double best_late = 1e9;

	for (int i = 0; i < 5; i++) {
		int64_t t0 = gs_now_ns();
		double ms;

		ck_assert_int_eq(green_sleep_until(gs_deadline_after(20 * 1000000)), 0);
		ms = ms_since(t0);
		ck_assert_msg(ms >= 20.0, "woke after %.3f ms, before the 20 ms deadline", ms);
		if (ms - 20.0 < best_late)
			best_late = ms - 20.0;
	}
	/* libev rounds epoll timeouts up to the next millisecond: the best of
	 * five must be within that, whatever the noise of the machine. */
	ck_assert_msg(best_late < 1.5, "best wake-up %.3f ms late", best_late);
}
END_TEST

static void *busy_for_30ms(void *arg)
{
	int64_t t0 = gs_now_ns();

	(void)arg;
	while (ms_since(t0) < 30.0)
		;
	return NULL;
}

START_TEST(a_deadline_counts_from_the_call_even_after_a_long_run)
{
	struct green *g;
	int64_t t0;
	double ms;

	/* busy runs 30 ms without polling the loop; our 10 ms sleep must
	 * still be measured from when we call it, not from the last poll. */
	ck_assert_int_eq(green_spawn(NULL, busy_for_30ms, NULL, &g), 0);
	green_yield();
	t0 = gs_now_ns();
	ck_assert_int_eq(green_sleep_until(gs_deadline_after(10 * 1000000)), 0);
	ms = ms_since(t0);
	ck_assert_msg(ms >= 10.0, "slept %.3f ms of 10", ms);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

static int ticks;

static void *tick_while_others_sleep(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++) {
		ticks++;
		green_sleep_until(gs_deadline_after(2 * 1000000));
	}
	return NULL;
}

START_TEST(other_threads_run_while_one_sleeps)
{
	struct green *g;

	ticks = 0;
	ck_assert_int_eq(green_spawn(NULL, tick_while_others_sleep, NULL, &g), 0);
	ck_assert_int_eq(green_sleep_until(gs_deadline_after(50 * 1000000)), 0);
	ck_assert_int_eq(ticks, 5);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

START_TEST(a_past_deadline_returns_without_switching)
{
	struct hub *h = hub_get();
	uint64_t sw = h->switches;

	ck_assert_int_eq(green_sleep_until(gs_now_ns() - 1), 0);
	ck_assert_uint_eq(h->switches, sw);
}
END_TEST

Suite *suite_timer(void)
{
	Suite *s = suite_create("timer");
	TCase *t = tcase_create("sleep");

	tcase_add_test(t, sleepers_wake_in_deadline_order_not_spawn_order);
	tcase_add_test(t, sleep_is_never_short_and_rarely_late);
	tcase_add_test(t, a_deadline_counts_from_the_call_even_after_a_long_run);
	tcase_add_test(t, other_threads_run_while_one_sleeps);
	tcase_add_test(t, a_past_deadline_returns_without_switching);
	suite_add_tcase(s, t);
	return s;
}
