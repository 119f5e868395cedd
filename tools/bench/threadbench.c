/*
 * gs-threadbench: what the pthread calls cost, in an ordinary program.
 * Run natively and under LD_PRELOAD=libgreenshim.so (tools/bench/
 * sidebyside.sh does both, pinned to one CPU, side by side).
 *
 *   pthread-create-join   create a thread that returns at once, join it
 *   mutex-cond-handoff    two threads take turns through a mutex and a
 *                         condition variable (the shape of a work queue)
 *   pipe-handoff          two threads hand a byte back and forth through
 *                         two pipes (a self-pipe, a dispatcher's
 *                         notification)
 *   eventfd-handoff       the same through two eventfds
 *   signal-handoff        pthread_kill to a thread that waits in sem_wait;
 *                         its handler (SA_RESTART) posts a semaphore the
 *                         sender waits on (how Boehm's collector stops a
 *                         thread)
 *   process-signal        kill of the process by a thread, whose handler
 *                         (SA_RESTART) runs on the main thread, waiting in
 *                         sem_wait, and posts a semaphore the sender waits
 *                         on (a SIGCHLD, a timer's or a terminal's signal)
 *   other-cpu-clock       clock_gettime of another thread's CPU clock
 *                         (pthread_getcpuclockid), the thread asleep (what
 *                         Java's ThreadMXBean and profilers read)
 *   flock-yield           two threads, each with its own open file of one
 *                         file, take its flock, yield, and let go: the
 *                         other one, run meanwhile, finds it held and
 *                         waits in flock (a lock file between the threads
 *                         of a program, or held by another process)
 *   mq-handoff            two threads take turns through two POSIX message
 *                         queues (mq_send, mq_receive)
 *   sysv-sem-handoff      the same through two System V semaphores (semop
 *                         +1 on the other's, -1 on its own)
 *   sysv-sem-free         semop -1 then +1 on a System V semaphore nobody
 *                         else holds (a lock taken and let go), another
 *                         thread alive and asleep: per pair
 *
 * Prints "NAME NS" lines: ns per operation, best of five runs.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <mqueue.h>
#include <sys/file.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *nothing(void *arg)
{
	return arg;
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static long turn, rounds;

static void *take_turns(void *arg)
{
	long me = (long)(intptr_t)arg;

	pthread_mutex_lock(&m);
	for (long i = 0; i < rounds; i++) {
		while ((turn & 1) != me)
			pthread_cond_wait(&c, &m);
		turn++;
		pthread_cond_signal(&c);
	}
	pthread_mutex_unlock(&m);
	return NULL;
}

/* Descriptor hand-offs: thread 0 writes to fds[1] and reads fds[2];
 * thread 1 reads fds[0] and writes fds[3] (for eventfds, 0 and 1 are one
 * fd, as are 2 and 3). */
static int fds[4];
static size_t unit;

static void *bounce(void *arg)
{
	long me = (long)(intptr_t)arg;
	uint64_t v = 1;

	for (long i = 0; i < rounds; i++) {
		if (me == 0) {
			if (write(fds[1], &v, unit) != (ssize_t)unit ||
			    read(fds[2], &v, unit) != (ssize_t)unit)
				exit(1);
		} else {
			if (read(fds[0], &v, unit) != (ssize_t)unit ||
			    write(fds[3], &v, unit) != (ssize_t)unit)
				exit(1);
		}
	}
	return NULL;
}

/* fn on two threads (arg 0 and 1) at once, rounds each: ns per turn,
 * best of five runs. */
static double two_threads(void *(*fn)(void *))
{
	double best = 1e30;

	for (int r = 0; r < 5; r++) {
		pthread_t a, b;
		double t0 = now_ns();

		turn = 0;
		pthread_create(&a, NULL, fn, (void *)0);
		pthread_create(&b, NULL, fn, (void *)1);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		if ((now_ns() - t0) / (2.0 * rounds) < best)
			best = (now_ns() - t0) / (2.0 * rounds);
	}
	return best;
}

