/* Introspection: what each green thread waits on, the stacks of parked and
 * running threads, per-switch accounting, the deadlock report. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "unit.h"
#include "../../src/tools.h"

static struct gsync_mutex held, self_held;
static struct gsync_cond cv;
static struct gsync_sem sem;
static int pipe_fds[2];
static struct green *holder;

static void *hold_and_wait(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gsync_mutex_lock(&held, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(gsync_mutex_lock(&self_held, GS_NO_DEADLINE), 0);
	/* Waits on cv with self_held, then keeps held until the end. */
	gsync_cond_wait(&cv, &self_held, GS_NO_DEADLINE);
	gsync_mutex_unlock(&self_held);
	gsync_mutex_unlock(&held);
	return NULL;
}

static void *lock_held(void *arg)
{
	(void)arg;
	gsync_mutex_lock(&held, GS_NO_DEADLINE);
	gsync_mutex_unlock(&held);
	return NULL;
}

static void *wait_sem(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gsync_sem_wait(&sem, GS_NO_DEADLINE);
}

static void *sleep_long(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)green_sleep_until(gs_deadline_after(3000000000LL));
}

static void *read_pipe(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)fdw_wait(pipe_fds[0], EV_READ, GS_NO_DEADLINE, 0);
}

static void *join_holder(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)green_join(holder, NULL, GS_NO_DEADLINE);
}

static void describe(struct green *g, char *buf, size_t len)
{
	struct green_info i;

	introspect_green(g, &i);
	introspect_describe(&i, buf, len);
}

