/* Unit tests of the runtime (src/), one suite per file. */
#ifndef GS_UNIT_H
#define GS_UNIT_H

#include <check.h>

#include "../../src/hub_impl.h" /* the runtime inside: struct hub too */

Suite *suite_context(void);
Suite *suite_green(void);
Suite *suite_timer(void);
Suite *suite_fdwait(void);
Suite *suite_sync(void);
Suite *suite_crosshub(void);
Suite *suite_stack(void);
Suite *suite_hub(void);
Suite *suite_config(void);
Suite *suite_osthread(void);
Suite *suite_pool(void);
Suite *suite_introspect(void);
Suite *suite_trap(void);
Suite *suite_tls(void);

/* Runs fn(arg) in a child process with stderr captured into err (NUL
 * terminated); returns the child's wait status. The child exits 0 if fn
 * returns. */
int run_in_child(void (*fn)(void *), void *arg, char *err, size_t errlen);

/* ThreadSanitizer keeps at most 8,128 threads and fibers alive at once
 * (a fiber per green thread: ctx_switch): a test that parks tens of
 * thousands of green threads at once parks this many under it. Fibers are
 * slow to make: with 4,000 the green and stack suites took 36 s and 31 s
 * under it, with 1,000 16 s and 10 s. */
#ifdef __SANITIZE_THREAD__
#define UNIT_LIVE_MAX 1000
#else
#define UNIT_LIVE_MAX 1000000
#endif
#define UNIT_LIVE(n) ((n) < UNIT_LIVE_MAX ? (n) : UNIT_LIVE_MAX)

/* Tests left out of this build, each named on stderr with the reason when
 * its suite is made (unit_skip), unless CK_RUN_SUITE names another suite;
 * main counts them as skipped. */
extern int unit_skipped;
void unit_skip(const char *suite, const char *test, const char *why);

/* Elapsed milliseconds since a gs_now_ns() reading. */
static inline double ms_since(int64_t t0)
{
	return (double)(gs_now_ns() - t0) / 1e6;
}

#endif
