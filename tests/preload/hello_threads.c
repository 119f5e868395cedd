/* An ordinary program: prints a line from main and one from a thread. */
#include <pthread.h>
#include <stdio.h>

static void *hello(void *arg)
{
	printf("hello from %s\n", (const char *)arg);
	return NULL;
}

int main(void)
{
	pthread_t t;

	printf("hello from main\n");
	fflush(stdout);
	if (pthread_create(&t, NULL, hello, "a thread") != 0)
		return 1;
	pthread_join(t, NULL);
	return 0;
}
