/*
 * An ordinary program (never linked to greenshim) that keeps SIGUSR1
 * blocked in every thread but lets it in only while the main thread waits
 * in pselect, ppoll, epoll_pwait or epoll_pwait2 with a mask, as
 * rsyslogd's main loop does with SIGTERM: another thread sends the
 * process SIGUSR1 100 ms into each wait. Each wait must end with EINTR
 * after the handler ran, and the mask must be the old one again after.
 * Prints one line a wait; the output must be the native run's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/select.h>

static atomic_int handled, go;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

/* Sends the process SIGUSR1 100 ms after each go. */
static void *sender(void *arg)
{
	for (int i = 1; i <= 4; i++) {
		while (atomic_load(&go) < i)
			usleep(1000);
		usleep(100000);
		kill(getpid(), SIGUSR1);
	}
	return arg;
}

static void report(const char *name, int r, int err, const sigset_t *old)
{
	sigset_t now;

	pthread_sigmask(SIG_SETMASK, NULL, &now);
	printf("%s: %d %s, handled %d, SIGUSR1 blocked after: %s\n", name, r,
	       r < 0 ? strerror(err) : "-", atomic_load(&handled),
	       sigismember(&now, SIGUSR1) && !sigismember(old, SIGUSR1) ? "yes" : "no");
}

int main(void)
{
	struct sigaction sa;
	struct timespec ts = { 5, 0 };
	struct epoll_event ev;
	sigset_t usr1, unblocked;
	pthread_t t;
	int ep = epoll_create1(0), r;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &unblocked); /* the sender inherits it */
	pthread_create(&t, NULL, sender, NULL);

	atomic_store(&go, 1);
	r = pselect(0, NULL, NULL, NULL, &ts, &unblocked);
	report("pselect", r, errno, &unblocked);
	atomic_store(&go, 2);
	r = ppoll(NULL, 0, &ts, &unblocked);
	report("ppoll", r, errno, &unblocked);
	atomic_store(&go, 3);
	r = epoll_pwait(ep, &ev, 1, 5000, &unblocked);
	report("epoll_pwait", r, errno, &unblocked);
	atomic_store(&go, 4);
	r = epoll_pwait2(ep, &ev, 1, &ts, &unblocked);
	report("epoll_pwait2", r, errno, &unblocked);
	pthread_join(t, NULL);
	return 0;
}
