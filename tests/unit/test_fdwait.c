/* Waiting for fd readiness: wake-up, timeouts, close, and who gets woken. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static int sv[2];

static void *wait_readable(void *arg)
{
	char c;
	int r = fdw_wait((int)(intptr_t)arg, EV_READ, GS_NO_DEADLINE, WAITER_EXCLUSIVE);

	if (r == 0 && read((int)(intptr_t)arg, &c, 1) != 1)
		r = -EIO;
	return (void *)(intptr_t)r;
}

START_TEST(a_reader_wakes_when_data_arrives_and_others_run_meanwhile)
{
	struct green *g;
	void *ret;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(green_spawn(NULL, wait_readable, (void *)(intptr_t)sv[0], &g), 0);
	green_yield(); /* g parks on sv[0] */
	ck_assert_int_eq(g->state, GREEN_PARKED);
	ck_assert_int_eq(green_sleep_until(gs_deadline_after(5 * 1000000)), 0);
	ck_assert_int_eq(g->state, GREEN_PARKED);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(green_join(g, &ret, GS_NO_DEADLINE), 0);
	ck_assert_int_eq((intptr_t)ret, 0);
}
END_TEST

START_TEST(a_wait_with_nothing_to_read_times_out_on_time)
{
	int p[2];
	int64_t t0;
	double ms;

	ck_assert_int_eq(pipe(p), 0);
	t0 = gs_now_ns();
	ck_assert_int_eq(fdw_wait(p[0], EV_READ, gs_deadline_after(15 * 1000000), 0), -ETIMEDOUT);
	ms = ms_since(t0);
	ck_assert_msg(ms >= 15.0 && ms < 100.0, "timed out after %.3f ms", ms);
	/* Data already there: ready without waiting for the deadline. */
	ck_assert_int_eq(write(p[1], "y", 1), 1);
	t0 = gs_now_ns();
	ck_assert_int_eq(fdw_wait(p[0], EV_READ, gs_deadline_after(1000 * 1000000LL), 0), 0);
	ck_assert_msg(ms_since(t0) < 100.0, "ready fd took %.3f ms", ms_since(t0));
}
END_TEST

static void *drain_after_sleep(void *arg)
{
	char buf[65536];
	int fd = (int)(intptr_t)arg;

	green_sleep_until(gs_deadline_after(5 * 1000000));
	while (read(fd, buf, sizeof buf) > 0)
		;
	return NULL;
}

START_TEST(a_writer_waits_for_room_in_a_full_socket)
{
	struct green *g;
	char buf[4096] = { 0 };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (write(sv[0], buf, sizeof buf) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(green_spawn(NULL, drain_after_sleep, (void *)(intptr_t)sv[1], &g), 0);
	ck_assert_int_eq(fdw_wait(sv[0], EV_WRITE, gs_deadline_after(2000 * 1000000LL), 0), 0);
	ck_assert_int_gt(write(sv[0], buf, sizeof buf), 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

START_TEST(closing_an_fd_wakes_its_waiters_with_ebadf_and_the_number_is_reusable)
{
	struct green *g[3];
	void *ret;
	int fd, p[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fd = sv[0];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_spawn(NULL, wait_readable, (void *)(intptr_t)fd, &g[i]), 0);
	green_yield();
	fdw_close(hub_get(), fd);
	close(fd);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(green_join(g[i], &ret, GS_NO_DEADLINE), 0);
		ck_assert_int_eq((intptr_t)ret, -EBADF);
	}
	/* The number comes back for a new file: waits on it see that file. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(p[0], fd);
	ck_assert_int_eq(fdw_wait(p[0], EV_READ, gs_deadline_after(10 * 1000000), 0), -ETIMEDOUT);
	ck_assert_int_eq(write(sv[1], "stale", 5), -1); /* old peer: closed */
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(write(p[1], "z", 1), 1);
	ck_assert_int_eq(fdw_wait(p[0], EV_READ, gs_deadline_after(1000 * 1000000LL), 0), 0);
}
END_TEST

static int observers_woken, consumers_woken;

static void *observe(void *arg)
{
	if (fdw_wait((int)(intptr_t)arg, EV_READ, GS_NO_DEADLINE, 0) == 0)
		observers_woken++;
	return NULL;
}

static void *consume(void *arg)
{
	char c;

	if (fdw_wait((int)(intptr_t)arg, EV_READ, GS_NO_DEADLINE, WAITER_EXCLUSIVE) == 0) {
		consumers_woken++;
		if (read((int)(intptr_t)arg, &c, 1) != 1)
			consumers_woken += 1000;
	}
	return NULL;
}

START_TEST(readiness_wakes_all_observers_but_one_consumer)
{
	struct green *o[3], *c[3];
	void *fd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fd = (void *)(intptr_t)sv[0];
	observers_woken = consumers_woken = 0;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(green_spawn(NULL, consume, fd, &c[i]), 0);
		ck_assert_int_eq(green_spawn(NULL, observe, fd, &o[i]), 0);
	}
	green_yield();
	ck_assert_int_eq(write(sv[1], "a", 1), 1);
	green_sleep_until(gs_deadline_after(5 * 1000000));
	ck_assert_int_eq(observers_woken, 3);
	ck_assert_int_eq(consumers_woken, 1);
	ck_assert_int_eq(write(sv[1], "bc", 2), 2);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(green_join(o[i], NULL, GS_NO_DEADLINE), 0);
		ck_assert_int_eq(green_join(c[i], NULL, GS_NO_DEADLINE), 0);
	}
	ck_assert_int_eq(consumers_woken, 3);
}
END_TEST

START_TEST(an_fd_libev_finds_closed_gives_ebadf)
{
	int p[2];

	hub_get(); /* its own fds first, so that p[0] stays a closed number */
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]); /* behind the runtime's back */
	ck_assert_int_eq(fdw_wait(p[0], EV_READ, gs_deadline_after(1000 * 1000000LL), 0), -EBADF);
	ck_assert_int_eq(fdw_wait(-1, EV_READ, GS_NO_DEADLINE, 0), -EBADF);
}
END_TEST

Suite *suite_fdwait(void)
{
	Suite *s = suite_create("fdwait");
	TCase *t = tcase_create("readiness");

	tcase_add_test(t, a_reader_wakes_when_data_arrives_and_others_run_meanwhile);
	tcase_add_test(t, a_wait_with_nothing_to_read_times_out_on_time);
	tcase_add_test(t, a_writer_waits_for_room_in_a_full_socket);
	tcase_add_test(t, closing_an_fd_wakes_its_waiters_with_ebadf_and_the_number_is_reusable);
	tcase_add_test(t, readiness_wakes_all_observers_but_one_consumer);
	tcase_add_test(t, an_fd_libev_finds_closed_gives_ebadf);
	suite_add_tcase(s, t);
	return s;
}
