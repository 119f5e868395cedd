/* Regular-file I/O: "calls" prints the outcome of every file call (results,
 * errno, data read back) to be compared between a native run and runs
 * under greenshim (GREENSHIM_FILE_IO=pool and direct), and
 * "calls_beside_a_thread" the same while another thread waits; "threads"
 * reads, writes and flushes a file, then prints the names of the
 * process's threads; "fifo_open" shows that other threads run while one
 * waits in open() for a FIFO's writer; "flush_beside_a_thread" counts
 * how often another thread ran during flushes and writes, and
 * "sync_beside_a_thread" during the other flushes (sync_file_range,
 * syncfs, sync, msync), "dsync_beside_a_thread" during writes to files
 * opened with O_DSYNC or O_SYNC.
 * An ordinary program: nothing here knows of greenshim. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "case.h"
#include "ticker.h"

#define SYNC_WAIT_WRITE_WAIT \
	(SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)

static char dir[64], path_a[96], path_b[96];

static void make_dir(void)
{
	strcpy(dir, "/tmp/gs-file-XXXXXX");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(path_a, sizeof path_a, "%s/a", dir);
	snprintf(path_b, sizeof path_b, "%s/b", dir);
}

static void remove_dir(void)
{
	unlink(path_a);
	unlink(path_b);
	rmdir(dir);
}

static unsigned sum(const char *p, ssize_t n)
{
	unsigned s = 0;

	for (ssize_t i = 0; i < n; i++)
		s = s * 31 + (unsigned char)p[i];
	return s;
}

/* One line per call: its result, errno when it failed. */
static void report(const char *what, long r)
{
	if (r < 0)
		printf("%s = %ld errno=%s\n", what, r, strerror(errno));
	else
		printf("%s = %ld\n", what, r);
}

