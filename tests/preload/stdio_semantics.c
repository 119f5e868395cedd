/*
 * An ordinary threaded program that uses stdio on pipes and sockets and
 * prints what the calls returned (values, feof, ferror, errno) as lines
 * of text. tests/preload/run.sh runs each case natively and under
 * LD_PRELOAD=libgreenshim.so and compares the whole output: greenshim
 * changes who waits, not what stdio returns. A ticker thread counts 2 ms
 * sleeps meanwhile; a case checks that it ran while a stdio call waited
 * (with one green OS thread, it only can if stdio did not block it; the
 * counts asked for are a fraction of what a loaded machine gives).
 *
 * Usage: stdio_semantics CASE   (cases: see main)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case.h"

static volatile int ticks;
static volatile int stop_ticker;

static void *ticker(void *arg)
{
	(void)arg;
	while (!stop_ticker) {
		usleep(2000);
		ticks++;
	}
	return NULL;
}

static pthread_t ticker_thread;

static void ticker_start(void)
{
	pthread_create(&ticker_thread, NULL, ticker, NULL);
	usleep(10000);
}

static void ticker_stop(void)
{
	stop_ticker = 1;
	pthread_join(ticker_thread, NULL);
}

/* ---- a writer thread that sends pieces with pauses --------------------- */

struct piece {
	const char *data;
	size_t len; /* 0: strlen */
	int delay_ms;
};

struct writer {
	int fd;
	const struct piece *pieces;
	bool close_after;
};

static void *write_pieces(void *arg)
{
	struct writer *w = arg;

	for (const struct piece *p = w->pieces; p->data != NULL; p++) {
		size_t len = p->len ? p->len : strlen(p->data);

		usleep((useconds_t)p->delay_ms * 1000);
		if (write(w->fd, p->data, len) != (ssize_t)len)
			abort();
	}
	if (w->close_after)
		close(w->fd);
	return NULL;
}

static void report(FILE *f, const char *what)
{
	printf("%s: feof %d ferror %d\n", what, feof(f) != 0, ferror(f) != 0);
}

/* Lines, characters, blocks and delimited records from a pipe whose
 * writer sends them in pieces, split mid-line, 20 ms apart; then EOF. */
static void case_pipe_reads(void)
{
	static char big[10001];
	static const struct piece pieces[] = {
		{ "first li", 0, 20 }, { "ne\nsecond", 0, 20 }, { " line is longer than the buffer\n", 0, 20 },
		{ "abc", 0, 20 }, { "defghijklmnopqrstuvwxyz", 0, 20 }, { "rec1,rec2,", 0, 20 },
		{ "rec3\n", 0, 20 }, { big, 10000, 20 }, { "\nblock:", 0, 20 },
		{ "0123456789", 0, 20 }, { "0123456789ABCDEF", 0, 20 }, { "tail", 0, 20 },
		{ NULL, 0, 0 },
	};
	struct writer w;
	pthread_t t;
	char buf[16], blk[40], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int p[2], before;
	FILE *f;

	memset(big, 'x', 10000);
	CHECK(pipe(p) == 0, "pipe");
	f = fdopen(p[0], "r");
	w = (struct writer){ p[1], pieces, true };
	ticker_start();
	before = ticks;
	pthread_create(&t, NULL, write_pieces, &w);

	while (fgets(buf, sizeof buf, f) != NULL && strchr(buf, '\n') == NULL)
		printf("fgets part: [%s]\n", buf);
	printf("fgets end: [%s]\n", buf);
	CHECK(fgets(buf, sizeof buf, f) == buf, "fgets");
	printf("fgets: [%s]\n", buf);
	while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] != '\n')
		;
	printf("getline: %zd [%.8s...] cap>=%d\n", n, line, cap >= 32);
	for (int i = 0; i < 3; i++) {
		int c = fgetc(f);

		printf("fgetc: %c\n", c);
	}
	n = getc(f);
	printf("getc: %c getc_unlocked: %c\n", (int)n, getc_unlocked(f));
	CHECK(ungetc('Q', f) == 'Q', "ungetc");
	CHECK(fgets(buf, 4, f) == buf, "fgets after ungetc");
	printf("fgets after ungetc: [%s]\n", buf);
	for (int i = 0; i < 2; i++) {
		n = getdelim(&line, &cap, ',', f);
		printf("getdelim: %zd [%s]\n", n, line);
	}
	n = getline(&line, &cap, f);
	printf("getline: %zd [%s]\n", n, line);
	n = getline(&line, &cap, f);
	printf("getline big: %zd cap %d\n", n, cap >= 10001);
	n = getdelim(&line, &cap, ':', f);
	printf("getdelim: %zd [%s]\n", n, line);
	/* 30 bytes wanted: two pieces of 10 and 16 arrive apart, then 4 and
	 * EOF: fread gathers across them and stops at end of file. */
	printf("fread: %zu\n", fread(blk, 1, 20, f));
	printf("fread: %zu [%.10s]\n", fread(blk, 5, 3, f), blk);
	memset(blk, 0, sizeof blk);
	printf("fread at eof: %zu [%s]\n", fread(blk, 1, sizeof blk, f), blk);
	report(f, "after fread");
	printf("fgets at eof: %s\n", fgets(buf, sizeof buf, f) == NULL ? "NULL" : buf);
	printf("fgetc at eof: %d\n", fgetc(f));
	printf("getline at eof: %zd\n", getline(&line, &cap, f));
	report(f, "end");
	pthread_join(t, NULL);
	CHECK(ticks - before >= 10, "the ticker ran %d times during about 240 ms of reads",
	      ticks - before);
	ticker_stop();
	free(line);
	fclose(f);
}

