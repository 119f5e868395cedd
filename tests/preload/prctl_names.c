/*
 * An ordinary program (never linked to greenshim) whose worker threads name
 * themselves with prctl(PR_SET_NAME), as rsyslogd's and many daemons' do,
 * while the main thread waits: the process's own name (/proc/self/comm,
 * what ps and pkill read) stays the program's, each worker reads back its
 * own name (PR_GET_NAME, pthread_getname_np), a name past 15 characters
 * is cut there, and main's own PR_SET_NAME renames the process, as
 * natively. A bad pointer gets EFAULT either way, and a short name that
 * ends right before an unreadable page is fine (the kernel reads up to
 * its NUL). Prints what it found; the output must be the native run's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/prctl.h>

static pthread_barrier_t named, checked;
static char *names[] = { "imudp(w1)", "worker-b", "a-name-longer-than-fifteen" };
static char own[3][16], by_pthread[3][16];

static void comm(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/comm", "r");

	buf[0] = '\0';
	if (f != NULL) {
		if (fgets(buf, (int)len, f) != NULL)
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/* The bad pointers, from a worker: what the kernel says. */
static void bad_pointers(void)
{
	char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *edge;
	int r;

	if (page == MAP_FAILED || mprotect(page + 4096, 4096, PROT_NONE) != 0) {
		printf("no pages\n");
		return;
	}
	edge = page + 4096 - 3;
	memcpy(edge, "ab", 3);
	errno = 0;
	r = prctl(PR_SET_NAME, (char *)8, 0, 0, 0);
	printf("PR_SET_NAME of a bad pointer: %d errno %d\n", r, errno);
	errno = 0;
	r = prctl(PR_GET_NAME, page + 4096, 0, 0, 0);
	printf("PR_GET_NAME into an unwritable page: %d errno %d\n", r, errno);
	errno = 0;
	r = prctl(PR_SET_NAME, edge, 0, 0, 0);
	printf("PR_SET_NAME of a short name at a page's end: %d errno %d\n", r, errno);
	munmap(page, 8192);
}

static void *worker(void *arg)
{
	long i = (long)arg;

	if (i == 1)
		bad_pointers();
	prctl(PR_SET_NAME, names[i], 0, 0, 0);
	pthread_barrier_wait(&named);
	prctl(PR_GET_NAME, own[i], 0, 0, 0);
	pthread_getname_np(pthread_self(), by_pthread[i], sizeof by_pthread[i]);
	pthread_barrier_wait(&checked);
	return NULL;
}

int main(void)
{
	pthread_t t[3];
	char buf[64], seen[3][16], got[16] = "";

	pthread_barrier_init(&named, NULL, 4);
	pthread_barrier_init(&checked, NULL, 4);
	comm(buf, sizeof buf);
	printf("process name at start: %s\n", buf);
	for (long i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&named);
	comm(buf, sizeof buf);
	printf("process name with the workers named: %s\n", buf);
	for (int i = 0; i < 3; i++) {
		seen[i][0] = '\0';
		pthread_getname_np(t[i], seen[i], sizeof seen[i]);
	}
	pthread_barrier_wait(&checked);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 3; i++)
		printf("worker \"%s\": PR_GET_NAME \"%s\", pthread_getname_np \"%s\", seen by main \"%s\"\n",
		       names[i], own[i], by_pthread[i], seen[i]);
	comm(buf, sizeof buf);
	printf("process name after the joins: %s\n", buf);
	prctl(PR_SET_NAME, "renamed-main", 0, 0, 0);
	comm(buf, sizeof buf);
	prctl(PR_GET_NAME, got, 0, 0, 0);
	printf("after main's PR_SET_NAME: %s, PR_GET_NAME \"%s\"\n", buf, got);
	return 0;
}
