/* main() calls pthread_exit while its threads still work: the process
 * lives until the last one ends, then exits with status 0 and flushes
 * stdio (POSIX; pthread_exit(3)). Prints what happened. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static void *work(void *arg)
{
	usleep(20000 * (useconds_t)(intptr_t)arg);
	printf("thread %d done\n", (int)(intptr_t)arg);
	return NULL;
}

int main(void)
{
	pthread_t t;

	setvbuf(stdout, NULL, _IOFBF, 4096); /* only exit() flushes it */
	for (intptr_t i = 1; i <= 3; i++)
		pthread_create(&t, NULL, work, (void *)i);
	printf("main leaves\n");
	pthread_exit(NULL);
}
