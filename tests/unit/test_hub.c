/* The hub: fairness between yielders and I/O, the run queue's order,
 * remote wake-ups, and the stuck report when nothing can wake anyone. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static volatile int stop_spinning;

static void *yield_forever(void *arg)
{
	(void)arg;
	while (!stop_spinning)
		green_yield();
	return NULL;
}

START_TEST(threads_that_keep_yielding_do_not_starve_fd_waits)
{
	struct green *spinner[3];
	int sv[2];

	stop_spinning = 0;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_spawn(NULL, yield_forever, NULL, &spinner[i]), 0);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(fdw_wait(sv[0], EV_READ, gs_deadline_after(2000 * 1000000LL), 0), 0);
	ck_assert_int_eq(green_sleep_until(gs_deadline_after(1000000)), 0);
	stop_spinning = 1;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_join(spinner[i], NULL, GS_NO_DEADLINE), 0);
}
END_TEST

static int ran[64], nran;
static struct gsync_sem woken_sem;

static void ran_now(int who)
{
	if (nran < 64)
		ran[nran++] = who;
}

static void *yield_four_times(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < 4; i++) {
		ran_now(id);
		if (id == 1 && i == 1)
			gsync_sem_post(&woken_sem);
		green_yield();
	}
	return NULL;
}

static void *wait_for_the_post(void *arg)
{
	(void)arg;
	gsync_sem_wait(&woken_sem, GS_NO_DEADLINE);
	ran_now(9);
	return NULL;
}

/* A thread a wake-up makes ready runs before threads that yielded (or
 * that the tick preempted) and were queued before it. */
