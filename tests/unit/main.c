/* Runs every unit suite; each test in its own child process (Check's fork
 * mode), so each starts with no hub. Last line: "unit: N passed, N failed"
 * (", N skipped" when this build leaves some out: unit_skip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* No SIGSEGV handler of a sanitizer's: greenshim's overflow handler would
 * give it the overflows that test_stack.c makes (a program's handler with
 * SA_ONSTACK takes them, src/overflow.c), where the tests check
 * greenshim's own report. */
#ifdef __SANITIZE_THREAD__
/* make check SANITIZE=thread: a forked child of this threaded process
 * starts threads of its own (a hub's, the pool's), as the tests ask. */
const char *__tsan_default_options(void);
__attribute__((visibility("default"))) const char *__tsan_default_options(void)
{
	return "die_after_fork=0:halt_on_error=1:handle_segv=0";
}
#endif
#ifdef __SANITIZE_ADDRESS__
const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
	return "handle_segv=0";
}
#endif

int unit_skipped;

void unit_skip(const char *suite, const char *test, const char *why)
{
	const char *only = getenv("CK_RUN_SUITE"); /* Check's: one suite */

	if (only != NULL && *only != '\0' && strcmp(only, suite) != 0)
		return;
	fprintf(stderr, "skipped: %s: %s\n", test, why);
	unit_skipped++;
}

int main(void)
{
	SRunner *sr;
	int run, failed;

	/* Green threads with a TLS each, the default, chosen explicitly:
	 * where the kernel keeps no WRFSBASE value the runtime would say so
	 * on stderr, which tests read. */
	setenv("GREENSHIM_TLS", "green", 0);
	sr = srunner_create(suite_context());
	srunner_add_suite(sr, suite_green());
	srunner_add_suite(sr, suite_timer());
	srunner_add_suite(sr, suite_fdwait());
	srunner_add_suite(sr, suite_sync());
	srunner_add_suite(sr, suite_crosshub());
	srunner_add_suite(sr, suite_stack());
	srunner_add_suite(sr, suite_hub());
	srunner_add_suite(sr, suite_config());
	srunner_add_suite(sr, suite_osthread());
	srunner_add_suite(sr, suite_pool());
	srunner_add_suite(sr, suite_introspect());
	srunner_add_suite(sr, suite_trap());
	srunner_add_suite(sr, suite_tls());
	srunner_run_all(sr, CK_VERBOSE);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (unit_skipped > 0)
		printf("unit: %d passed, %d failed, %d skipped\n", run - failed, failed,
		       unit_skipped);
	else
		printf("unit: %d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