static void case_calls(void)
{
	static char data[10000], buf[8192];
	char a[100], b[50], comm[32];
	struct iovec iov[2] = { { a, sizeof a }, { b, sizeof b } };
	volatile int rdonly = O_RDONLY; /* not a constant: __open_2 */
	struct stat st;
	int fd, fd2, dfd, p[2];
	char *map;
	ssize_t r;

	make_dir();
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)('a' + i % 23);

	errno = 0;
	fd = open(path_a, O_CREAT | O_EXCL | O_RDWR, 0640);
	report("open(a, O_CREAT|O_EXCL) >= 0", fd >= 0 ? 0 : -1);
	report("errno after a successful open", errno);
	report("write 10000", write(fd, data, sizeof data));
	report("pwrite 4 at 20000", pwrite(fd, "tail", 4, 20000));
	report("fsync", fsync(fd));
	report("fdatasync", fdatasync(fd));
	r = pread(fd, buf, 100, 9990);
	printf("pread 100 at 9990 = %zd sum %u\n", r, sum(buf, r));
	r = pread(fd, buf, 100, 15000);
	printf("pread in the hole = %zd sum %u\n", r, sum(buf, r));
	report("lseek 0", lseek(fd, 0, SEEK_SET));
	r = read(fd, buf, sizeof buf);
	printf("read 8192 = %zd sum %u\n", r, sum(buf, r));
	r = readv(fd, iov, 2);
	printf("readv 150 = %zd sums %u %u\n", r, sum(a, sizeof a), sum(b, sizeof b));
	report("position", lseek(fd, 0, SEEK_CUR));
	report("writev 150 at the end", (lseek(fd, 0, SEEK_END), writev(fd, iov, 2)));
	r = preadv(fd, iov, 2, 20004);
	printf("preadv at 20004 = %zd sums %u %u\n", r, sum(a, sizeof a), sum(b, sizeof b));
	report("pwritev at 1", pwritev(fd, iov, 2, 1));
	report("read at the end", read(fd, buf, sizeof buf));
	report("pread at -1", pread(fd, buf, 10, -1));
	report("fstat", fstat(fd, &st));
	printf("size %lld\n", (long long)st.st_size);
	report("sync_file_range", sync_file_range(fd, 0, 0, SYNC_WAIT_WRITE_WAIT));
	report("sync_file_range, an unknown flag", sync_file_range(fd, 0, 0, 0x100));
	report("sync_file_range, a negative length",
	       sync_file_range(fd, 0, -1, SYNC_FILE_RANGE_WRITE));
	report("syncfs", syncfs(fd));
	sync();
	printf("sync\n");
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
	memcpy(map, "mapped", 6);
	report("msync MS_SYNC", msync(map, 4096, MS_SYNC));
	report("msync MS_ASYNC", msync(map, 4096, MS_ASYNC));
	report("msync MS_SYNC|MS_ASYNC", msync(map, 4096, MS_SYNC | MS_ASYNC));
	report("msync unaligned", msync(map + 1, 10, MS_SYNC));
	munmap(map, 4096);
	report("msync unmapped", msync(map, 4096, MS_SYNC));
	r = pread(fd, buf, 8, 0);
	printf("pread 8 after msync = %zd sum %u\n", r, sum(buf, r));
	report("close", close(fd));

	report("open(a, O_CREAT|O_EXCL) again", open(path_a, O_CREAT | O_EXCL | O_RDWR, 0640));
	report("open(missing)", open("/nonexistent/greenshim", O_RDONLY));
	fd = open(path_a, rdonly);
	report("open(a) fortified >= 0", fd >= 0 ? 0 : -1);
	r = read(fd, buf, 300);
	printf("read 300 = %zd sum %u\n", r, sum(buf, r));
	report("write to O_RDONLY", write(fd, "x", 1));
	report("fsync O_RDONLY", fsync(fd));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	report("open(dir) >= 0", dfd >= 0 ? 0 : -1);
	fd2 = openat(dfd, "a", O_RDONLY);
	r = read(fd2, buf, 50);
	printf("openat(dir, a) then read 50 = %zd sum %u\n", r, sum(buf, r));
	report("read a directory", read(dfd, buf, 10));
	report("openat(dir, missing)", openat(dfd, "missing", O_RDONLY));
	fd = creat(path_b, 0600);
	report("creat(b) >= 0", fd >= 0 ? 0 : -1);
	report("write 5 to b", write(fd, "hello", 5));
	report("read from O_WRONLY", read(fd, buf, 5));
	close(fd);
	fd = open(path_b, O_RDWR | O_DSYNC);
	report("open(b, O_DSYNC) >= 0", fd >= 0 ? 0 : -1);
	report("write 3 to O_DSYNC", write(fd, "abc", 3));
	report("pwrite 2 at 10 to O_DSYNC", pwrite(fd, "de", 2, 10));
	report("writev 150 to O_DSYNC", writev(fd, iov, 2));
	report("pwritev at 1 to O_DSYNC", pwritev(fd, iov, 2, 1));
	report("fcntl(O_DSYNC) keeps O_DSYNC", (fcntl(fd, F_GETFL) & O_DSYNC) == O_DSYNC);
	close(fd);
	fd = open(path_b, O_RDONLY | O_SYNC);
	report("write to O_RDONLY|O_SYNC", write(fd, "x", 1));
	r = read(fd, buf, sizeof buf);
	printf("read b = %zd sum %u\n", r, sum(buf, r));
	close(fd);
	report("fsync of a closed fd", fsync(fd));
	report("fdatasync of a closed fd", fdatasync(fd));
	report("sync_file_range of a closed fd", sync_file_range(fd, 0, 0, SYNC_WAIT_WRITE_WAIT));
	report("syncfs of a closed fd", syncfs(fd));
	CHECK(pipe(p) == 0, "pipe");
	report("sync_file_range of a pipe", sync_file_range(p[1], 0, 0, SYNC_WAIT_WRITE_WAIT));
	report("syncfs of a pipe", syncfs(p[1]));
	close(p[0]);
	close(p[1]);
	/* /proc/thread-self is the caller's own task. */
	fd = open("/proc/thread-self/comm", O_RDONLY);
	r = read(fd, comm, sizeof comm - 1);
	comm[r > 0 ? r : 0] = '\0';
	printf("thread-self comm: %s", comm);
	close(fd);
	close(fd2);
	close(dfd);
	remove_dir();
}

/* The names of this process's threads, one line, sorted. */
static void print_threads(void)
{
	char names[64][32], path[300];
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;

	CHECK(d != NULL, "opendir");
	while ((de = readdir(d)) != NULL && n < 64) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (f != NULL && fgets(names[n], sizeof names[n], f) != NULL) {
			names[n][strcspn(names[n], "\n")] = '\0';
			n++;
		}
		if (f != NULL)
			fclose(f);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	printf("threads:");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void case_threads(void)
{
	char buf[16];
	int fd;

	make_dir();
	fd = open(path_a, O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10, "write");
	CHECK(pread(fd, buf, 10, 0) == 10 && memcmp(buf, "0123456789", 10) == 0, "pread");
	CHECK(fsync(fd) == 0 && fdatasync(fd) == 0, "fsync: %s", strerror(errno));
	close(fd);
	fd = open(path_a, O_WRONLY | O_DSYNC);
	CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10, "write O_DSYNC");
	CHECK(syncfs(fd) == 0, "syncfs: %s", strerror(errno));
	close(fd);
	remove_dir();
	print_threads();
}