/* scanf, fscanf over numbers split across writes; what scanf leaves in
 * the stream is there for the next call; a matching failure; EOF. */
static void case_pipe_scanf(void)
{
	static const struct piece pieces[] = {
		{ "  12", 0, 20 }, { "34 word", 0, 20 }, { "s 5.", 0, 20 }, { "25x", 0, 20 },
		{ "\n7 8\n", 0, 20 }, { "nope", 0, 20 }, { "  ", 0, 20 }, { NULL, 0, 0 },
	};
	struct writer w;
	pthread_t t;
	char word[32];
	double d;
	int p[2], a = 0, b = 0, r, before;
	FILE *f;

	CHECK(pipe(p) == 0, "pipe");
	f = fdopen(p[0], "r");
	w = (struct writer){ p[1], pieces, true };
	ticker_start();
	before = ticks;
	pthread_create(&t, NULL, write_pieces, &w);
	r = fscanf(f, "%d %31s", &a, word);
	printf("fscanf: %d %d [%s]\n", r, a, word);
	r = fscanf(f, "%lf", &d);
	printf("fscanf: %d %.2f\n", r, d);
	printf("then fgetc: %c\n", fgetc(f));
	r = fscanf(f, "%d %d", &a, &b);
	printf("fscanf: %d %d %d\n", r, a, b);
	r = fscanf(f, "%d", &a);
	printf("fscanf mismatch: %d, then fgetc: %c\n", r, fgetc(f));
	r = fscanf(f, "%31s", word);
	printf("fscanf: %d [%s]\n", r, word);
	r = fscanf(f, "%d", &a);
	printf("fscanf at eof: %d\n", r);
	report(f, "end");
	pthread_join(t, NULL);
	CHECK(ticks - before >= 5, "the ticker ran %d times during about 140 ms of scanf",
	      ticks - before);
	ticker_stop();
	fclose(f);
}

/* A socket pair with a FILE on each end, "r+": requests written and
 * answered through stdio; the server echoes in upper case. */