START_TEST(a_woken_thread_runs_before_threads_that_yielded)
{
	struct green *w, *y[3];
	int posted = -1;

	nran = 0;
	ck_assert_int_eq(gsync_sem_init(&woken_sem, 0), 0);
	ck_assert_int_eq(green_spawn(NULL, wait_for_the_post, NULL, &w), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_spawn(NULL, yield_four_times, (void *)(intptr_t)(i + 1), &y[i]),
				 0);
	ck_assert_int_eq(green_join(w, NULL, GS_NO_DEADLINE), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(green_join(y[i], NULL, GS_NO_DEADLINE), 0);
	/* 1 2 3 1(posts) 9 ...: the waiter before 2 and 3's second turns. */
	for (int i = 0, ones = 0; i < nran && posted < 0; i++)
		if (ran[i] == 1 && ++ones == 2)
			posted = i;
	ck_assert_int_ge(posted, 0);
	ck_assert_int_lt(posted + 1, nran);
	ck_assert_int_eq(ran[posted + 1], 9);
}
END_TEST

static struct gsync_sem ping, pong;
static volatile int pingpong_over;
static int yields_seen, yields_during_pingpong;

static void *pinger(void *arg)
{
	int64_t end = gs_now_ns() + 20 * 1000000LL;

	(void)arg;
	while (gs_now_ns() < end) {
		gsync_sem_post(&pong);
		gsync_sem_wait(&ping, GS_NO_DEADLINE);
	}
	yields_during_pingpong = yields_seen;
	pingpong_over = 1;
	gsync_sem_post(&pong);
	return NULL;
}

static void *ponger(void *arg)
{
	(void)arg;
	for (;;) {
		gsync_sem_wait(&pong, GS_NO_DEADLINE);
		if (pingpong_over)
			return NULL;
		gsync_sem_post(&ping);
	}
}

static void *count_yields(void *arg)
{
	(void)arg;
	while (!pingpong_over) {
		yields_seen++;
		green_yield();
	}
	return NULL;
}

/* Two threads that keep waking each other for 20 ms stay ahead of a
 * thread that yields only a tick at a time (RUNQ_WOKEN_AHEAD_NS here, the
 * runtime alone never preempts): it still gets its turns. */
START_TEST(a_stream_of_wake_ups_does_not_starve_threads_that_yield)
{
	struct green *c, *p1, *p2;

	pingpong_over = 0;
	yields_seen = yields_during_pingpong = 0;
	ck_assert_int_eq(gsync_sem_init(&ping, 0), 0);
	ck_assert_int_eq(gsync_sem_init(&pong, 0), 0);
	ck_assert_int_eq(green_spawn(NULL, count_yields, NULL, &c), 0);
	ck_assert_int_eq(green_spawn(NULL, pinger, NULL, &p1), 0);
	ck_assert_int_eq(green_spawn(NULL, ponger, NULL, &p2), 0);
	ck_assert_int_eq(green_join(p1, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_join(p2, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_join(c, NULL, GS_NO_DEADLINE), 0);
	/* The first turn before the ping-pong began, then one a tick. */
	ck_assert_int_ge(yields_during_pingpong, 3);
}
END_TEST

struct remote_job {
	struct hub *hub;
	struct wait *wait;
	struct remote_msg msg;
};

static void *os_thread_completes(void *arg)
{
	struct remote_job *job = arg;

	usleep(20000);
	job->msg.wait = job->wait;
	job->msg.result = 77;
	hub_remote_post(job->hub, &job->msg);
	return NULL;
}

START_TEST(another_os_thread_completes_a_wait_through_the_hub)
{
	struct remote_job job;
	struct wait w;
	pthread_t t;
	int64_t t0 = gs_now_ns();

	job.hub = hub_get();
	wait_init(&w);
	job.wait = &w;
	hub_remote_begin(job.hub);
	ck_assert_int_eq(pthread_create(&t, NULL, os_thread_completes, &job), 0);
	ck_assert_int_eq(wait_park(&w, GS_NO_DEADLINE), 77);
	ck_assert_double_ge(ms_since(t0), 19.0);
	ck_assert_int_eq(atomic_load(&job.hub->remote_pending), 0);
	pthread_join(t, NULL);
}
END_TEST

static struct waitq never_q;
static struct green *stuck_seen_current;
static int stuck_calls;
static unsigned long stuck_parked;

static void on_stuck(struct hub *h)
{
	stuck_calls++;
	stuck_parked = h->nparked;
	stuck_seen_current = h->current;
	/* What a deadlock report would do is print; here we break the
	 * deadlock so the test can go on. */
	waitq_wake_all(&never_q, -ECANCELED);
}

static void *wait_forever(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)waitq_wait(&never_q, GS_NO_DEADLINE);
}

START_TEST(the_hub_knows_when_nothing_can_wake_any_thread)
{
	struct green *g;
	void *ret;

	waitq_init(&never_q);
	stuck_calls = 0;
	hub_set_stuck_hook(on_stuck);
	/* A sleeper keeps a timer: not stuck while it sleeps. */
	ck_assert_int_eq(green_sleep_until(gs_deadline_after(2000000)), 0);
	ck_assert_int_eq(stuck_calls, 0);
	/* Now root joins g, g waits on a queue nobody will ever signal. */
	ck_assert_int_eq(green_spawn(NULL, wait_forever, NULL, &g), 0);
	ck_assert_int_eq(green_join(g, &ret, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(stuck_calls, 1);
	ck_assert_uint_eq(stuck_parked, 2);
	ck_assert_ptr_eq(stuck_seen_current, hub_get()->hub_green);
	ck_assert_int_eq((intptr_t)ret, -ECANCELED);
	hub_set_stuck_hook(NULL);
}
END_TEST

START_TEST(a_hub_with_only_its_root_can_be_destroyed_and_made_again)
{
	struct hub *h = hub_get();

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_eq(hub_peek(), h);
	hub_destroy();
	ck_assert_ptr_null(hub_peek());
	ck_assert_ptr_nonnull(hub_get());
	ck_assert_int_eq(green_sleep_until(gs_deadline_after(1000000)), 0);
}
END_TEST

/* The runtime's fds of this process: every number hub_is_own_fd names. */
static int own_fds_now(int *own, int max)
{
	int n = 0;

	for (int fd = 0; fd < 1024 && n < max; fd++)
		if (hub_is_own_fd(fd))
			own[n++] = fd;
	return n;
}

START_TEST(the_hub_knows_its_own_fds_until_it_is_destroyed)
{
	struct hub *h = hub_get();
	int own[16], n = own_fds_now(own, 16), p[2];

	ck_assert_int_ge(n, 2); /* libev's epoll fd and the wake-up eventfd */
	ck_assert(hub_is_own_fd(atomic_load(&h->wake_fd)));
	for (int i = 0; i < n; i++)
		ck_assert_int_ge(fcntl(own[i], F_GETFD), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(!hub_is_own_fd(p[0]));
	ck_assert(!hub_is_own_fd(p[1]));
	hub_destroy();
	for (int i = 0; i < n; i++)
		ck_assert(!hub_is_own_fd(own[i]));
	close(p[0]);
	close(p[1]);
}
END_TEST

/* What a program's dup2 over the hub's wake-up eventfd does first
 * (preload/fd.c): the runtime moves it, the number is free to replace,
 * and another OS thread's wake-up still reaches the hub, through the new
 * number. */
START_TEST(a_moved_wake_up_fd_still_wakes_the_hub)
{
	struct hub *h = hub_get();
	int old = atomic_load(&h->wake_fd), nul;
	struct remote_job job;
	struct wait w;
	pthread_t t;

	ck_assert_int_eq(hub_move_own_fd(old), 0);
	ck_assert_int_ne(atomic_load(&h->wake_fd), old);
	ck_assert(!hub_is_own_fd(old));
	ck_assert(hub_is_own_fd(atomic_load(&h->wake_fd)));
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_eq(dup2(nul, old), old); /* the program's, now */
	close(nul);
	job.hub = h;
	wait_init(&w);
	job.wait = &w;
	hub_remote_begin(h);
	ck_assert_int_eq(pthread_create(&t, NULL, os_thread_completes, &job), 0);
	ck_assert_int_eq(wait_park(&w, GS_NO_DEADLINE), 77);
	pthread_join(t, NULL);
	close(old);
}
END_TEST

Suite *suite_hub(void)
{
	Suite *s = suite_create("hub");
	TCase *t = tcase_create("scheduling");

	tcase_add_test(t, threads_that_keep_yielding_do_not_starve_fd_waits);
	tcase_add_test(t, a_woken_thread_runs_before_threads_that_yielded);
	tcase_add_test(t, a_stream_of_wake_ups_does_not_starve_threads_that_yield);
	tcase_add_test(t, another_os_thread_completes_a_wait_through_the_hub);
	tcase_add_test(t, the_hub_knows_when_nothing_can_wake_any_thread);
	tcase_add_test(t, a_hub_with_only_its_root_can_be_destroyed_and_made_again);
	tcase_add_test(t, the_hub_knows_its_own_fds_until_it_is_destroyed);
	tcase_add_test(t, a_moved_wake_up_fd_still_wakes_the_hub);
	suite_add_tcase(s, t);
	return s;
}