static sem_t ack, finish;

static void on_usr1(int sig)
{
	(void)sig;
	sem_post(&ack);
}

static void *wait_for_signals(void *arg)
{
	(void)arg;
	while (sem_wait(&finish) != 0)
		;
	return NULL;
}

static double signal_handoff(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	double best = 1e30;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || sem_init(&ack, 0, 0) != 0 ||
	    sem_init(&finish, 0, 0) != 0)
		exit(1);
	for (int r = 0; r < 5; r++) {
		pthread_t t;
		double t0;

		pthread_create(&t, NULL, wait_for_signals, NULL);
		t0 = now_ns();
		for (long i = 0; i < rounds; i++) {
			pthread_kill(t, SIGUSR1);
			while (sem_wait(&ack) != 0)
				;
		}
		if ((now_ns() - t0) / rounds < best)
			best = (now_ns() - t0) / rounds;
		sem_post(&finish);
		pthread_join(t, NULL);
	}
	return best;
}

static double process_took;

static void *signal_the_process(void *arg)
{
	double t0 = now_ns();

	(void)arg;
	for (long i = 0; i < rounds; i++) {
		kill(getpid(), SIGUSR1);
		while (sem_wait(&ack) != 0)
			;
	}
	process_took = (now_ns() - t0) / rounds;
	sem_post(&finish);
	return NULL;
}

/* Linux gives the process's signal to the main thread, which waits. */
static double process_signal(void)
{
	double best = 1e30;

	for (int r = 0; r < 5; r++) {
		pthread_t t;

		pthread_create(&t, NULL, signal_the_process, NULL);
		while (sem_wait(&finish) != 0)
			;
		pthread_join(t, NULL);
		if (process_took < best)
			best = process_took;
	}
	return best;
}

static sem_t wake;

static void *sleeps_until_woken(void *arg)
{
	while (sem_wait(&wake) != 0)
		;
	return arg;
}

/* Reads of a sleeping thread's CPU clock: ns per read, best of five. */
static double other_cpu_clock(void)
{
	double best = 1e30;
	struct timespec ts;
	clockid_t clk;
	pthread_t t;

	sem_init(&wake, 0, 0);
	if (pthread_create(&t, NULL, sleeps_until_woken, NULL) != 0 ||
	    pthread_getcpuclockid(t, &clk) != 0)
		exit(1);
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (long i = 0; i < rounds; i++)
			if (clock_gettime(clk, &ts) != 0)
				exit(1);
		if ((now_ns() - t0) / rounds < best)
			best = (now_ns() - t0) / rounds;
	}
	sem_post(&wake);
	pthread_join(t, NULL);
	return best;
}

static char lock_path[64];

static void *flock_yield(void *arg)
{
	int fd = open(lock_path, O_RDWR | O_CREAT, 0600);

	if (fd < 0)
		exit(1);
	for (long i = 0; i < rounds; i++) {
		if (flock(fd, LOCK_EX) != 0)
			exit(1);
		sched_yield();
		flock(fd, LOCK_UN);
	}
	close(fd);
	return arg;
}

static mqd_t queues[2];

static void *mq_turns(void *arg)
{
	long me = (long)(intptr_t)arg;
	char b[8];

	for (long i = 0; i < rounds; i++) {
		if (me == 0 && mq_send(queues[1], "x", 1, 0) != 0)
			exit(1);
		if (mq_receive(queues[me], b, sizeof b, NULL) != 1)
			exit(1);
		if (me == 1 && mq_send(queues[0], "x", 1, 0) != 0)
			exit(1);
	}
	return NULL;
}

static int semid;

