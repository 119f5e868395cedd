/* Loaded with dlopen by tests/tools/late_threads.c: a loop that only
 * computes, in a library the program was not started with (as a JVM's
 * libjvm.so is, which the java launcher loads). */
#include <stdint.h>

uint64_t gs_late_loop(uint64_t n);

uint64_t gs_late_loop(uint64_t n)
{
	uint64_t x = n;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	return x;
}