static void *upper_server(void *arg)
{
	FILE *f = arg;
	char line[64];

	while (fgets(line, sizeof line, f) != NULL) {
		for (char *c = line; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		usleep(5000);
		fputs(line, f);
		fflush(f);
	}
	fclose(f);
	return NULL;
}

static void case_socket_file(void)
{
	pthread_t t;
	char line[64];
	int sv[2], before;
	FILE *c, *s;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	c = fdopen(sv[0], "r+");
	s = fdopen(sv[1], "r+");
	ticker_start();
	before = ticks;
	pthread_create(&t, NULL, upper_server, s);
	for (int i = 0; i < 20; i++) {
		fprintf(c, "request %d from %s\n", i, "client");
		/* No fflush: glibc writes what is pending when the stream
		 * turns to reading. */
		if (i % 2 == 0)
			fflush(c);
		CHECK(fgets(line, sizeof line, c) != NULL, "answer %d", i);
		if (i % 5 == 0)
			printf("answer: %s", line);
	}
	shutdown(sv[0], SHUT_WR);
	printf("after shutdown: %s\n", fgets(line, sizeof line, c) == NULL ? "NULL" : line);
	report(c, "client");
	pthread_join(t, NULL);
	CHECK(ticks - before >= 5, "the ticker ran %d times during 20 round trips of 5 ms",
	      ticks - before);
	ticker_stop();
	fclose(c);
}

/* ---- writes --------------------------------------------------------------- */

struct drain {
	int fd;
	int start_ms;     /* wait before reading anything */
	uint64_t sum;     /* of every byte times its position */
	size_t total;
	unsigned char last;
	size_t run_errors; /* shared_file: runs not a whole record long */
	size_t record;
};

static void *drain_slowly(void *arg)
{
	struct drain *d = arg;
	static unsigned char buf[65536];
	size_t run = 0;
	ssize_t n;

	usleep((useconds_t)d->start_ms * 1000);
	while ((n = read(d->fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			d->sum += (uint64_t)buf[i] * (d->total + (size_t)i + 1);
			if (d->record != 0) {
				if (d->total + (size_t)i > 0 && buf[i] != d->last) {
					d->run_errors += run % d->record != 0;
					run = 0;
				}
				run++;
			}
			d->last = buf[i];
		}
		d->total += (size_t)n;
		usleep(2000);
	}
	if (d->record != 0)
		d->run_errors += run % d->record != 0;
	return NULL;
}

/* fwrite, fprintf, fputs, puts-like and putc loops to a pipe that a
 * reader drains slowly: far more than the pipe holds. */
static void case_pipe_writes(void)
{
	static char big[1 << 20];
	struct drain d = { 0 };
	pthread_t t;
	int p[2], before;
	double t0;
	size_t r;
	FILE *f;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	CHECK(pipe(p) == 0, "pipe");
	f = fdopen(p[1], "w");
	d.fd = p[0];
	d.start_ms = 300;
	ticker_start();
	pthread_create(&t, NULL, drain_slowly, &d);
	before = ticks;
	t0 = now_ms();
	r = fwrite(big, 1, sizeof big, f);
	printf("fwrite: %zu\n", r);
	/* The reader started 300 ms late: the fwrite waited for it. */
	CHECK(now_ms() - t0 < 250 || ticks - before >= 10,
	      "the ticker ran %d times during a %.0f ms fwrite", ticks - before, now_ms() - t0);
	printf("fprintf: %d\n", fprintf(f, "%s|%d|%.*s\n", "head", 42, 300000, big));
	for (int i = 0; i < 20000; i++)
		fprintf(f, "line %d %s\n", i, i % 3 ? "x" : "yy");
	for (int i = 0; i < 5000; i++)
		fputs("fputs line\n", f);
	for (int i = 0; i < 100000; i++)
		putc('a' + i % 7, f);
	for (int i = 0; i < 100000; i++)
		putc_unlocked('b' + i % 5, f);
	setvbuf(f, NULL, _IOLBF, 0);
	for (int i = 0; i < 2000; i++)
		fprintf(f, "line buffered %d\n", i);
	printf("fwrite line buffered: %zu\n", fwrite(big, 1000, 300, f));
	setvbuf(f, NULL, _IONBF, 0);
	for (int i = 0; i < 2000; i++)
		fputs("unbuffered\n", f);
	printf("fwrite unbuffered: %zu\n", fwrite(big, 3, 100000, f));
	printf("fflush: %d\n", fflush(f));
	printf("dprintf: %d\n", dprintf(p[1], "%.*s|%s\n", 200000, big, "dprintf"));
	report(f, "writer");
	printf("fclose: %d\n", fclose(f));
	pthread_join(t, NULL);
	printf("read %zu bytes, sum %llu\n", d.total, (unsigned long long)d.sum);
	ticker_stop();
	close(p[0]);
}

/* Two threads write records of their own letter through one FILE: each
 * fwrite is whole in the stream, as the FILE lock makes it natively. */
struct rec_writer {
	FILE *f;
	char letter;
};

static void *write_records(void *arg)
{
	struct rec_writer *w = arg;
	static char rec[2][100000];
	char *r = rec[w->letter == 'B'];

	memset(r, w->letter, sizeof rec[0]);
	for (int i = 0; i < 10; i++)
		if (fwrite(r, 1, sizeof rec[0], w->f) != sizeof rec[0])
			abort();
	return NULL;
}

static void case_shared_file(void)
{
	struct drain d = { 0 };
	struct rec_writer a, b;
	pthread_t t, ta, tb;
	int p[2];
	FILE *f;

	CHECK(pipe(p) == 0, "pipe");
	f = fdopen(p[1], "w");
	/* A buffer that does not divide the record: flushes fall mid-record. */
	setvbuf(f, NULL, _IOFBF, 3000);
	d.fd = p[0];
	d.record = 100000;
	pthread_create(&t, NULL, drain_slowly, &d);
	a = (struct rec_writer){ f, 'A' };
	b = (struct rec_writer){ f, 'B' };
	pthread_create(&ta, NULL, write_records, &a);
	pthread_create(&tb, NULL, write_records, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	fclose(f);
	pthread_join(t, NULL);
	printf("read %zu bytes, runs not whole records: %zu\n", d.total, d.run_errors);
	close(p[0]);
}

/* flockfile and ftrylockfile keep a FILE to one thread: another thread's
 * ftrylockfile fails with EBUSY and its flockfile waits until the holder
 * lets go, whether the holder sleeps or computes meanwhile. */
static FILE *locked_file;
static atomic_int lock_stage; /* 1: held; 2: the other tried; 3: let go */

static void *hold_file(void *arg)
{
	bool compute = arg != NULL;

	flockfile(locked_file);
	flockfile(locked_file); /* the same thread again: recursive */
	atomic_store(&lock_stage, 1);
	while (atomic_load(&lock_stage) != 2)
		usleep(1000);
	if (compute) {
		double t0 = now_ms();

		while (now_ms() - t0 < 50)
			;
	} else {
		usleep(50000);
	}
	atomic_store(&lock_stage, 3);
	funlockfile(locked_file);
	funlockfile(locked_file);
	return NULL;
}

static void file_lock_round(bool compute)
{
	pthread_t t;
	int r;

	atomic_store(&lock_stage, 0);
	pthread_create(&t, NULL, hold_file, compute ? (void *)1 : NULL);
	while (atomic_load(&lock_stage) != 1)
		usleep(1000);
	errno = 0;
	r = ftrylockfile(locked_file);
	printf("ftrylockfile of a held FILE: %d (EBUSY %d), errno %d\n", r == EBUSY ? 16 : r,
	       r == EBUSY, errno);
	if (r == 0)
		funlockfile(locked_file);
	atomic_store(&lock_stage, 2);
	flockfile(locked_file);
	printf("flockfile waited for the holder: %d\n", atomic_load(&lock_stage) == 3);
	CHECK(ftrylockfile(locked_file) == 0, "ftrylockfile of a FILE this thread holds");
	funlockfile(locked_file);
	funlockfile(locked_file);
	pthread_join(t, NULL);
	CHECK(ftrylockfile(locked_file) == 0, "ftrylockfile of a free FILE");
	funlockfile(locked_file);
}

static void case_file_locks(void)
{
	locked_file = tmpfile();
	CHECK(locked_file != NULL, "tmpfile");
	file_lock_round(false);
	file_lock_round(true);
	fclose(locked_file);
}

/* Two threads write lines through one FILE on a regular file at once:
 * every fputs is whole in the file, as the FILE lock makes it. */
#define LINE_LEN 61
static void *write_lines(void *arg)
{
	char line[LINE_LEN + 1];

	memset(line, *(const char *)arg, LINE_LEN - 1);
	line[LINE_LEN - 1] = '\n';
	line[LINE_LEN] = '\0';
	for (int i = 0; i < 200000; i++)
		if (fputs(line, locked_file) == EOF)
			abort();
	return NULL;
}

static void case_shared_regular_file(void)
{
	pthread_t a, b;
	char line[LINE_LEN + 2];
	size_t lines = 0, torn = 0;

	locked_file = tmpfile();
	CHECK(locked_file != NULL, "tmpfile");
	pthread_create(&a, NULL, write_lines, "A");
	pthread_create(&b, NULL, write_lines, "B");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	rewind(locked_file);
	while (fgets(line, sizeof line, locked_file) != NULL) {
		lines++;
		torn += strlen(line) != LINE_LEN ||
			(strspn(line, "A") != LINE_LEN - 1 && strspn(line, "B") != LINE_LEN - 1);
	}
	printf("lines %zu, torn %zu\n", lines, torn);
	fclose(locked_file);
}

/* A thread that holds a FILE through flockfile writes sections of 'A's
 * with putc_unlocked, computing inside some (past several preemption
 * ticks) and sleeping inside others; another thread writes through the
 * same FILE meanwhile with calls that take the lock themselves (fputc,
 * putc, fputs, fprintf, fwrite), each call a whole line, and notes where
 * ftell says it is. None of its bytes lands inside a section, and ftell
 * never gives a place inside one. */
#define SECTIONS 6
#define SECTION_LEN 40
static atomic_int sections_done;

static void *write_sections(void *arg)
{
	(void)arg;
	for (int r = 0; r < SECTIONS; r++) {
		flockfile(locked_file);
		for (int i = 0; i < SECTION_LEN; i++) {
			putc_unlocked('A', locked_file);
			if (r % 2 == 0) {
				double t0 = now_ms();

				while (now_ms() - t0 < 0.25)
					;
			} else if (i % 10 == 0) {
				usleep(500);
			}
		}
		putc_unlocked('\n', locked_file);
		funlockfile(locked_file);
		usleep(300);
	}
	atomic_store(&sections_done, 1);
	return NULL;
}

static void case_locked_sections(void)
{
	static long told[4096];
	size_t whole = 0, others_torn = 0, ntold = 0, told_inside = 0;
	char line[4096];
	pthread_t t;

	locked_file = tmpfile();
	CHECK(locked_file != NULL, "tmpfile");
	setvbuf(locked_file, NULL, _IOFBF, 1 << 20);
	atomic_store(&sections_done, 0);
	pthread_create(&t, NULL, write_sections, NULL);
	for (unsigned i = 0; !atomic_load(&sections_done); i++) {
		if (ntold < sizeof told / sizeof told[0])
			told[ntold++] = ftell(locked_file);
		switch (i % 5) {
		case 0: fputc('\n', locked_file); break;
		case 1: putc('\n', locked_file); break;
		case 2: fputs("b\n", locked_file); break;
		case 3: fprintf(locked_file, "%s\n", "b"); break;
		default: fwrite("b\n", 1, 2, locked_file); break;
		}
		usleep(100);
	}
	pthread_join(t, NULL);
	for (size_t i = 0; i < ntold; i++) {
		if (told[i] == 0)
			continue;
		fseek(locked_file, told[i] - 1, SEEK_SET);
		told_inside += fgetc(locked_file) != '\n';
	}
	rewind(locked_file);
	while (fgets(line, sizeof line, locked_file) != NULL) {
		if (line[0] == 'A')
			whole += strspn(line, "A") == SECTION_LEN && strcmp(line + SECTION_LEN, "\n") == 0;
		else
			others_torn += strcmp(line, "\n") != 0 && strcmp(line, "b\n") != 0;
	}
	printf("sections %d, whole %zu, other lines torn %zu, ftell inside a section %zu\n",
	       SECTIONS, whole, others_torn, told_inside);
	fclose(locked_file);
}

/* One thread waits in fgets on a pipe FILE, another closes the FILE:
 * the close waits for the read to end (the FILE lock, natively). */
static FILE *closing;
static char closing_line[32];
static atomic_int reader_started;

static void *read_then_report(void *arg)
{
	(void)arg;
	atomic_store(&reader_started, 1);
	if (fgets(closing_line, sizeof closing_line, closing) == NULL)
		strcpy(closing_line, "NULL\n");
	return NULL;
}

static void case_close_while_reading(void)
{
	static const struct piece pieces[] = { { "late line\n", 0, 200 }, { NULL, 0, 0 } };
	struct writer w;
	pthread_t r, t;
	int p[2], before;

	CHECK(pipe(p) == 0, "pipe");
	closing = fdopen(p[0], "r");
	w = (struct writer){ p[1], pieces, true };
	ticker_start();
	before = ticks;
	pthread_create(&r, NULL, read_then_report, NULL);
	pthread_create(&t, NULL, write_pieces, &w);
	/* The reader is in fgets by the time of the fclose: started, then
	 * 50 ms. A reader that had not started by then (a loaded machine)
	 * would call fgets on a closed FILE, natively too. */
	while (!atomic_load(&reader_started))
		usleep(1000);
	usleep(50000);
	printf("fclose: %d\n", fclose(closing));
	pthread_join(r, NULL);
	printf("the reader got: %s", closing_line);
	pthread_join(t, NULL);
	CHECK(ticks - before >= 10, "the ticker ran %d times in 200 ms", ticks - before);
	ticker_stop();
}

/* A terminal: the prompt that stdout holds (line-buffered, no newline
 * yet) goes out before the read of stdin waits, as glibc flushes stdout
 * before reading a line-buffered stream. A child runs tty_child on the
 * slave side of a pseudo-terminal; this side answers only once it has
 * seen the prompt. */
static void case_tty_child(void)
{
	static char outbuf[BUFSIZ];
	char name[32];

	/* A terminal's stdout is line-buffered (case.h made it unbuffered,
	 * with a one-byte buffer that would stay without a buffer given). */
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
	printf("Name? ");
	if (fgets(name, sizeof name, stdin) == NULL)
		exit(3);
	printf("hello %s", name);
	exit(0);
}

static bool wait_for(int fd, const char *want, char *seen, size_t cap)
{
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	seen[0] = '\0';
	while (strstr(seen, want) == NULL) {
		ssize_t n;

		if (len + 1 >= cap || poll(&p, 1, 5000) != 1)
			return false;
		n = read(fd, seen + len, cap - len - 1);
		if (n <= 0)
			return false;
		len += (size_t)n;
		seen[len] = '\0';
	}
	return true;
}

static void case_tty_prompt(void)
{
	char seen[256];
	int m = posix_openpt(O_RDWR | O_NOCTTY), status;
	pid_t pid;

	CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0, "posix_openpt");
	pid = fork();
	if (pid == 0) {
		int s = open(ptsname(m), O_RDWR);

		if (s < 0 || dup2(s, 0) < 0 || dup2(s, 1) < 0)
			_exit(4);
		close(m);
		execl("/proc/self/exe", "stdio_semantics", "tty_child", (char *)NULL);
		_exit(5);
	}
	printf("prompt before the answer: %s\n", wait_for(m, "Name? ", seen, sizeof seen) ? "yes" : "no");
	CHECK(write(m, "bob\n", 4) == 4, "write");
	printf("reply: %s\n", wait_for(m, "hello bob", seen, sizeof seen) ? "hello bob" : seen);
	waitpid(pid, &status, 0);
	printf("child: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	close(m);
}

/* The _FORTIFY_SOURCE entry points (__fgets_chk, __fread_chk and their
 * _unlocked forms, __vfprintf_chk) and the _unlocked calls, on a pipe
 * whose writer is late, and a pipe that a late reader drains. */
static volatile int runtime_n = 24; /* unknown to the compiler: _chk forms */

static int vlog(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

static void case_checked_and_unlocked(void)
{
	static const struct piece pieces[] = {
		{ "one\n", 0, 30 }, { "two\n", 0, 30 }, { "0123456789", 0, 30 }, { "abcdefghijklmn", 0, 30 },
		{ "three\n", 0, 30 }, { "four\n", 0, 30 }, { "xyz", 0, 30 }, { NULL, 0, 0 },
	};
	static char big[300000];
	struct drain d = { 0 };
	struct writer w;
	pthread_t t;
	char *b = malloc(64);
	int p[2], q[2], before;
	FILE *f, *o;

	CHECK(pipe(p) == 0 && pipe(q) == 0, "pipe");
	f = fdopen(p[0], "r");
	o = fdopen(q[1], "w");
	w = (struct writer){ p[1], pieces, true };
	ticker_start();
	before = ticks;
	pthread_create(&t, NULL, write_pieces, &w);
	printf("fgets (chk): [%s]\n", fgets(b, runtime_n, f));
	printf("fgets_unlocked (chk): [%s]\n", fgets_unlocked(b, runtime_n, f));
	memset(b, 0, 64);
	printf("fread (chk): %zu [%s]\n", fread(b, 1, (size_t)runtime_n, f), b);
	memset(b, 0, 64);
	printf("fread_unlocked (chk): %zu\n", fread_unlocked(b, 1, (size_t)runtime_n / 4, f));
	printf("fgetc_unlocked: %c\n", (fgetc_unlocked)(f));
	printf("getc_unlocked: %c\n", (getc_unlocked)(f));
	printf("fread_unlocked at eof: %zu\n", fread_unlocked(b, 1, 64, f));
	report(f, "reads");
	pthread_join(t, NULL);
	CHECK(ticks - before >= 10, "the ticker ran %d times during about 210 ms of reads",
	      ticks - before);

	memset(big, 'q', sizeof big);
	d.fd = q[0];
	d.start_ms = 200;
	pthread_create(&t, NULL, drain_slowly, &d);
	printf("fwrite_unlocked: %zu\n", fwrite_unlocked(big, 1, sizeof big, o));
	printf("fputs_unlocked: %d\n", fputs_unlocked("fputs_unlocked\n", o));
	printf("vfprintf (chk): %d\n", vlog(o, "%s %d %.*s\n", "vfprintf", runtime_n, 100000, big));
	printf("fputc_unlocked: %d\n", (fputc_unlocked)('!', o));
	printf("putc_unlocked: %d\n", (putc_unlocked)('!', o));
	printf("fflush_unlocked: %d\n", fflush_unlocked(o));
	report(o, "writes");
	fclose(o);
	pthread_join(t, NULL);
	printf("read %zu bytes, sum %llu\n", d.total, (unsigned long long)d.sum);
	ticker_stop();
	fclose(f);
	close(q[0]);
	free(b);
}

/* ---- errors ------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

static void case_errors(void)
{
	struct timeval tv = { 0, 50000 };
	struct sigaction sa = { 0 };
	static char zs[10000];
	char buf[32], *got;
	int p[2], sv[2], r;
	pid_t pid;
	size_t z;
	FILE *f, *w;

	/* A writer that closes without writing: EOF, no error. */
	CHECK(pipe(p) == 0, "pipe");
	f = fdopen(p[0], "r");
	close(p[1]);
	printf("fgets on empty closed pipe: %s\n", fgets(buf, sizeof buf, f) ? "data" : "NULL");
	report(f, "eof");
	clearerr(f);
	fclose(f);

	/* Reading a write-only stream: EBADF and the error flag. */
	CHECK(pipe(p) == 0, "pipe");
	w = fdopen(p[1], "w");
	errno = 0;
	r = fgetc(w);
	printf("fgetc on a write-only FILE: %d errno %s\n", r, strerrorname_np(errno));
	report(w, "write-only");
	fclose(w);

	/* Writing to a pipe nobody reads: EPIPE (SIGPIPE ignored). */
	signal(SIGPIPE, SIG_IGN);
	w = fdopen(p[0], "r");
	fclose(w);
	CHECK(pipe(p) == 0, "pipe");
	close(p[0]);
	w = fdopen(p[1], "w");
	errno = 0;
	printf("fputs: %d\n", fputs("hello", w));
	r = fflush(w);
	printf("fflush: %d errno %s\n", r, strerrorname_np(errno));
	report(w, "epipe");
	errno = 0;
	z = fwrite(memset(zs, 'z', sizeof zs), 1, sizeof zs, w);
	printf("fwrite 10000: %zu errno %s\n", z, strerrorname_np(errno));
	printf("fprintf: %d\n", fprintf(w, "%d\n", 5));
	printf("fclose: %d\n", fclose(w));

	/* SO_RCVTIMEO on a socket FILE: EAGAIN after the timeout, and fgets
	 * reports it as glibc does. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	f = fdopen(sv[0], "r");
	errno = 0;
	got = fgets(buf, sizeof buf, f);
	printf("fgets with SO_RCVTIMEO: %s errno %s\n", got ? "data" : "NULL", strerrorname_np(errno));
	report(f, "timeout");
	/* Bytes then a timeout: fgets returns what it read (EAGAIN). */
	CHECK(write(sv[1], "partial", 7) == 7, "write");
	printf("fgets partial then timeout: %s\n", fgets(buf, sizeof buf, f) ? buf : "NULL");
	report(f, "partial");
	/* The error flag stays while later calls succeed. */
	CHECK(write(sv[1], "more\n", 5) == 5, "write");
	printf("fgets: %s", fgets(buf, sizeof buf, f) ? buf : "NULL\n");
	report(f, "sticky error");
	fclose(f);
	close(sv[1]);

	/* A handler without SA_RESTART interrupts a waiting read: EINTR. */
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	CHECK(pipe(p) == 0, "pipe");
	f = fdopen(p[0], "r");
	ualarm(50000, 0);
	errno = 0;
	got = fgets(buf, sizeof buf, f);
	printf("fgets interrupted: %s errno %s\n", got ? "data" : "NULL", strerrorname_np(errno));
	report(f, "eintr");
	clearerr(f);
	/* With SA_RESTART the read goes on. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	ualarm(30000, 0);
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		_exit(write(p[1], "after restart\n", 14) == 14 ? 0 : 1);
	}
	printf("fgets restarted: %s", fgets(buf, sizeof buf, f) ? buf : "NULL\n");
	report(f, "restart");
	waitpid(pid, NULL, 0);
	fclose(f);
	close(p[1]);
}

/* stdin is a pipe that run.sh fills slowly: fgets, getchar, scanf and
 * fread on stdin while a ticker runs. */
static void *read_stdin(void *arg)
{
	char buf[64];
	int x = 0, r;

	(void)arg;
	printf("fgets: %s", fgets(buf, sizeof buf, stdin));
	printf("getchar: %c\n", getchar());
	r = scanf("%d", &x);
	printf("scanf: %d %d\n", r, x);
	printf("fread: %zu\n", fread(buf, 1, 20, stdin));
	printf("fgets: %s\n", fgets(buf, sizeof buf, stdin) ? "data" : "NULL");
	report(stdin, "stdin");
	return NULL;
}

static void case_stdin(void)
{
	pthread_t t;
	int before;
	double t0;

	ticker_start();
	before = ticks;
	t0 = now_ms();
	pthread_create(&t, NULL, read_stdin, NULL);
	pthread_join(t, NULL);
	/* run.sh sends its pieces 100 ms apart. */
	CHECK(now_ms() - t0 < 250 || ticks - before >= 10, "the ticker ran %d times in %.0f ms",
	      ticks - before, now_ms() - t0);
	ticker_stop();
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "pipe_reads", case_pipe_reads },   { "pipe_scanf", case_pipe_scanf },
		{ "socket_file", case_socket_file }, { "pipe_writes", case_pipe_writes },
		{ "shared_file", case_shared_file }, { "errors", case_errors },
		{ "stdin", case_stdin },             { "close_while_reading", case_close_while_reading },
		{ "tty_prompt", case_tty_prompt },   { "tty_child", case_tty_child },
		{ "checked_and_unlocked", case_checked_and_unlocked },
		{ "file_locks", case_file_locks },
		{ "shared_regular_file", case_shared_regular_file },
		{ "locked_sections", case_locked_sections },
	};

	signal(SIGPIPE, SIG_IGN);
	return run_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
