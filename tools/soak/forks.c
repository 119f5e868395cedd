/*
 * gs-soak-forks: a fork storm while THREADS threads wait (tools/soak/run.sh
 * forks). An ordinary program; it knows nothing of greenshim.
 *
 *   gs-soak-forks [-t THREADS] [-d SECONDS]
 *
 * A third of the threads wait on a condition variable, a third in read on
 * a pipe of their own, a third in nanosleep until SECONDS + 1 from the
 * start. Once all are waiting, one thread forks for SECONDS, eight children
 * at a time: odd children exec /bin/true, even ones allocate, write a byte
 * to a pipe and _exit(n % 100); every child's status is checked with
 * waitpid. Then the condition is broadcast and each pipe gets its thread's
 * byte and EOF; each waiter checks what woke it (the flag, its own byte
 * then EOF, a sleep no shorter than asked for).
 *
 * Prints one line of counts, and the process's fds and RSS (/proc/self)
 * before the threads (after a warm-up of one thread and one child), while they all wait, and after all are joined.
 * fds.new names the fds open at the end that were not at the start.
 * Exit status 1 unless every child and every waiter was right.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procself.h"

enum { COND, PIPE, SLEEP };

struct waiter {
	pthread_t t;
	int kind, idx, pipe[2], ok;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;
static atomic_int ready;
static struct timespec wake_at; /* CLOCK_MONOTONIC */

static double since(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void *wait_one(void *arg)
{
	struct waiter *w = arg;
	unsigned char c;
	struct timespec now;

	switch (w->kind) {
	case COND:
		pthread_mutex_lock(&mu);
		atomic_fetch_add(&ready, 1);
		while (!go)
			pthread_cond_wait(&cv, &mu);
		w->ok = go == 1;
		pthread_mutex_unlock(&mu);
		break;
	case PIPE:
		atomic_fetch_add(&ready, 1);
		w->ok = read(w->pipe[0], &c, 1) == 1 && c == (unsigned char)w->idx &&
			read(w->pipe[0], &c, 1) == 0 && go == 1;
		break;
	case SLEEP: {
		struct timespec rem;

		clock_gettime(CLOCK_MONOTONIC, &now);
		rem.tv_sec = wake_at.tv_sec - now.tv_sec;
		rem.tv_nsec = wake_at.tv_nsec - now.tv_nsec;
		if (rem.tv_nsec < 0) {
			rem.tv_sec--;
			rem.tv_nsec += 1000000000;
		}
		atomic_fetch_add(&ready, 1);
		while (nanosleep(&rem, &rem) < 0 && errno == EINTR)
			;
		clock_gettime(CLOCK_MONOTONIC, &now);
		w->ok = since(&wake_at, &now) >= 0;
		break;
	}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = 1000, opt;
	double secs = 10;

	while ((opt = getopt(argc, argv, "t:d:")) != -1) {
		switch (opt) {
		case 't': nthreads = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-t THREADS] [-d SECONDS]\n", argv[0]);
			return 2;
		}
	}
	/* A warm-up: one thread, one child; then the baseline. */
	struct waiter w0 = { .kind = PIPE };
	pid_t p0;
	int st0;
	if (pipe(w0.pipe) < 0 || pthread_create(&w0.t, NULL, wait_one, &w0) != 0)
		return 1;
	go = 1;
	(void)!write(w0.pipe[1], "", 1);
	close(w0.pipe[1]);
	pthread_join(w0.t, NULL);
	close(w0.pipe[0]);
	go = 0;
	ready = 0;
	if ((p0 = fork()) == 0) {
		usleep(20000);
		_exit(0);
	}
	waitpid(p0, &st0, 0);
	static unsigned char at_start[SNAP_MAX];
	long fds0 = fds_snap(at_start), rss0 = rss_kib();
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	wake_at = start;
	wake_at.tv_sec += (time_t)secs + 1;

	struct waiter *ws = calloc(nthreads, sizeof *ws);
	for (int i = 0; i < nthreads; i++) {
		ws[i].kind = i % 3;
		ws[i].idx = i;
		if (ws[i].kind == PIPE && pipe(ws[i].pipe) < 0) {
			perror("pipe");
			return 1;
		}
		if (pthread_create(&ws[i].t, NULL, wait_one, &ws[i]) != 0) {
			fprintf(stderr, "pthread_create failed at %d\n", i);
			return 1;
		}
	}
	while (atomic_load(&ready) < nthreads)
		usleep(1000);
	usleep(100000);
	long fds1 = fds_snap(NULL), rss1 = rss_kib();

	/* The storm. */
	long forks = 0, good = 0, bad = 0;
	int note[2];
	if (pipe(note) < 0)
		return 1;
	struct timespec now;
	do {
		pid_t pids[8];

		for (int k = 0; k < 8; k++, forks++) {
			pids[k] = fork();
			if (pids[k] < 0) {
				perror("fork");
				bad++;
				continue;
			}
			if (pids[k] == 0) {
				if (forks % 2) {
					execl("/bin/true", "true", (char *)NULL);
					_exit(127);
				}
				char *p = malloc(4096);
				memset(p, (int)forks, 4096);
				(void)!write(note[1], p, 1);
				free(p);
				_exit((int)(forks % 100));
			}
		}
		for (int k = 0; k < 8; k++) {
			int st;
			long n = forks - 8 + k;

			if (pids[k] <= 0)
				continue;
			if (waitpid(pids[k], &st, 0) != pids[k]) {
				bad++;
				continue;
			}
			int want = n % 2 ? 0 : (int)(n % 100);
			if (WIFEXITED(st) && WEXITSTATUS(st) == want)
				good++;
			else
				bad++;
		}
		char drain[64];
		if (forks % 64 == 0)
			while (read(note[0], drain, sizeof drain) == sizeof drain)
				;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (since(&start, &now) < secs);
	close(note[0]);
	close(note[1]);

	/* Wake everyone. */
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < nthreads; i++)
		if (ws[i].kind == PIPE) {
			unsigned char c = (unsigned char)i;

			if (write(ws[i].pipe[1], &c, 1) != 1)
				bad++;
			close(ws[i].pipe[1]);
		}
	int ok = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].t, NULL);
		ok += ws[i].ok;
		if (ws[i].kind == PIPE)
			close(ws[i].pipe[0]);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	long fds2 = fds_snap(NULL), rss2 = rss_kib();
	char fresh[1024];
	fds_new(at_start, fresh, sizeof fresh);
	printf("forks=%ld children.ok=%ld children.bad=%ld waiters=%d waiters.ok=%d fds.start=%ld "
	       "fds.waiting=%ld fds.end=%ld rss.start=%ld rss.waiting=%ld rss.end=%ld seconds=%.1f "
	       "forks_per_s=%.0f fds.new=%s\n",
	       forks, good, bad, nthreads, ok, fds0, fds1, fds2, rss0, rss1, rss2, since(&start, &now),
	       forks / secs, fresh);
	return good == forks && bad == 0 && ok == nthreads ? 0 : 1;
}