START_TEST(each_parked_thread_says_what_it_waits_on_and_who_holds_its_mutex)
{
	struct green *locker, *semw, *sleeper, *reader, *joiner;
	char d[200], want[200];
	struct green_info i;

	gsync_mutex_init(&held);
	gsync_mutex_init(&self_held);
	gsync_cond_init(&cv);
	gsync_sem_init(&sem, 0);
	ck_assert_int_eq(pipe(pipe_fds), 0);
	ck_assert_int_eq(green_spawn(NULL, hold_and_wait, NULL, &holder), 0);
	strcpy(holder->name, "holder");
	ck_assert_int_eq(green_spawn(NULL, lock_held, NULL, &locker), 0);
	ck_assert_int_eq(green_spawn(NULL, wait_sem, NULL, &semw), 0);
	ck_assert_int_eq(green_spawn(NULL, sleep_long, NULL, &sleeper), 0);
	ck_assert_int_eq(green_spawn(NULL, read_pipe, NULL, &reader), 0);
	ck_assert_int_eq(green_spawn(NULL, join_holder, NULL, &joiner), 0);
	green_yield();
	green_yield();

	introspect_green(holder, &i);
	ck_assert_int_eq(i.state, GREEN_PARKED);
	ck_assert_int_eq(i.kind, WAIT_COND);
	ck_assert_ptr_eq(i.obj, &cv);
	ck_assert_str_eq(i.name, "holder");

	describe(locker, d, sizeof d);
	snprintf(want, sizeof want, "waiting on mutex %p held by thread %llu \"holder\"",
		 (void *)&held, (unsigned long long)holder->id);
	ck_assert_str_eq(d, want);

	describe(semw, d, sizeof d);
	snprintf(want, sizeof want, "waiting on semaphore %p", (void *)&sem);
	ck_assert_str_eq(d, want);

	describe(sleeper, d, sizeof d);
	ck_assert_msg(strncmp(d, "sleeping (", 10) == 0 && strstr(d, " s left)") != NULL, "%s", d);
	introspect_green(sleeper, &i);
	ck_assert_int_eq(i.kind, WAIT_SLEEP);
	ck_assert(i.deadline > gs_now_ns() + 2000000000LL);

	describe(reader, d, sizeof d);
	snprintf(want, sizeof want, "waiting on fd %d (read)", pipe_fds[0]);
	ck_assert_str_eq(d, want);

	describe(joiner, d, sizeof d);
	snprintf(want, sizeof want, "waiting for thread %llu \"holder\" to end (join)",
		 (unsigned long long)holder->id);
	ck_assert_str_eq(d, want);

	describe(green_self(), d, sizeof d);
	ck_assert_str_eq(d, "running");
	describe(hub_get()->hub_green, d, sizeof d);
	ck_assert_str_eq(d, "ready");

	/* Let everyone finish. */
	gsync_cond_signal(&cv);
	gsync_sem_post(&sem);
	ck_assert_int_eq(write(pipe_fds[1], "x", 1), 1);
	ck_assert_int_eq(green_join(locker, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_join(semw, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_join(reader, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_join(joiner, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_detach(sleeper), 0);
}
END_TEST

/* Names libunwind must find in the test binary's .symtab: static, and kept
 * out of line so that each is a frame of its own. */
static struct waitq park_q;

static __attribute__((noinline)) int parked_in_this_function(void)
{
	int r = waitq_wait(&park_q, GS_NO_DEADLINE);

	__asm__ volatile("" ::: "memory"); /* no tail call */
	return r;
}

static __attribute__((noinline)) void *green_body_that_parks(void *arg)
{
	int r = parked_in_this_function();

	__asm__ volatile("" ::: "memory");
	(void)arg;
	return (void *)(intptr_t)r;
}

static bool frames_have(const struct frame *f, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return true;
	return false;
}

START_TEST(a_parked_thread_is_unwound_from_its_saved_context_with_its_function_names)
{
	struct frame f[INTROSPECT_FRAMES_MAX];
	char text[8192];
	struct green *g;
	int n;

	waitq_init(&park_q);
	ck_assert_int_eq(green_spawn(NULL, green_body_that_parks, NULL, &g), 0);
	green_yield();
	ck_assert_int_eq(g->state, GREEN_PARKED);
	n = introspect_backtrace(g, f, INTROSPECT_FRAMES_MAX);
	introspect_format_frames(f, n > 0 ? n : 0, text, sizeof text);
	ck_assert_msg(n >= 3, "%d frames:\n%s", n, text);
	ck_assert_msg(frames_have(f, n, "waitq_wait_as"), "%s", text);
	ck_assert_msg(frames_have(f, n, "parked_in_this_function"), "%s", text);
	ck_assert_msg(frames_have(f, n, "green_body_that_parks"), "%s", text);
	/* Innermost first: the wait is below the function that waits. */
	for (int i = 0; i < n; i++) {
		if (strcmp(f[i].name, "green_body_that_parks") == 0)
			break;
		if (strcmp(f[i].name, "parked_in_this_function") == 0) {
			ck_assert_msg(i + 1 < n, "%s", text);
			break;
		}
	}
	ck_assert_msg(strstr(text, "parked_in_this_function+0x") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "unit") != NULL, "object named:\n%s", text);
	ck_assert_int_eq(waitq_wake_one(&park_q, 0), 1);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(introspect_backtrace(g, f, INTROSPECT_FRAMES_MAX), -ESRCH);
}
END_TEST

static __attribute__((noinline)) int unwind_myself(struct frame *f)
{
	int n = introspect_backtrace(green_self(), f, INTROSPECT_FRAMES_MAX);

	__asm__ volatile("" ::: "memory");
	return n;
}

START_TEST(the_running_thread_unwinds_its_own_stack)
{
	struct frame f[INTROSPECT_FRAMES_MAX];
	int n = unwind_myself(f);

	ck_assert_int_gt(n, 1);
	ck_assert_str_eq(f[0].name, "unwind_myself");
}
END_TEST

/* ---- samples of a running thread, from another OS thread ---- */

static atomic_int spinning, spin_stop;
static atomic_int sample_rc = 1;
static struct sample_result sampled;

static void sample_each(struct hub *h, void *arg)
{
	(void)arg;
	atomic_store(&sample_rc, introspect_sample(h, &sampled, 2000));
}

static void *sampler(void *arg)
{
	(void)arg;
	while (!atomic_load(&spinning))
		usleep(1000);
	introspect_foreach_hub(sample_each, NULL);
	atomic_store(&spin_stop, 1);
	return NULL;
}

static __attribute__((noinline)) void spin_here_until_sampled(void)
{
	atomic_store(&spinning, 1);
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		__asm__ volatile("" ::: "memory");
}

START_TEST(another_os_thread_samples_the_running_green_thread_on_its_own_stack)
{
	char text[8192];
	pthread_t t;

	strcpy(green_self()->name, "spinner");
	hub_get();
	ck_assert_int_eq(pthread_create(&t, NULL, sampler, NULL), 0);
	spin_here_until_sampled();
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(atomic_load(&sample_rc), 0);
	introspect_format_frames(sampled.frames, sampled.nframes, text, sizeof text);
	ck_assert_str_eq(sampled.name, "spinner");
	ck_assert_uint_eq(sampled.id, green_self()->id);
	ck_assert(!sampled.hub);
	ck_assert_msg(frames_have(sampled.frames, sampled.nframes, "spin_here_until_sampled"), "%s",
		      text);
}
END_TEST

/* ---- a dump asked from another OS thread, run in the hub ---- */

static struct waitq dumped_q, never_q;
static char dump_text[65536];

static void dump_in_hub(struct hub *h, void *arg)
{
	(void)arg;
	ck_assert_ptr_eq(h->current, h->hub_green);
	introspect_dump_hub(h, "dump", dump_text, sizeof dump_text);
	waitq_wake_one(&dumped_q, WAKE_OK);
}

static void post_dump(struct hub *h, void *arg)
{
	(void)arg;
	/* The tools' way (src/control.c): run in the hub, wait for it. */
	ck_assert_int_eq(control_call_hub(h, dump_in_hub, NULL, 10000), 0);
}

static void *ask_for_a_dump(void *arg)
{
	(void)arg;
	usleep(20000); /* the root is waiting by then, the hub in its loop */
	introspect_foreach_hub(post_dump, NULL);
	return NULL;
}

static __attribute__((noinline)) void *wait_on_never(void *arg)
{
	int r = waitq_wait(&never_q, GS_NO_DEADLINE);

	__asm__ volatile("" ::: "memory");
	(void)arg;
	return (void *)(intptr_t)r;
}

START_TEST(another_os_thread_has_the_hub_dump_every_thread_with_its_stack)
{
	struct green *g;
	pthread_t t;
	char want[96];

	waitq_init(&dumped_q);
	waitq_init(&never_q);
	ck_assert_int_eq(green_spawn(NULL, wait_on_never, NULL, &g), 0);
	strcpy(g->name, "waiter");
	ck_assert_int_eq(pthread_create(&t, NULL, ask_for_a_dump, NULL), 0);
	/* Woken by the call itself, which runs in the hub meanwhile. */
	ck_assert_int_eq(waitq_wait(&dumped_q, gs_deadline_after(5000000000LL)), WAKE_OK);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	snprintf(want, sizeof want, "  thread %llu \"waiter\": waiting\n",
		 (unsigned long long)g->id);
	ck_assert_msg(strncmp(dump_text, "dump\n", 5) == 0, "%s", dump_text);
	ck_assert_msg(strstr(dump_text, want) != NULL, "%s", dump_text);
	ck_assert_msg(strstr(dump_text, " wait_on_never+0x") != NULL, "%s", dump_text);
	ck_assert_msg(strstr(dump_text, "(main): waiting") != NULL, "%s", dump_text);
	ck_assert_int_eq(waitq_wake_one(&never_q, 0), 1);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

/* ---- accounting ---- */

static void *yield_a_while(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		int64_t t0 = gs_now_ns();

		while (gs_now_ns() - t0 < 20000)
			;
		green_yield();
	}
	return NULL;
}

START_TEST(with_stats_on_each_thread_counts_its_cpu_time_and_the_hub_its_longest_run)
{
	struct green *g;
	struct green_info i;

	hub_get();
	ck_assert(!introspect_stats());
	introspect_set_stats(true);
	ck_assert_int_eq(green_spawn(NULL, yield_a_while, NULL, &g), 0);
	while (g->state != GREEN_DEAD)
		green_yield();
	introspect_green(g, &i);
	/* 100 runs of at least 20 us each, the first perhaps unmeasured. */
	ck_assert_int_ge(i.cpu_ns, 99 * 20000);
	ck_assert_int_ge(hub_get()->longest_run, 20000);
	ck_assert(i.since != 0);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
	introspect_set_stats(false);
}
END_TEST

static struct rusage burned, waited;
static int burned_r = -1, waited_r = -1;

static int64_t cpu_us(const struct rusage *ru)
{
	return (int64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 + ru->ru_utime.tv_usec +
	       ru->ru_stime.tv_usec;
}

static void *burn_then_read(void *arg)
{
	int64_t t0 = gs_now_ns();

	while (gs_now_ns() - t0 < 100 * 1000000)
		;
	burned_r = introspect_thread_rusage(hub_get(), &burned);
	return arg;
}

static void *wait_then_read(void *arg)
{
	for (int i = 0; i < 10; i++)
		green_sleep_until(gs_now_ns() + 1000000);
	waited_r = introspect_thread_rusage(hub_get(), &waited);
	return arg;
}

/* getrusage(RUSAGE_THREAD): a thread's own share of its hub's OS thread,
 * counted at switches from the first read on, and its own switches. */
START_TEST(a_threads_usage_is_what_its_hub_spent_while_it_ran)
{
	struct rusage before, after;
	struct green *a, *b;

	ck_assert_int_eq(introspect_thread_rusage(hub_get(), &before), 0);
	ck_assert_int_eq(green_spawn(NULL, burn_then_read, NULL, &a), 0);
	ck_assert_int_eq(green_spawn(NULL, wait_then_read, NULL, &b), 0);
	ck_assert_int_eq(green_join(a, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(green_join(b, NULL, GS_NO_DEADLINE), 0);
	ck_assert_int_eq(introspect_thread_rusage(hub_get(), &after), 0);
	ck_assert_int_eq(burned_r, 0);
	ck_assert_int_eq(waited_r, 0);
	/* 100 ms of computing, of which the kernel may take some under load. */
	ck_assert_int_ge(cpu_us(&burned), 50000);
	ck_assert_int_eq(burned.ru_nvcsw, 0);
	ck_assert_int_lt(cpu_us(&waited), 20000);
	ck_assert_int_ge(waited.ru_nvcsw, 10);
	/* main only waited for them */
	ck_assert_int_lt(cpu_us(&after) - cpu_us(&before), 20000);
	ck_assert_int_ge(cpu_us(&after), cpu_us(&before));
}
END_TEST

START_TEST(without_stats_a_switch_counts_no_cpu_time)
{
	struct green *g;
	struct green_info i;

	ck_assert_int_eq(green_spawn(NULL, yield_a_while, NULL, &g), 0);
	while (g->state != GREEN_DEAD)
		green_yield();
	introspect_green(g, &i);
	ck_assert_int_eq(i.cpu_ns, 0);
	ck_assert_int_eq(atomic_load(&hub_get()->run_start), 0);
	ck_assert_uint_gt(i.switches, 50);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

/* ---- the deadlock report ---- */

static struct gsync_mutex ma, mb;

static __attribute__((noinline)) void *take_a_then_b(void *arg)
{
	(void)arg;
	gsync_mutex_lock(&ma, GS_NO_DEADLINE);
	green_yield();
	gsync_mutex_lock(&mb, GS_NO_DEADLINE);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

static __attribute__((noinline)) void *take_b_then_a(void *arg)
{
	(void)arg;
	gsync_mutex_lock(&mb, GS_NO_DEADLINE);
	green_yield();
	gsync_mutex_lock(&ma, GS_NO_DEADLINE);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

static void report_and_exit(struct hub *h)
{
	introspect_deadlock_report(h);
	_exit(0);
}

static void deadlock(void *arg)
{
	struct green *a, *b;

	(void)arg;
	gsync_mutex_init(&ma);
	gsync_mutex_init(&mb);
	hub_set_stuck_hook(report_and_exit);
	green_spawn(NULL, take_a_then_b, NULL, &a);
	strcpy(a->name, "first");
	green_spawn(NULL, take_b_then_a, NULL, &b);
	strcpy(b->name, "second");
	dprintf(STDERR_FILENO, "ids %llu %llu\n", (unsigned long long)a->id,
		(unsigned long long)b->id);
	green_join(a, NULL, GS_NO_DEADLINE);
	_exit(3); /* not reached: the join never ends */
}

START_TEST(the_deadlock_report_names_each_thread_its_mutex_owner_and_stack)
{
	static char err[65536];
	char want[200];
	unsigned long long ida, idb;
	int status = run_in_child(deadlock, NULL, err, sizeof err);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %x: %s", status, err);
	ck_assert_int_eq(sscanf(err, "ids %llu %llu", &ida, &idb), 2);
	ck_assert_msg(strstr(err, "greenshim: deadlock: all 3 threads") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "this would block forever") != NULL, "%s", err);
	snprintf(want, sizeof want,
		 "thread %llu \"first\": waiting on mutex %p held by thread %llu \"second\"", ida,
		 (void *)&mb, idb);
	ck_assert_msg(strstr(err, want) != NULL, "want %s in:\n%s", want, err);
	snprintf(want, sizeof want,
		 "thread %llu \"second\": waiting on mutex %p held by thread %llu \"first\"", idb,
		 (void *)&ma, ida);
	ck_assert_msg(strstr(err, want) != NULL, "want %s in:\n%s", want, err);
	snprintf(want, sizeof want, "(main): waiting for thread %llu \"first\" to end (join)", ida);
	ck_assert_msg(strstr(err, want) != NULL, "want %s in:\n%s", want, err);
	ck_assert_msg(strstr(err, " take_a_then_b+0x") != NULL, "%s", err);
	ck_assert_msg(strstr(err, " take_b_then_a+0x") != NULL, "%s", err);
	ck_assert_msg(strstr(err, " gsync_mutex_lock+0x") != NULL, "%s", err);
}
END_TEST

Suite *suite_introspect(void)
{
	Suite *s = suite_create("introspect");
	TCase *t = tcase_create("introspect");

	tcase_add_test(t, each_parked_thread_says_what_it_waits_on_and_who_holds_its_mutex);
	tcase_add_test(t, a_parked_thread_is_unwound_from_its_saved_context_with_its_function_names);
	tcase_add_test(t, the_running_thread_unwinds_its_own_stack);
	tcase_add_test(t, another_os_thread_samples_the_running_green_thread_on_its_own_stack);
	tcase_add_test(t, another_os_thread_has_the_hub_dump_every_thread_with_its_stack);
	tcase_add_test(t, with_stats_on_each_thread_counts_its_cpu_time_and_the_hub_its_longest_run);
	tcase_add_test(t, without_stats_a_switch_counts_no_cpu_time);
	tcase_add_test(t, a_threads_usage_is_what_its_hub_spent_while_it_ran);
	tcase_add_test(t, the_deadlock_report_names_each_thread_its_mutex_owner_and_stack);
	suite_add_tcase(s, t);
	return s;
}