static atomic_bool opening;

static void *fifo_reader(void *arg)
{
	char c = 0;
	int fd;

	atomic_store(&opening, true);
	fd = open((const char *)arg, O_RDONLY); /* waits for a writer */
	if (fd < 0 || read(fd, &c, 1) != 1)
		c = '?';
	close(fd);
	return (void *)(intptr_t)c;
}

/* open() of a FIFO waits for the other end: other threads run meanwhile,
 * and the writer's open (in main, 300 ms later) ends the wait. */
static void case_fifo_open(void)
{
	pthread_t tick, rd;
	void *got;
	int fd, n;

	make_dir();
	CHECK(mkfifo(path_a, 0600) == 0, "mkfifo: %s", strerror(errno));
	tick = start_ticker();
	CHECK(pthread_create(&rd, NULL, fifo_reader, path_a) == 0, "reader");
	while (!atomic_load(&opening))
		usleep(1000);
	usleep(20000);
	n = atomic_load(&ticks);
	usleep(300000);
	n = atomic_load(&ticks) - n;
	fd = open(path_a, O_WRONLY);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1, "writer: %s", strerror(errno));
	CHECK(pthread_join(rd, &got) == 0, "join");
	close(fd);
	stop_ticker(tick);
	remove_dir();
	CHECK((char)(intptr_t)got == 'x', "the reader got %c", (char)(intptr_t)got);
	CHECK(n >= 50, "the ticker ran %d times in 300 ms while a thread was in open()", n);
}

static int idle_pipe[2];

static void *idle_reader(void *arg)
{
	char c;

	(void)arg;
	return (void *)(intptr_t)read(idle_pipe[0], &c, 1);
}

/* "calls" while a second thread exists, waiting to read a pipe. */
static void case_calls_beside_a_thread(void)
{
	pthread_t t;
	void *got;

	CHECK(pipe(idle_pipe) == 0, "pipe");
	CHECK(pthread_create(&t, NULL, idle_reader, NULL) == 0, "pthread_create");
	case_calls();
	CHECK(write(idle_pipe[1], "x", 1) == 1, "write");
	CHECK(pthread_join(t, &got) == 0 && (intptr_t)got == 1, "join");
	close(idle_pipe[0]);
	close(idle_pipe[1]);
}

static atomic_long spins;
static atomic_bool spinning_stop, writing_done;
static int flush_fd;

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&spinning_stop)) {
		atomic_fetch_add(&spins, 1);
		sched_yield();
	}
	return NULL;
}

/* The spinner, once it has begun counting. */
static pthread_t start_spinner(void)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, spinner, NULL) == 0, "pthread_create");
	while (atomic_load(&spins) == 0)
		sched_yield();
	return t;
}

static void stop_spinner(pthread_t t)
{
	atomic_store(&spinning_stop, true);
	CHECK(pthread_join(t, NULL) == 0, "join");
}

/* Writes the file 20 times while main flushes it: returns in how many of
 * the writes the spinner ran. */
static void *writer(void *arg)
{
	static char block[4096];
	intptr_t writes = 0;

	(void)arg;
	for (int i = 0; i < 20; i++) {
		long before = atomic_load(&spins);

		CHECK(pwrite(flush_fd, block, sizeof block, (off_t)i * 4096) == sizeof block,
		      "pwrite");
		writes += atomic_load(&spins) != before;
		sched_yield();
	}
	atomic_store(&writing_done, true);
	return (void *)writes;
}

/* A thread that yields in a loop (the spinner) beside one that writes
 * and flushes a file 20 times, then flushes it while a third thread
 * writes it 20 times, then writes it 20 times more: prints in how many of
 * the flushes, of the writes beside a flush and of the last writes the
 * spinner ran. */
static void case_flush_beside_a_thread(void)
{
	static char block[4096];
	int flushes = 0, after = 0;
	pthread_t t, w;
	void *beside;

	make_dir();
	flush_fd = open(path_a, O_CREAT | O_RDWR, 0600);
	CHECK(flush_fd >= 0, "open: %s", strerror(errno));
	t = start_spinner();
	for (int i = 0; i < 20; i++) {
		long before;

		CHECK(pwrite(flush_fd, block, sizeof block, (off_t)i * 4096) == sizeof block,
		      "pwrite");
		before = atomic_load(&spins);
		CHECK(fdatasync(flush_fd) == 0, "fdatasync: %s", strerror(errno));
		flushes += atomic_load(&spins) != before;
	}
	CHECK(pthread_create(&w, NULL, writer, NULL) == 0, "pthread_create");
	for (int i = 0; i < 2000 && !atomic_load(&writing_done); i++)
		CHECK(fdatasync(flush_fd) == 0, "fdatasync: %s", strerror(errno));
	CHECK(atomic_load(&writing_done), "the writer did not write 20 times beside 2000 flushes");
	CHECK(pthread_join(w, &beside) == 0, "join");
	for (int i = 0; i < 20; i++) {
		long before = atomic_load(&spins);

		CHECK(pwrite(flush_fd, block, sizeof block, (off_t)i * 4096) == sizeof block,
		      "pwrite");
		after += atomic_load(&spins) != before;
	}
	stop_spinner(t);
	close(flush_fd);
	remove_dir();
	printf("the other thread ran during %d of 20 flushes, %d of 20 writes beside a flush "
	       "and %d of 20 writes after\n",
	       flushes, (int)(intptr_t)beside, after);
}

