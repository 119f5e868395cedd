/* What the case programs of tests/preload share: a failed check prints
 * "FAIL CASE: line N: why" and exits 1; time in milliseconds. These are
 * ordinary programs: nothing here knows of greenshim. */
#ifndef GS_TEST_CASE_H
#define GS_TEST_CASE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *test_name;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			printf("FAIL %s: line %d: ", test_name, __LINE__); \
			printf(__VA_ARGS__);                               \
			printf("\n");                                      \
			exit(1);                                           \
		}                                                          \
	} while (0)

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The number the program's next new fd gets: the lowest free one. */
static inline int lowest_free_fd(void)
{
	int fd = dup(0);

	CHECK(fd >= 0 && close(fd) == 0, "dup: %s", strerror(errno));
	return fd;
}

/* While other threads wait (why), the program's next fd is still lowest
 * and the number above it is closed: nothing else took either. */
static inline void check_numbers_still_free(int lowest, const char *why)
{
	int fd = dup(0);

	CHECK(fd == lowest, "dup gave %d while %s; the lowest free is %d", fd, why, lowest);
	close(fd);
	errno = 0;
	CHECK(fcntl(lowest + 1, F_GETFD) == -1 && errno == EBADF, "fd %d is open while %s",
	      lowest + 1, why);
}

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* main() of a case program: runs the case argv[1] names and prints
 * "ok CASE"; 2 for a usage error or an unknown case. */
static inline int run_case(int argc, char **argv, const struct test_case *cases, size_t n)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			test_name = cases[i].name;
			cases[i].fn();
			printf("ok %s\n", test_name);
			return 0;
		}
	}
	fprintf(stderr, "%s: no case %s\n", argv[0], argv[1]);
	return 2;
}

#endif