static void *sem_turns(void *arg)
{
	long me = (long)(intptr_t)arg;
	struct sembuf down = { (unsigned short)me, -1, 0 }, up = { (unsigned short)(1 - me), 1, 0 };

	for (long i = 0; i < rounds; i++) {
		if (me == 0 && semop(semid, &up, 1) != 0)
			exit(1);
		if (semop(semid, &down, 1) != 0)
			exit(1);
		if (me == 1 && semop(semid, &up, 1) != 0)
			exit(1);
	}
	return NULL;
}

static sem_t ipc_done;

static void *sleeps_until_done(void *arg)
{
	while (sem_wait(&ipc_done) != 0)
		;
	return arg;
}

/* POSIX queues and System V semaphores: the hand-offs, then a semaphore
 * taken and let go with nobody else there (a thread asleep beside: a
 * program's only thread may block its OS thread, and is not measured). */
static void ipc(void)
{
	struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 8 };
	char name[2][48];
	struct sembuf pair[2] = { { 0, -1, 0 }, { 0, 1, 0 } };
	double best = 1e30;
	pthread_t sleeper;

	for (int i = 0; i < 2; i++) {
		snprintf(name[i], sizeof name[i], "/gs-threadbench-%d-%d", (int)getpid(), i);
		queues[i] = mq_open(name[i], O_RDWR | O_CREAT | O_EXCL, 0600, &a);
		if (queues[i] == (mqd_t)-1)
			exit(1);
	}
	printf("mq-handoff %.1f\n", two_threads(mq_turns));
	for (int i = 0; i < 2; i++) {
		mq_close(queues[i]);
		mq_unlink(name[i]);
	}
	semid = semget(IPC_PRIVATE, 2, 0600);
	if (semid < 0)
		exit(1);
	printf("sysv-sem-handoff %.1f\n", two_threads(sem_turns));
	semctl(semid, 0, SETVAL, 1);
	sem_init(&ipc_done, 0, 0);
	pthread_create(&sleeper, NULL, sleeps_until_done, NULL);
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (long i = 0; i < rounds; i++)
			if (semop(semid, &pair[0], 1) != 0 || semop(semid, &pair[1], 1) != 0)
				exit(1);
		if ((now_ns() - t0) / rounds < best)
			best = (now_ns() - t0) / rounds;
	}
	sem_post(&ipc_done);
	pthread_join(sleeper, NULL);
	printf("sysv-sem-free %.1f\n", best);
	semctl(semid, 0, IPC_RMID);
}

int main(void)
{
	double best = 1e30;

	for (int r = 0; r < 5; r++) {
		enum { N = 20000 };
		double t0 = now_ns();

		for (int i = 0; i < N; i++) {
			pthread_t t;

			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
		}
		if ((now_ns() - t0) / N < best)
			best = (now_ns() - t0) / N;
	}
	printf("pthread-create-join %.1f\n", best);
	rounds = 100000;
	printf("mutex-cond-handoff %.1f\n", two_threads(take_turns));
	rounds = 50000;
	if (pipe(fds) != 0 || pipe(fds + 2) != 0)
		return 1;
	unit = 1;
	printf("pipe-handoff %.1f\n", two_threads(bounce));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	fds[0] = fds[1] = eventfd(0, 0);
	fds[2] = fds[3] = eventfd(0, 0);
	if (fds[0] < 0 || fds[2] < 0)
		return 1;
	unit = sizeof(uint64_t);
	printf("eventfd-handoff %.1f\n", two_threads(bounce));
	rounds = 20000;
	printf("signal-handoff %.1f\n", signal_handoff());
	printf("process-signal %.1f\n", process_signal());
	rounds = 100000;
	printf("other-cpu-clock %.1f\n", other_cpu_clock());
	rounds = 20000;
	snprintf(lock_path, sizeof lock_path, "/tmp/gs-threadbench-%d.lock", (int)getpid());
	printf("flock-yield %.1f\n", two_threads(flock_yield));
	unlink(lock_path);
	rounds = 10000;
	ipc();
	return 0;
}