/* A thread that yields in a loop (the spinner) beside one that writes a
 * page of a file and then flushes it without fsync, 20 times with each
 * of sync_file_range (waiting), syncfs, sync and msync (MS_SYNC, the page
 * written through a shared mapping): prints in how many of each the
 * spinner ran. */
static void case_sync_beside_a_thread(void)
{
	static const char *const names[] = { "sync_file_range", "syncfs", "sync", "msync" };
	static char block[4096];
	int ran[4] = { 0 };
	pthread_t t;
	char *map;

	make_dir();
	flush_fd = open(path_a, O_CREAT | O_RDWR, 0600);
	CHECK(flush_fd >= 0 && ftruncate(flush_fd, 4096) == 0, "open: %s", strerror(errno));
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, flush_fd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
	t = start_spinner();
	for (int k = 0; k < 4; k++) {
		for (int i = 0; i < 20; i++) {
			long before;
			int r = 0;

			block[0] = (char)i;
			if (k == 3)
				memcpy(map, block, sizeof block);
			else
				CHECK(pwrite(flush_fd, block, sizeof block, 0) == sizeof block, "pwrite");
			before = atomic_load(&spins);
			if (k == 0)
				r = sync_file_range(flush_fd, 0, 0, SYNC_WAIT_WRITE_WAIT);
			else if (k == 1)
				r = syncfs(flush_fd);
			else if (k == 2)
				sync();
			else
				r = msync(map, 4096, MS_SYNC);
			CHECK(r == 0, "%s: %s", names[k], strerror(errno));
			ran[k] += atomic_load(&spins) != before;
		}
	}
	stop_spinner(t);
	munmap(map, 4096);
	close(flush_fd);
	remove_dir();
	printf("the other thread ran during %d of 20 sync_file_range, %d of 20 syncfs, %d of 20 sync "
	       "and %d of 20 msync\n",
	       ran[0], ran[1], ran[2], ran[3]);
}

/* The spinner beside a thread that writes a file opened with O_DSYNC 20
 * times with write and 20 with pwrite, then one opened with O_SYNC 20
 * times with writev: prints in how many of each the spinner ran. */
static void case_dsync_beside_a_thread(void)
{
	static char block[4096];
	struct iovec iov = { block, sizeof block };
	int ran[3] = { 0 };
	pthread_t t;
	int fd;

	make_dir();
	fd = open(path_a, O_CREAT | O_WRONLY | O_DSYNC, 0600);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	t = start_spinner();
	for (int k = 0; k < 3; k++) {
		if (k == 2) {
			close(fd);
			fd = open(path_a, O_WRONLY | O_SYNC);
			CHECK(fd >= 0, "open: %s", strerror(errno));
		}
		for (int i = 0; i < 20; i++) {
			long before = atomic_load(&spins);
			ssize_t r = k == 0 ? write(fd, block, sizeof block)
				  : k == 1 ? pwrite(fd, block, sizeof block, (off_t)i * 4096)
					   : writev(fd, &iov, 1);

			CHECK(r == sizeof block, "write: %s", strerror(errno));
			ran[k] += atomic_load(&spins) != before;
		}
	}
	stop_spinner(t);
	close(fd);
	remove_dir();
	printf("the other thread ran during %d of 20 writes and %d of 20 pwrites with O_DSYNC, "
	       "%d of 20 writevs with O_SYNC\n",
	       ran[0], ran[1], ran[2]);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "calls", case_calls },
		{ "calls_beside_a_thread", case_calls_beside_a_thread },
		{ "threads", case_threads },
		{ "fifo_open", case_fifo_open },
		{ "flush_beside_a_thread", case_flush_beside_a_thread },
		{ "sync_beside_a_thread", case_sync_beside_a_thread },
		{ "dsync_beside_a_thread", case_dsync_beside_a_thread },
	};

	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
