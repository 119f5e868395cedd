/* An ordinary program whose threads all wait, one of them for a signal
 * (poll with no fd and no timeout, the pause() idiom), while another waits
 * on a condition variable nobody signals. It is not deadlocked: an alarm
 * a second later runs a handler that ends the program with status 0. Prints
 * "waiting". */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

static void *wait_forever(void *arg)
{
	pthread_mutex_lock(&m);
	for (;;)
		pthread_cond_wait(&never, &m);
	return arg;
}

int main(void)
{
	struct sigaction sa;
	pthread_t t;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	if (pthread_create(&t, NULL, wait_forever, NULL) != 0)
		return 1;
	printf("waiting\n");
	fflush(stdout);
	alarm(1);
	poll(NULL, 0, -1);
	return 1;
}
