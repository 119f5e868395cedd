/* The runtime's own OS threads: marked, named, deaf to signals. */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "unit.h"

struct probe {
	bool runtime;
	bool all_blocked;
	char name[16];
};

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	sigset_t now;

	p->runtime = osthread_is_runtime();
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	p->all_blocked = sigismember(&now, SIGINT) && sigismember(&now, SIGTERM) &&
			 sigismember(&now, SIGUSR1) && sigismember(&now, SIGRTMIN);
	prctl(PR_GET_NAME, p->name, 0, 0, 0);
	return p;
}

START_TEST(a_runtime_thread_is_marked_named_and_blocks_every_signal)
{
	struct probe p = { 0 };
	pthread_t t;
	void *ret;
	sigset_t before, after;

	pthread_sigmask(SIG_SETMASK, NULL, &before);
	ck_assert(!osthread_is_runtime());
	ck_assert_int_eq(osthread_start(&t, "gs-probe", probe_thread, &p, false), 0);
	ck_assert_int_eq(os_ops.join(t, &ret), 0);
	ck_assert_ptr_eq(ret, &p);
	ck_assert(p.runtime);
	ck_assert(p.all_blocked);
	ck_assert_str_eq(p.name, "gs-probe");
	/* The creator's own mask is as it was. */
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	ck_assert_int_eq(sigismember(&after, SIGUSR1), sigismember(&before, SIGUSR1));
	ck_assert(!osthread_is_runtime());
}
END_TEST

Suite *suite_osthread(void)
{
	Suite *s = suite_create("osthread");
	TCase *t = tcase_create("start");

	tcase_add_test(t, a_runtime_thread_is_marked_named_and_blocks_every_signal);
	suite_add_tcase(s, t);
	return s;
}
