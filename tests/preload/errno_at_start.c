/* errno as a program finds it: zero in the initial thread at startup
 * (ISO C, 7.5) and in a new thread at its start, whatever greenshim's
 * constructor did before main. Prints both; run natively and under
 * greenshim, the outputs are compared. (Until 2026-12-07 main found
 * ENOTTY, left by the constructor's start of the runtime.) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static void *report(void *arg)
{
	printf("thread: errno %d\n", errno);
	return arg;
}

int main(void)
{
	int at_start = errno;
	pthread_t t;

	printf("main: errno %d\n", at_start);
	if (pthread_create(&t, NULL, report, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	return 0;
}
