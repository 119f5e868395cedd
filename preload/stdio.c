/*
 * stdio on sockets, pipes, FIFOs and terminals.
 *
 * glibc's stdio reads and writes with its internal __read and __write,
 * past every wrapper of io.c. So on a FILE whose fd can block (fdtab.c's
 * waiting kinds) the functions below make sure that glibc itself never
 * blocks, by two rules:
 *
 *  - Reads: glibc may refill a FILE's buffer (underflow, one read(2))
 *    only when the fd is readable, which we wait for before calling it;
 *    and each call into glibc is shaped so that it underflows at most
 *    once (fgets and fread go in chunks: the bytes buffered, or one
 *    underflow). The read(2) that then follows at once, with no switch in
 *    between, finds data or end of file and does not block. What glibc
 *    does before reading is done first, the way it would: pending output
 *    of an update stream, and stdout when the input is line-buffered (a
 *    prompt must be out before we wait for the answer). scanf reads
 *    through a private fopencookie stream with a one-byte buffer, whose
 *    read function takes one byte at a time from the real FILE as above;
 *    the character scanf puts back goes back into the real FILE.
 *
 *  - Writes: every write(2) of the FILE's data is made here, through
 *    io.c's cooperative write; glibc is only asked to do what involves no
 *    I/O (copying into a buffer with room, switching a stream to writing).
 *    The buffer logic is glibc 2.36's own (libio/fileops.c:
 *    _IO_new_file_xsputn, _IO_new_file_overflow, new_do_write,
 *    _IO_new_file_write; genops.c: _IO_default_xsputn), line for line, on
 *    the public fields of struct _IO_FILE, so buffering, return values,
 *    errno, the error flag and the bytes written (and their order) are
 *    glibc's. printf formats into memory (vsnprintf, open_memstream past
 *    1 KiB), then writes that as fwrite would.
 *
 * Fast paths: a read with data buffered and a write that fits in the
 * buffer call glibc at once, without looking the fd up; otherwise one
 * fdtab lookup decides (regular files, /dev/null, wide-oriented streams,
 * descriptors the program made non-blocking: glibc's call).
 *
 * Green threads sharing a FILE: glibc's FILE locks belong to the OS thread
 * (THREAD_SELF, src/tls.c), so another green thread would get through
 * glibc's lock while one waits here. A call that parks marks its FILE busy
 * (a small set per hub) and lets go of the lock while it waits;
 * any other green thread's call on that FILE waits until the first call
 * is done, as the FILE lock makes it wait natively. During a write, the
 * buffer is made to look full, so even a putc_unlocked macro inlined in
 * the program comes here (through __overflow) and waits. Waits happen in
 * our code, between glibc calls, when the FILE's state is consistent;
 * the one exception is scanf's private cookie stream, which no one else
 * can reach.
 */
/* glibc's inline getc_unlocked and friends would clash with ours. */
#define __NO_INLINE__ 1
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "preload.h"

/* glibc's FILE flags (libio/libio.h; part of the ABI since glibc 2.1). */
#define F_UNBUFFERED 0x0002
#define F_NO_READS 0x0004
#define F_NO_WRITES 0x0008
#define F_EOF_SEEN 0x0010
#define F_ERR_SEEN 0x0020
#define F_LINKED 0x0080
#define F_IN_BACKUP 0x0100
#define F_LINE_BUF 0x0200
#define F_CURRENTLY_PUTTING 0x0800
#define F_IS_APPENDING 0x1000
#define F_USER_LOCK 0x8000

extern int __uflow(FILE *f);
extern int __underflow(FILE *f);
extern int __overflow(FILE *f, int ch);
char *__fgets_chk(char *buf, size_t size, int n, FILE *f);
char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *f);
size_t __fread_chk(void *p, size_t buflen, size_t size, size_t count, FILE *f);
size_t __fread_unlocked_chk(void *p, size_t buflen, size_t size, size_t count, FILE *f);
ssize_t __getdelim(char **lineptr, size_t *n, int delim, FILE *f);
int __printf_chk(int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
extern int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt,
			   va_list ap);

/* One wrapper call on a FILE whose fd can wait. */
struct sio {
	FILE *f;
	struct hub *h;
	struct fdent *e;
	bool locked; /* we took the FILE lock */
	bool busy;   /* this call marked f busy */
};

/* ---- FILEs that a parked call is using -------------------------------- */

#define BUSY_MAX 64

/* One set for the process: the calls on a FILE may come from green
 * threads of several hubs (GREENSHIM_HUBS). Under its lock (gsync_lock,
 * never held across a switch); n is read without it first, a hint. */
static struct {
	uint16_t lock;
	unsigned n;
	struct busy {
		FILE *f;
		struct green *g;
	} busy[BUSY_MAX];
	struct waitq q;
} busy;

/* Green threads waiting in flockfile, on any hub (below). */
static struct {
	uint16_t lock;
	struct waitq q;
} file_lock;

static bool busy_by_other(FILE *f)
{
	struct green *me = green_self();

	for (unsigned i = 0; i < busy.n; i++)
		if (busy.busy[i].f == f && busy.busy[i].g != me)
			return true;
	return false;
}

/* Another green thread's call on f has parked: wait until it is over, as
 * the FILE lock would make us wait natively (not interruptible either). */
static void busy_wait(FILE *f)
{
	gsync_lock(&busy.lock);
	while (busy_by_other(f))
		gsync_wait(&busy.lock, &busy.q, GS_NO_DEADLINE, WAIT_OTHER, NULL);
	gsync_unlock(&busy.lock);
}

static void sio_mark(struct sio *s)
{
	if (s->busy)
		return;
	gsync_lock(&busy.lock);
	if (busy.n < BUSY_MAX) {
		busy.busy[busy.n].f = s->f;
		busy.busy[busy.n].g = green_self();
		__atomic_store_n(&busy.n, busy.n + 1, __ATOMIC_RELAXED);
		s->busy = true;
	}
	gsync_unlock(&busy.lock);
}

static void busy_unmark(FILE *f)
{
	gsync_lock(&busy.lock);
	for (unsigned i = 0; i < busy.n; i++) {
		if (busy.busy[i].f == f && busy.busy[i].g == green_self()) {
			busy.busy[i] = busy.busy[busy.n - 1];
			__atomic_store_n(&busy.n, busy.n - 1, __ATOMIC_RELAXED);
			break;
		}
	}
	waitq_wake_all(&busy.q, WAKE_RETRY);
	gsync_unlock(&busy.lock);
}

/* The child's only thread is in no call. */
void stdio_fork_child(void)
{
	busy.lock = 0;
	busy.n = 0;
	waitq_init(&busy.q);
	file_lock.lock = 0;
	waitq_init(&file_lock.q);
}

/* ---- the FILE lock, between green threads ------------------------------ */

/*
 * glibc's FILE lock names its owner by THREAD_SELF, which is the OS
 * thread's descriptor (src/tls.c): the hub's, for every green thread that
 * runs there. To glibc, two green threads of one hub are one owner, so
 * the second one's flockfile would take a lock the first holds; two of
 * different hubs are two owners, and the second would sleep in the kernel.
 * So the program's flockfile and ftrylockfile, and the wrapped calls
 * (sio_lock), also note which green thread holds each FILE (flocks, a
 * table for the process: few FILEs are held at once), and a green thread
 * waits in its hub, parked, while another holds the FILE, then takes
 * glibc's lock with ftrylockfile. funlockfile wakes the waiters of every
 * hub; they also look again every millisecond, for a holder that is no
 * green thread (a runtime thread, glibc's own use of the lock in a call
 * of another hub). A wrapped call that parks lets go of the lock
 * meanwhile (sio_park): the busy set keeps the other wrapped calls out,
 * and glibc's own users of the lock (perror, fflush of every stream) get
 * through as they did. The holder stays on its hub, and is not preempted,
 * until it lets go (GREEN_FLOCK_MASK): glibc's lock names that hub's OS
 * thread. A call that takes the lock itself (putc, fputs, fseek, ungetc
 * and the rest of glibc's, fast paths included) first waits while
 * another green thread holds the FILE (flock_guard): glibc's lock would
 * let a thread of the holder's hub in while the holder waits, and make
 * one of another hub sleep in the kernel, its hub with it.
 */
#define FILE_LOCK_POLL_NS 1000000

struct flock_held {
	FILE *f;
	struct green *owner;
	unsigned count; /* its flockfile and successful ftrylockfile calls */
};

/* Under file_lock.lock. */
static struct {
	struct flock_held *v;
	size_t n, cap;
} flocks;
/* flocks.n, read without the lock by flock_guard. */
static atomic_size_t flocks_n;

static struct flock_held *flock_find(FILE *f)
{
	for (size_t i = 0; i < flocks.n; i++)
		if (flocks.v[i].f == f)
			return &flocks.v[i];
	return NULL;
}

/* f is free for me: no other green thread holds it, and glibc's lock
 * is taken (for me, or once more for me). */
static bool flock_try(FILE *f, struct green *me)
{
	struct flock_held *e = flock_find(f);

	if (e != NULL && e->owner != me)
		return false;
	if (REAL(ftrylockfile)(f) != 0)
		return false;
	if (e != NULL) {
		e->count++;
	} else {
		if (flocks.n == flocks.cap) {
			size_t cap = flocks.cap ? flocks.cap * 2 : 16;
			struct flock_held *v = gs_realloc(flocks.v, cap * sizeof *v);

			if (v == NULL)
				return true; /* glibc's lock alone, for this one */
			flocks.v = v;
			flocks.cap = cap;
		}
		flocks.v[flocks.n++] = (struct flock_held){ f, me, 1 };
		atomic_store_explicit(&flocks_n, flocks.n, memory_order_relaxed);
	}
	return true;
}

/* The calling green thread holds one more FILE lock, or one fewer. */
static void flock_count(struct green *g, int delta)
{
	if ((g->flags & GREEN_FLOCK_MASK) == GREEN_FLOCK_MASK)
		return; /* saturated: funlockfile counts again from flocks */
	if (delta > 0)
		g->flags += GREEN_FLOCK_ONE;
	else if (g->flags & GREEN_FLOCK_MASK)
		g->flags -= GREEN_FLOCK_ONE;
}

/* g's count taken again from flocks (under file_lock.lock), up to what
 * the field holds. */
static void flock_recount(struct green *g)
{
	const unsigned most = GREEN_FLOCK_MASK / GREEN_FLOCK_ONE;
	unsigned n = 0;

	for (size_t i = 0; i < flocks.n && n < most; i++)
		if (flocks.v[i].owner == g)
			n += flocks.v[i].count;
	g->flags = (g->flags & ~GREEN_FLOCK_MASK) | (n < most ? n : most) * GREEN_FLOCK_ONE;
}

/* The running green thread; NULL for a real thread (no hub yet, or
 * GREENSHIM_THREADS=native). */
static struct green *flock_green(void)
{
	struct hub *h;

	if (preload_native() || (h = preload_hub()) == NULL)
		return NULL;
	return hub_current(h);
}

/* The same, where green threads share FILEs through the table; NULL
 * where glibc's lock alone decides (also a shared TLS, whose owner is
 * every green thread of the hub, as before). */
static struct green *flock_self(void)
{
	return gs_tls_mode == TLS_SHARED ? NULL : flock_green();
}

/* glibc's lock alone; the holder still stays on its hub. */
static void flock_glibc(FILE *f, int delta)
{
	struct green *g = flock_green();

	if (delta > 0)
		REAL(flockfile)(f);
	else
		REAL(funlockfile)(f);
	if (g != NULL)
		flock_count(g, delta);
}

GS_WRAP void flockfile(FILE *f)
{
	struct green *me = flock_self();

	if (me == NULL) {
		flock_glibc(f, 1);
		return;
	}
	gsync_lock(&file_lock.lock);
	/* Queued before each try: a funlockfile after it finds us. */
	while (!flock_try(f, me))
		gsync_wait(&file_lock.lock, &file_lock.q, gs_deadline_after(FILE_LOCK_POLL_NS),
			   WAIT_OTHER, NULL);
	gsync_unlock(&file_lock.lock);
	flock_count(me, 1);
}

GS_WRAP int ftrylockfile(FILE *f)
{
	struct green *me = flock_self();
	bool taken;

	if (me == NULL) {
		struct green *g = flock_green();
		int r = REAL(ftrylockfile)(f);

		if (r == 0 && g != NULL)
			flock_count(g, 1);
		return r;
	}
	gsync_lock(&file_lock.lock);
	taken = flock_try(f, me);
	gsync_unlock(&file_lock.lock);
	if (!taken)
		return EBUSY; /* as glibc's, errno untouched */
	flock_count(me, 1);
	return 0;
}

GS_WRAP void funlockfile(FILE *f)
{
	struct green *me = flock_self();
	struct flock_held *e;

	if (me == NULL) {
		flock_glibc(f, -1);
		return;
	}
	REAL(funlockfile)(f);
	flock_count(me, -1);
	gsync_lock(&file_lock.lock);
	e = flock_find(f);
	if (e != NULL && e->owner == me && --e->count == 0) {
		*e = flocks.v[--flocks.n];
		atomic_store_explicit(&flocks_n, flocks.n, memory_order_relaxed);
	}
	if ((me->flags & GREEN_FLOCK_MASK) == GREEN_FLOCK_MASK)
		flock_recount(me);
	waitq_wake_all(&file_lock.q, WAKE_RETRY);
	gsync_unlock(&file_lock.lock);
}

static void flock_guard_slow(FILE *f)
{
	struct green *me = flock_self();
	struct flock_held *e;

	if (me == NULL || (f->_flags & F_USER_LOCK))
		return;
	gsync_lock(&file_lock.lock);
	while ((e = flock_find(f)) != NULL && e->owner != me)
		gsync_wait(&file_lock.lock, &file_lock.q, gs_deadline_after(FILE_LOCK_POLL_NS),
			   WAIT_OTHER, NULL);
	gsync_unlock(&file_lock.lock);
}

/* Before a call that takes f's lock itself: waits while another green
 * thread holds f through flockfile or ftrylockfile. Nothing to do, but
 * one load, while no FILE is held so. */
static inline void flock_guard(FILE *f)
{
	if (GS_UNLIKELY(atomic_load_explicit(&flocks_n, memory_order_relaxed) != 0) && f != NULL)
		flock_guard_slow(f);
}

/* Before fclose, and glibc's calls that take the FILE lock and never wait
 * on a descriptor (GUARDED): waits, as for glibc's lock, while another
 * green thread's call on f is parked (busy) or another green thread holds
 * f (flock_guard). */
static inline void guard(FILE *f)
{
	if (GS_UNLIKELY(__atomic_load_n(&busy.n, __ATOMIC_RELAXED) != 0) && f != NULL &&
	    hub_peek() != NULL && preload_hub() != NULL)
		busy_wait(f);
	flock_guard(f);
}

#define GUARDED(name, type, params, args, ret)                                 \
	GS_WRAP type name params                                               \
	{                                                                      \
		guard(f);                                                      \
		ret REAL(name) args;                                           \
	}

GUARDED(ungetc, int, (int c, FILE *f), (c, f), return)
GUARDED(fseek, int, (FILE *f, long off, int whence), (f, off, whence), return)
GUARDED(fseeko, int, (FILE *f, off_t off, int whence), (f, off, whence), return)
GUARDED(fseeko64, int, (FILE *f, off64_t off, int whence), (f, off, whence), return)
GUARDED(ftell, long, (FILE *f), (f), return)
GUARDED(ftello, off_t, (FILE *f), (f), return)
GUARDED(ftello64, off64_t, (FILE *f), (f), return)
GUARDED(rewind, void, (FILE *f), (f), )
GUARDED(fgetpos, int, (FILE *f, fpos_t *pos), (f, pos), return)
GUARDED(fgetpos64, int, (FILE *f, fpos64_t *pos), (f, pos), return)
GUARDED(fsetpos, int, (FILE *f, const fpos_t *pos), (f, pos), return)
GUARDED(fsetpos64, int, (FILE *f, const fpos64_t *pos), (f, pos), return)
GUARDED(feof, int, (FILE *f), (f), return)
GUARDED(ferror, int, (FILE *f), (f), return)
GUARDED(clearerr, void, (FILE *f), (f), )
GUARDED(setvbuf, int, (FILE *f, char *buf, int mode, size_t size), (f, buf, mode, size), return)

/* Only where green threads are told apart by the lock: with a shared TLS
 * they all own it already, and real threads (GREENSHIM_THREADS=native)
 * keep it as natively. */
static void sio_park_begin(struct sio *s)
{
	if (s->locked && gs_tls_mode != TLS_SHARED)
		funlockfile(s->f);
}

static void sio_park_end(struct sio *s)
{
	if (s->locked && gs_tls_mode != TLS_SHARED)
		flockfile(s->f);
}

/* ---- the call's frame ------------------------------------------------- */

/* May a call on f wait here? Fills s; waits while another green thread's
 * call on f is parked. One fdtab lookup. */
static bool sio_begin(struct sio *s, FILE *f)
{
	struct fdent *e = fdtab_get(f->_fileno);

	if (!fd_waits(e) || f->_mode > 0 || (s->h = preload_hub()) == NULL)
		return false;
	s->f = f;
	s->e = e;
	s->locked = s->busy = false;
	hub_current(s->h)->flags += GREEN_STDIO_ONE;
	if (GS_UNLIKELY(__atomic_load_n(&busy.n, __ATOMIC_RELAXED) != 0))
		busy_wait(f);
	return true;
}

static bool busy_by_other_now(FILE *f)
{
	bool other;

	gsync_lock(&busy.lock);
	other = busy_by_other(f);
	gsync_unlock(&busy.lock);
	return other;
}

static void sio_lock(struct sio *s)
{
	if (s->f->_flags & F_USER_LOCK)
		return;
	/* A call of another hub's thread may have parked on f (marked it
	 * busy, then let go of the lock) since sio_begin looked: its mark is
	 * seen once we hold the lock it let go of. */
	for (flockfile(s->f);
	     GS_UNLIKELY(__atomic_load_n(&busy.n, __ATOMIC_RELAXED) != 0) &&
	     busy_by_other_now(s->f);
	     flockfile(s->f)) {
		funlockfile(s->f);
		busy_wait(s->f);
	}
	s->locked = true;
}

/* The call is over: the FILE is let go, and a cancellation that ended one
 * of its waits (-ECANCELED, taken for an error meanwhile) acts now. */
static void sio_end(struct sio *s)
{
	struct green *g = hub_current(s->h);

	g->flags -= GREEN_STDIO_ONE;
	if (s->locked)
		funlockfile(s->f);
	if (s->busy)
		busy_unmark(s->f);
	if (GS_UNLIKELY(green_cancel_due(g)) && !(g->flags & GREEN_STDIO_MASK))
		preload_cancel_act();
}

/* ---- writes: glibc 2.36's buffer logic, our write(2) ------------------- */

/* _IO_adjust_column (genops.c). */
static unsigned adjust_column(unsigned start, const char *line, size_t count)
{
	const char *p = line + count;

	while (p > line)
		if (*--p == '\n')
			return (unsigned)(line + count - p - 1);
	return start + (unsigned)count;
}

/* new_do_write and _IO_new_file_write (fileops.c): writes data, whole,
 * through io.c; the count written. */
static size_t do_write(struct sio *s, const char *data, size_t to_do)
{
	FILE *f = s->f;
	size_t done = 0;

	if (f->_flags & F_IS_APPENDING) {
		f->_offset = -1;
	} else if (f->_IO_read_end != f->_IO_write_base) {
		off_t pos = lseek(f->_fileno, f->_IO_write_base - f->_IO_read_end, SEEK_CUR);

		if (pos == -1)
			return 0;
		f->_offset = pos;
	}
	/* While we wait, the buffer looks full: other green threads' puts
	 * come to __overflow and wait for this call (busy). */
	f->_IO_write_end = f->_IO_write_ptr;
	sio_mark(s);
	sio_park_begin(s);
	while (done < to_do) {
		int saved = errno;
		struct iovec iov = { (char *)data + done, to_do - done };
		ssize_t r = preload_xfer(s->h, f->_fileno, s->e, EV_WRITE, &iov, 1, NULL);

		if (r < 0) {
			f->_flags |= F_ERR_SEEN;
			break;
		}
		errno = saved;
		done += (size_t)r;
	}
	sio_park_end(s);
	if (f->_offset >= 0)
		f->_offset += (off_t)done;
	if (f->_cur_column && done)
		f->_cur_column = (unsigned short)(adjust_column(f->_cur_column - 1u, data, done) + 1);
	f->_IO_read_base = f->_IO_read_ptr = f->_IO_read_end = f->_IO_buf_base;
	f->_IO_write_base = f->_IO_write_ptr = f->_IO_buf_base;
	f->_IO_write_end = f->_mode <= 0 && (f->_flags & (F_LINE_BUF | F_UNBUFFERED))
				   ? f->_IO_buf_base
				   : f->_IO_buf_end;
	return done;
}

/* _IO_do_write: 0 or EOF. */
static int do_write_all(struct sio *s, const char *data, size_t to_do)
{
	return to_do == 0 || do_write(s, data, to_do) == to_do ? 0 : EOF;
}

/* The part of _IO_new_file_overflow that makes a stream a writing one
 * (a buffer, the put pointers): glibc's own, which writes nothing then,
 * since nothing is pending. */
static int put_mode(struct sio *s)
{
	FILE *f = s->f;

	if (f->_flags & F_NO_WRITES) {
		f->_flags |= F_ERR_SEEN;
		errno = EBADF;
		return EOF;
	}
	if (!(f->_flags & F_CURRENTLY_PUTTING) || f->_IO_write_base == NULL)
		return REAL(__overflow)(f, EOF);
	return 0;
}

/* _IO_new_file_overflow (f, EOF): flush. */
static int flush_pending(struct sio *s)
{
	FILE *f = s->f;

	if (!(f->_flags & F_NO_WRITES) && (f->_flags & F_CURRENTLY_PUTTING) &&
	    f->_IO_write_base != NULL)
		return do_write_all(s, f->_IO_write_base,
				    (size_t)(f->_IO_write_ptr - f->_IO_write_base));
	return put_mode(s);
}

/* _IO_new_file_overflow (f, ch). */
static int overflow_ch(struct sio *s, int ch)
{
	FILE *f = s->f;

	if (put_mode(s) == EOF)
		return EOF;
	if (f->_IO_write_ptr == f->_IO_buf_end &&
	    do_write_all(s, f->_IO_write_base, (size_t)(f->_IO_write_ptr - f->_IO_write_base)) == EOF)
		return EOF;
	*f->_IO_write_ptr++ = (char)ch;
	if (((f->_flags & F_UNBUFFERED) || ((f->_flags & F_LINE_BUF) && ch == '\n')) &&
	    do_write_all(s, f->_IO_write_base, (size_t)(f->_IO_write_ptr - f->_IO_write_base)) == EOF)
		return EOF;
	return (unsigned char)ch;
}

/* _IO_default_xsputn (genops.c). */
static size_t default_xsputn(struct sio *s, const char *p, size_t n)
{
	FILE *f = s->f;
	size_t more = n;

	if (more == 0)
		return 0;
	for (;;) {
		if (f->_IO_write_ptr < f->_IO_write_end) {
			size_t count = (size_t)(f->_IO_write_end - f->_IO_write_ptr);

			if (count > more)
				count = more;
			memcpy(f->_IO_write_ptr, p, count);
			f->_IO_write_ptr += count;
			p += count;
			more -= count;
		}
		if (more == 0 || overflow_ch(s, (unsigned char)*p++) == EOF)
			break;
		more--;
	}
	return n - more;
}

/* _IO_new_file_xsputn: what fwrite, fputs and printf do with their bytes.
 * The count taken, or EOF as a size_t (see there). */
static size_t put(struct sio *s, const char *p, size_t n)
{
	FILE *f = s->f;
	size_t to_do = n, count = 0;
	int must_flush = 0;

	if (n == 0)
		return 0;
	if ((f->_flags & F_LINE_BUF) && (f->_flags & F_CURRENTLY_PUTTING)) {
		count = (size_t)(f->_IO_buf_end - f->_IO_write_ptr);
		if (count >= n) {
			for (const char *q = p + n; q > p;) {
				if (*--q == '\n') {
					count = (size_t)(q - p + 1);
					must_flush = 1;
					break;
				}
			}
		}
	} else if (f->_IO_write_end > f->_IO_write_ptr) {
		count = (size_t)(f->_IO_write_end - f->_IO_write_ptr);
	}
	if (count > 0) {
		if (count > to_do)
			count = to_do;
		memcpy(f->_IO_write_ptr, p, count);
		f->_IO_write_ptr += count;
		p += count;
		to_do -= count;
	}
	if (to_do + (size_t)must_flush > 0) {
		size_t block, do_n;

		if (flush_pending(s) == EOF)
			return to_do == 0 ? (size_t)EOF : n - to_do;
		block = (size_t)(f->_IO_buf_end - f->_IO_buf_base);
		do_n = to_do - (block >= 128 ? to_do % block : 0);
		if (do_n) {
			count = do_write(s, p, do_n);
			to_do -= count;
			if (count < do_n)
				return n - to_do;
		}
		if (to_do)
			to_do -= default_xsputn(s, p + do_n, to_do);
	}
	return n - to_do;
}

/* Would glibc write n bytes into f without a write(2)? (Room in the
 * buffer, not line-buffered: _IO_new_file_xsputn only copies.) */
static inline bool fits(FILE *f, size_t n)
{
	return f->_IO_write_ptr < f->_IO_write_end && !(f->_flags & F_LINE_BUF) &&
	       n <= (size_t)(f->_IO_write_end - f->_IO_write_ptr);
}

/* ---- reads: wait until glibc's next underflow cannot block ------------ */

/* Nothing buffered to read, in the get area or the main one behind an
 * ungetc backup area. */
static inline bool rd_empty(FILE *f)
{
	return f->_IO_read_ptr >= f->_IO_read_end &&
	       (!(f->_flags & F_IN_BACKUP) || f->_IO_save_end <= f->_IO_save_base);
}

/* _IO_new_file_underflow flushes stdout before reading a line-buffered
 * or unbuffered stream (a tty's buffer is line-buffered from its first
 * read on): a prompt goes out before we wait for its answer. */
static void flush_stdout_for(struct sio *in)
{
	FILE *f = in->f, *o = stdout;
	struct sio s;

	if (f == o || o == NULL ||
	    !((f->_flags & (F_LINE_BUF | F_UNBUFFERED)) ||
	      (f->_IO_buf_base == NULL && in->e->kind == FD_POLLED && isatty(f->_fileno))))
		return;
	if ((o->_flags & (F_LINKED | F_NO_WRITES | F_LINE_BUF)) != (F_LINKED | F_LINE_BUF) ||
	    o->_IO_write_ptr <= o->_IO_write_base || !sio_begin(&s, o))
		return;
	sio_lock(&s);
	flush_pending(&s);
	sio_end(&s);
}

/*
 * f has nothing buffered (rd_empty): makes glibc's next underflow of f
 * unable to block. Pending output of f goes out first (glibc's switch to
 * reading would write it), and stdout as glibc would flush it; then we
 * wait until the fd is readable, unless glibc will not read (end of file
 * seen, not open for reading). 0, or -1 when the read fails as read(2)
 * would have (timeout: EAGAIN, a signal: EINTR, closed: EBADF) or that
 * flush failed: the error flag and errno are set, and the caller returns
 * what glibc returns when an underflow fails.
 */
static int rd_prepare(struct sio *s)
{
	FILE *f = s->f;
	int64_t deadline = GS_NO_DEADLINE;
	bool have_deadline = false;
	int saved = errno;

	if ((f->_flags & F_CURRENTLY_PUTTING) && f->_IO_write_ptr > f->_IO_write_base &&
	    flush_pending(s) == EOF)
		return -1;
	if (f->_flags & (F_EOF_SEEN | F_NO_READS))
		return 0;
	flush_stdout_for(s);
	for (;;) {
		struct pollfd p = { .fd = f->_fileno, .events = POLLIN };
		int r;

		if (PRELOAD_NO_TICK_EINTR(REAL(poll)(&p, 1, 0)) != 0)
			break; /* readable, or an error glibc's read will report */
		if (!have_deadline) {
			if (s->e->kind == FD_STREAM || s->e->kind == FD_DGRAM)
				deadline = preload_sock_deadline(s->e, EV_READ);
			have_deadline = true;
		}
		sio_mark(s);
		sio_park_begin(s);
		r = preload_wait_fd(s->h, f->_fileno, EV_READ, deadline, WAITER_EXCLUSIVE);
		sio_park_end(s);
		if (preload_wait_result(r, deadline != GS_NO_DEADLINE) < 0) {
			f->_flags |= F_ERR_SEEN;
			return -1;
		}
	}
	errno = saved;
	return 0;
}

/* One character as __uflow gives it, with at most one read that cannot
 * block. */
static int sio_uflow(struct sio *s)
{
	if (rd_empty(s->f) && rd_prepare(s) < 0)
		return EOF;
	return REAL(__uflow)(s->f);
}

/* ---- getc and friends: one underflow at most -------------------------- */

#define GETC_WRAPPER(name, args, fexpr, lock, call)                            \
	GS_WRAP int name args                                                  \
	{                                                                      \
		FILE *f_ = (fexpr);                                            \
		struct sio s;                                                  \
		int c;                                                         \
                                                                               \
		if (lock)                                                      \
			flock_guard(f_);                                       \
		if (GS_LIKELY(f_->_IO_read_ptr < f_->_IO_read_end) || !sio_begin(&s, f_)) \
			return call;                                           \
		if (rd_empty(f_) && rd_prepare(&s) < 0)                        \
			c = EOF;                                               \
		else                                                           \
			c = call;                                              \
		sio_end(&s);                                                   \
		return c;                                                      \
	}

GETC_WRAPPER(fgetc, (FILE * f), f, true, REAL(fgetc)(f))
GETC_WRAPPER(getc, (FILE * f), f, true, REAL(getc)(f))
GETC_WRAPPER(getchar, (void), stdin, true, REAL(getchar)())
GETC_WRAPPER(fgetc_unlocked, (FILE * f), f, false, REAL(fgetc_unlocked)(f))
GETC_WRAPPER(getc_unlocked, (FILE * f), f, false, REAL(getc_unlocked)(f))
GETC_WRAPPER(getchar_unlocked, (void), stdin, false, REAL(getchar_unlocked)())
/* What the getc_unlocked macro calls when the buffer is empty. */
GETC_WRAPPER(__uflow, (FILE * f), f, false, REAL(__uflow)(f))
GETC_WRAPPER(__underflow, (FILE * f), f, false, REAL(__underflow)(f))

/* ---- fgets: chunks, each one glibc call without a blocking read -------- */

/* _IO_getline (f, buf, n, '\n', 1) in chunks: what is buffered, at most
 * up to a newline, then one character by one underflow. The count read;
 * an underflow that fails stops it, with the flags glibc would set. */
static size_t getline_chunks(struct sio *s, char *buf, size_t n)
{
	FILE *f = s->f;
	size_t got = 0;

	while (got < n) {
		ptrdiff_t have = f->_IO_read_end - f->_IO_read_ptr;

		if (have > 0) {
			size_t k = n - got < (size_t)have ? n - got : (size_t)have;
			char *before = f->_IO_read_ptr;

			/* k + 1 <= INT_MAX: have is at most a buffer. */
			REAL(fgets_unlocked)(buf + got, (int)(k + 1), f);
			got += (size_t)(f->_IO_read_ptr - before);
		} else {
			int c = sio_uflow(s);

			if (c == EOF)
				break;
			buf[got++] = (char)c;
		}
		if (buf[got - 1] == '\n')
			break;
	}
	return got;
}

/* Is the answer already in the buffer: limit bytes, or a delim before
 * them? Then glibc's call reads nothing. */
static inline bool buffered_line(FILE *f, size_t limit, int delim)
{
	ptrdiff_t have = f->_IO_read_end - f->_IO_read_ptr;

	return have > 0 && ((size_t)have >= limit || memchr(f->_IO_read_ptr, delim, (size_t)have));
}

/* _IO_fgets, and __fgets_chk when chk (size: the buffer's). */
static char *fgets_impl(char *buf, int n, FILE *f, bool lock, bool chk, size_t size)
{
	struct sio s;
	size_t count, limit;
	int old_error;
	char *result;

	if (n <= 0)
		return NULL;
	if (lock)
		flock_guard(f);
	if (n == 1 && !chk) {
		buf[0] = '\0';
		return buf;
	}
	if (buffered_line(f, chk && size < (size_t)n - 1 ? size : (size_t)n - 1, '\n') ||
	    !sio_begin(&s, f)) {
		if (chk)
			return lock ? REAL(__fgets_chk)(buf, size, n, f)
				    : REAL(__fgets_unlocked_chk)(buf, size, n, f);
		return lock ? REAL(fgets)(buf, n, f) : REAL(fgets_unlocked)(buf, n, f);
	}
	if (lock)
		sio_lock(&s);
	limit = (size_t)n - 1;
	if (chk && size < limit)
		limit = size;
	/* glibc's: "We return an error only when there is a new error." */
	old_error = f->_flags & F_ERR_SEEN;
	f->_flags &= ~F_ERR_SEEN;
	if (f->_mode == 0)
		fwide(f, -1);
	count = getline_chunks(&s, buf, limit);
	if (count == 0 || ((f->_flags & F_ERR_SEEN) && errno != EAGAIN)) {
		result = NULL;
	} else {
		if (chk && count >= size)
			__chk_fail();
		buf[count] = '\0';
		result = buf;
	}
	f->_flags |= old_error;
	sio_end(&s);
	return result;
}

GS_WRAP char *fgets(char *buf, int n, FILE *f)
{
	return fgets_impl(buf, n, f, true, false, 0);
}

GS_WRAP char *fgets_unlocked(char *buf, int n, FILE *f)
{
	return fgets_impl(buf, n, f, false, false, 0);
}

GS_WRAP char *__fgets_chk(char *buf, size_t size, int n, FILE *f)
{
	return fgets_impl(buf, n, f, true, true, size);
}

GS_WRAP char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *f)
{
	return fgets_impl(buf, n, f, false, true, size);
}

/* ---- fread: chunks -------------------------------------------------- */

/* _IO_sgetn in chunks: what is buffered, else one byte by one underflow
 * (which fills the buffer). A large fread that glibc would read straight
 * into the caller's memory goes through the buffer instead: the same
 * bytes, more read(2) calls. */
static size_t sgetn_chunks(struct sio *s, char *p, size_t want)
{
	FILE *f = s->f;
	size_t got = 0;

	while (got < want) {
		ptrdiff_t have = f->_IO_read_end - f->_IO_read_ptr;
		size_t k = 1, r;

		if (have > 0)
			k = want - got < (size_t)have ? want - got : (size_t)have;
		else if (rd_empty(f) && rd_prepare(s) < 0)
			break;
		r = REAL(fread_unlocked)(p + got, 1, k, f);
		got += r;
		if (r < k)
			break; /* end of file or an error: flags set by glibc */
	}
	return got;
}

static size_t fread_impl(void *p, size_t size, size_t count, FILE *f, bool lock)
{
	size_t request = size * count, got;
	struct sio s;

	if (request == 0)
		return 0;
	if (lock)
		flock_guard(f);
	if ((f->_IO_read_ptr < f->_IO_read_end &&
	     (size_t)(f->_IO_read_end - f->_IO_read_ptr) >= request) ||
	    !sio_begin(&s, f))
		return lock ? REAL(fread)(p, size, count, f) : REAL(fread_unlocked)(p, size, count, f);
	if (lock)
		sio_lock(&s);
	got = sgetn_chunks(&s, p, request);
	sio_end(&s);
	return got == request ? count : got / size;
}

GS_WRAP size_t fread(void *p, size_t size, size_t count, FILE *f)
{
	return fread_impl(p, size, count, f, true);
}

GS_WRAP size_t fread_unlocked(void *p, size_t size, size_t count, FILE *f)
{
	return fread_impl(p, size, count, f, false);
}

/* __fread_chk's checks (debug/fread_chk.c), then fread. */
static void fread_check(size_t buflen, size_t size, size_t count)
{
	size_t request = size * count;

	if ((count | size) >= ((size_t)1 << (8 * sizeof(size_t) / 2)) && size != 0 &&
	    request / size != count)
		__chk_fail();
	if (request > buflen)
		__chk_fail();
}

GS_WRAP size_t __fread_chk(void *p, size_t buflen, size_t size, size_t count, FILE *f)
{
	fread_check(buflen, size, count);
	return fread_impl(p, size, count, f, true);
}

GS_WRAP size_t __fread_unlocked_chk(void *p, size_t buflen, size_t size, size_t count, FILE *f)
{
	fread_check(buflen, size, count);
	return fread_impl(p, size, count, f, false);
}

/* ---- getdelim: glibc's (libio/iogetdelim.c) over sio_underflow -------- */

static int sio_underflow(struct sio *s)
{
	if (rd_empty(s->f) && rd_prepare(s) < 0)
		return EOF;
	return REAL(__underflow)(s->f);
}

GS_WRAP ssize_t getdelim(char **lineptr, size_t *n, int delim, FILE *f)
{
	struct sio s;
	ssize_t result, cur_len = 0, len;

	if (lineptr == NULL || n == NULL) {
		errno = EINVAL;
		return -1;
	}
	flock_guard(f);
	if ((buffered_line(f, SIZE_MAX, delim) && !(f->_flags & F_ERR_SEEN)) || !sio_begin(&s, f))
		return REAL(getdelim)(lineptr, n, delim, f);
	sio_lock(&s);
	if (f->_flags & F_ERR_SEEN) {
		result = -1;
		goto out;
	}
	if (*lineptr == NULL || *n == 0) {
		*n = 120;
		*lineptr = malloc(*n);
		if (*lineptr == NULL) {
			result = -1;
			goto out;
		}
	}
	len = f->_IO_read_end - f->_IO_read_ptr;
	if (len <= 0) {
		if (sio_underflow(&s) == EOF) {
			result = -1;
			goto out;
		}
		len = f->_IO_read_end - f->_IO_read_ptr;
	}
	for (;;) {
		size_t needed;
		char *t = memchr(f->_IO_read_ptr, delim, (size_t)len);

		if (t != NULL)
			len = (t - f->_IO_read_ptr) + 1;
		if (len >= SSIZE_MAX - cur_len) {
			errno = EOVERFLOW;
			result = -1;
			goto out;
		}
		needed = (size_t)(cur_len + len + 1);
		if (needed > *n) {
			char *grown;

			if (needed < 2 * *n)
				needed = 2 * *n;
			grown = realloc(*lineptr, needed);
			if (grown == NULL) {
				result = -1;
				goto out;
			}
			*lineptr = grown;
			*n = needed;
		}
		memcpy(*lineptr + cur_len, f->_IO_read_ptr, (size_t)len);
		f->_IO_read_ptr += len;
		cur_len += len;
		if (t != NULL || sio_underflow(&s) == EOF)
			break;
		len = f->_IO_read_end - f->_IO_read_ptr;
	}
	(*lineptr)[cur_len] = '\0';
	result = cur_len;
out:
	sio_end(&s);
	return result;
}

GS_WRAP ssize_t __getdelim(char **lineptr, size_t *n, int delim, FILE *f)
	__attribute__((alias("getdelim")));

GS_WRAP ssize_t getline(char **lineptr, size_t *n, FILE *f)
{
	return getdelim(lineptr, n, '\n', f);
}

/* ---- scanf: through a private stream that reads one byte at a time ---- */

static ssize_t scan_read(void *cookie, char *buf, size_t size)
{
	struct sio *s = cookie;
	FILE *f = s->f;
	int c;

	if (size == 0)
		return 0;
	if (f->_IO_read_ptr < f->_IO_read_end) {
		c = *(unsigned char *)f->_IO_read_ptr++;
	} else {
		c = sio_uflow(s);
		if (c == EOF)
			return (f->_flags & F_EOF_SEEN) ? 0 : -1;
	}
	buf[0] = (char)c;
	return 1;
}

static int vfscanf_impl(FILE *f, const char *fmt, va_list ap, bool iso)
{
	cookie_io_functions_t io = { .read = scan_read };
	char one, left[8];
	int n, nleft = 0;
	struct sio s;
	FILE *c;

	flock_guard(f);
	if (!sio_begin(&s, f))
		return iso ? REAL(__isoc99_vfscanf)(f, fmt, ap) : REAL(vfscanf)(f, fmt, ap);
	sio_lock(&s);
	c = fopencookie(&s, "r", io);
	if (c == NULL) {
		sio_end(&s);
		return EOF;
	}
	/* Fully buffered with one byte: no read-ahead, and (unlike
	 * unbuffered) no flush of stdout at each read. */
	setvbuf(c, &one, _IOFBF, 1);
	n = iso ? REAL(__isoc99_vfscanf)(c, fmt, ap) : REAL(vfscanf)(c, fmt, ap);
	/* What scanf read and pushed back goes back into f, where it came
	 * from (and where glibc's own ungetc would have put it). */
	while (nleft < (int)sizeof left && !rd_empty(c))
		left[nleft++] = (char)getc_unlocked(c);
	while (nleft > 0)
		ungetc((unsigned char)left[--nleft], f);
	fclose(c);
	sio_end(&s);
	return n;
}

/* <stdio.h> renames scanf to __isoc99_scanf in C99 and later: the plain
 * (GNU %a) symbols are defined by their assembler names. */
#define SCANF_WRAPPERS(pre, sym, iso)                                               \
	int pre##vfscanf(FILE *f, const char *fmt, va_list ap)                 \
		__asm__(#sym "vfscanf");                                       \
	int pre##vscanf(const char *fmt, va_list ap) __asm__(#sym "vscanf");   \
	int pre##fscanf(FILE *f, const char *fmt, ...) __asm__(#sym "fscanf"); \
	int pre##scanf(const char *fmt, ...) __asm__(#sym "scanf");            \
	GS_WRAP int pre##vfscanf(FILE *f, const char *fmt, va_list ap)         \
	{                                                                      \
		return vfscanf_impl(f, fmt, ap, iso);                          \
	}                                                                      \
	GS_WRAP int pre##vscanf(const char *fmt, va_list ap)                   \
	{                                                                      \
		return vfscanf_impl(stdin, fmt, ap, iso);                      \
	}                                                                      \
	GS_WRAP int pre##fscanf(FILE *f, const char *fmt, ...)                 \
	{                                                                      \
		va_list ap;                                                    \
		int n;                                                         \
                                                                               \
		va_start(ap, fmt);                                             \
		n = vfscanf_impl(f, fmt, ap, iso);                             \
		va_end(ap);                                                    \
		return n;                                                      \
	}                                                                      \
	GS_WRAP int pre##scanf(const char *fmt, ...)                           \
	{                                                                      \
		va_list ap;                                                    \
		int n;                                                         \
                                                                               \
		va_start(ap, fmt);                                             \
		n = vfscanf_impl(stdin, fmt, ap, iso);                         \
		va_end(ap);                                                    \
		return n;                                                      \
	}

SCANF_WRAPPERS(gs_plain_, , false)
SCANF_WRAPPERS(__isoc99_, __isoc99_, true)

/* ---- putc and friends ------------------------------------------------- */

#define PUTC_WRAPPER(name, args, fexpr, lock, call)                            \
	GS_WRAP int name args                                                  \
	{                                                                      \
		FILE *f_ = (fexpr);                                            \
		struct sio s;                                                  \
		int r;                                                         \
                                                                               \
		if (lock)                                                      \
			flock_guard(f_);                                       \
		if (GS_LIKELY(f_->_IO_write_ptr < f_->_IO_write_end) || !sio_begin(&s, f_)) \
			return call;                                           \
		if (lock)                                                      \
			sio_lock(&s);                                          \
		if (f_->_mode == 0)                                            \
			fwide(f_, -1);                                         \
		if (f_->_IO_write_ptr < f_->_IO_write_end) {                   \
			*f_->_IO_write_ptr++ = (char)ch;                       \
			r = (unsigned char)ch;                                 \
		} else {                                                       \
			r = overflow_ch(&s, (unsigned char)ch);                \
		}                                                              \
		sio_end(&s);                                                   \
		return r;                                                      \
	}

PUTC_WRAPPER(fputc, (int ch, FILE *f), f, true, REAL(fputc)(ch, f))
PUTC_WRAPPER(putc, (int ch, FILE *f), f, true, REAL(putc)(ch, f))
PUTC_WRAPPER(putchar, (int ch), stdout, true, REAL(putchar)(ch))
PUTC_WRAPPER(fputc_unlocked, (int ch, FILE *f), f, false, REAL(fputc_unlocked)(ch, f))
PUTC_WRAPPER(putc_unlocked, (int ch, FILE *f), f, false, REAL(putc_unlocked)(ch, f))
PUTC_WRAPPER(putchar_unlocked, (int ch), stdout, false, REAL(putchar_unlocked)(ch))
/* What the putc_unlocked macro calls when the buffer is full. EOF is a
 * flush request (glibc's __overflow takes it too). */
GS_WRAP int __overflow(FILE *f, int ch)
{
	struct sio s;
	int r;

	if (!sio_begin(&s, f))
		return REAL(__overflow)(f, ch);
	if (f->_mode == 0)
		fwide(f, -1);
	r = ch == EOF ? flush_pending(&s) : overflow_ch(&s, (unsigned char)ch);
	sio_end(&s);
	return r;
}

/* ---- fwrite, fputs, puts ---------------------------------------------- */

static size_t fwrite_impl(const void *p, size_t size, size_t count, FILE *f, bool lock)
{
	size_t request = size * count, written;
	struct sio s;

	if (request == 0)
		return 0;
	if (lock)
		flock_guard(f);
	if (fits(f, request) || !sio_begin(&s, f))
		return lock ? REAL(fwrite)(p, size, count, f) : REAL(fwrite_unlocked)(p, size, count, f);
	if (lock)
		sio_lock(&s);
	if (f->_mode == 0)
		fwide(f, -1);
	written = put(&s, p, request);
	sio_end(&s);
	if (written == request || written == (size_t)EOF)
		return count;
	return written / size;
}

GS_WRAP size_t fwrite(const void *p, size_t size, size_t count, FILE *f)
{
	return fwrite_impl(p, size, count, f, true);
}

GS_WRAP size_t fwrite_unlocked(const void *p, size_t size, size_t count, FILE *f)
{
	return fwrite_impl(p, size, count, f, false);
}

static int fputs_impl(const char *str, FILE *f, bool lock)
{
	size_t len = strlen(str);
	struct sio s;
	int result;

	if (lock)
		flock_guard(f);
	if (fits(f, len) || !sio_begin(&s, f))
		return lock ? REAL(fputs)(str, f) : REAL(fputs_unlocked)(str, f);
	if (lock)
		sio_lock(&s);
	if (f->_mode == 0)
		fwide(f, -1);
	result = put(&s, str, len) == len ? 1 : EOF;
	sio_end(&s);
	return result;
}

GS_WRAP int fputs(const char *str, FILE *f)
{
	return fputs_impl(str, f, true);
}

GS_WRAP int fputs_unlocked(const char *str, FILE *f)
{
	return fputs_impl(str, f, false);
}

GS_WRAP int puts(const char *str)
{
	size_t len = strlen(str);
	FILE *f = stdout;
	struct sio s;
	int result = EOF;

	flock_guard(f);
	if (fits(f, len + 1) || !sio_begin(&s, f))
		return REAL(puts)(str);
	sio_lock(&s);
	if (f->_mode == 0)
		fwide(f, -1);
	if (put(&s, str, len) == len) {
		int r;

		if (f->_IO_write_ptr < f->_IO_write_end) {
			*f->_IO_write_ptr++ = '\n';
			r = '\n';
		} else {
			r = overflow_ch(&s, '\n');
		}
		if (r != EOF)
			result = len + 1 > INT_MAX ? INT_MAX : (int)(len + 1);
	}
	sio_end(&s);
	return result;
}

/* ---- fflush, fclose --------------------------------------------------- */

/* _IO_new_file_sync: the pending output through our writes, the rest
 * (a read position to give back: lseek) glibc's. */
static int fflush_impl(FILE *f, bool lock)
{
	struct sio s;
	int r = 0;

	if (lock)
		flock_guard(f);
	if (f == NULL || f->_IO_write_ptr <= f->_IO_write_base || !sio_begin(&s, f))
		return lock ? REAL(fflush)(f) : REAL(fflush_unlocked)(f);
	if (lock)
		sio_lock(&s);
	if (f->_IO_write_ptr > f->_IO_write_base && do_write_all(&s, f->_IO_write_base,
			(size_t)(f->_IO_write_ptr - f->_IO_write_base)) == EOF)
		r = EOF;
	else
		r = REAL(fflush_unlocked)(f);
	sio_end(&s);
	return r;
}

GS_WRAP int fflush(FILE *f)
{
	return fflush_impl(f, true);
}

GS_WRAP int fflush_unlocked(FILE *f)
{
	return fflush_impl(f, false);
}

/* fclose writes what is pending (through us), and closes the fd with
 * glibc's internal close: the fd table must forget the number first, as
 * close() does (waiters get EBADF; a reused number is classified anew). */
GS_WRAP int fclose(FILE *f)
{
	int fd = f->_fileno, r, err = 0;
	struct sio s;

	/* Natively fclose waits for the FILE lock that a thread waiting
	 * in fgets holds; here, for that thread's call to end. */
	guard(f);
	if (fd >= 0 && f->_IO_write_ptr > f->_IO_write_base && sio_begin(&s, f)) {
		sio_lock(&s);
		if (f->_IO_write_ptr > f->_IO_write_base && do_write_all(&s, f->_IO_write_base,
				(size_t)(f->_IO_write_ptr - f->_IO_write_base)) == EOF)
			err = errno;
		sio_end(&s);
	}
	if (fd >= 0)
		fdtab_forget(fd);
	r = REAL(fclose)(f);
	if (err != 0) {
		/* glibc: the flush's error stands even though the close
		 * went through. */
		if (r == 0)
			errno = err;
		r = EOF;
	}
	return r;
}

/* ---- printf: format into memory, then write it as fwrite would -------- */

/* The flag of the plain (not _FORTIFY_SOURCE) forms; the checked forms
 * take 0 or 1 (glibc's callers pass __USE_FORTIFY_LEVEL - 1). */
#define PLAIN INT_MIN

struct fmt_out {
	char *p;
	size_t len;
	char *heap;
	char stack[1024];
};

/* vfprintf's output in memory, and its result: what it produced before
 * an error is kept, as it would be in the FILE. flag: PLAIN for
 * vfprintf, else __vfprintf_chk's. */
static int format(struct fmt_out *o, int flag, const char *fmt, va_list ap)
{
	va_list ap2;
	FILE *m;
	int n, err;

	va_copy(ap2, ap);
	n = flag == PLAIN ? vsnprintf(o->stack, sizeof o->stack, fmt, ap2)
		     : __vsnprintf_chk(o->stack, sizeof o->stack, flag, sizeof o->stack, fmt, ap2);
	va_end(ap2);
	o->heap = NULL;
	o->p = NULL;
	o->len = 0;
	if (n >= 0 && (size_t)n < sizeof o->stack) {
		o->p = o->stack;
		o->len = (size_t)n;
		return n;
	}
	m = open_memstream(&o->heap, &o->len);
	if (m == NULL)
		return -1;
	n = flag == PLAIN ? REAL(vfprintf)(m, fmt, ap) : REAL(__vfprintf_chk)(m, flag, fmt, ap);
	err = errno;
	REAL(fclose)(m);
	errno = err;
	o->p = o->heap;
	return n;
}

static int vfprintf_impl(FILE *f, int flag, const char *fmt, va_list ap)
{
	struct fmt_out o;
	struct sio s;
	int n, err;

	flock_guard(f);
	if ((f->_flags & F_NO_WRITES) || !sio_begin(&s, f))
		return flag == PLAIN ? REAL(vfprintf)(f, fmt, ap) : REAL(__vfprintf_chk)(f, flag, fmt, ap);
	n = format(&o, flag, fmt, ap);
	err = errno;
	sio_lock(&s);
	if (f->_mode == 0)
		fwide(f, -1);
	if (o.len > 0 && o.p != NULL && put(&s, o.p, o.len) != o.len)
		n = -1;
	else if (n < 0)
		errno = err;
	sio_end(&s);
	free(o.heap); /* open_memstream used the program's malloc */
	return n;
}

GS_WRAP int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	return vfprintf_impl(f, PLAIN, fmt, ap);
}

GS_WRAP int vprintf(const char *fmt, va_list ap)
{
	return vfprintf_impl(stdout, PLAIN, fmt, ap);
}

GS_WRAP int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	return vfprintf_impl(f, flag, fmt, ap);
}

GS_WRAP int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	return vfprintf_impl(stdout, flag, fmt, ap);
}

#define PRINTF_WRAPPER(name, params, f, flag)                                  \
	GS_WRAP int name params                                                \
	{                                                                      \
		va_list ap;                                                    \
		int n;                                                         \
                                                                               \
		va_start(ap, fmt);                                             \
		n = vfprintf_impl(f, flag, fmt, ap);                           \
		va_end(ap);                                                    \
		return n;                                                      \
	}

PRINTF_WRAPPER(printf, (const char *fmt, ...), stdout, PLAIN)
PRINTF_WRAPPER(fprintf, (FILE * f, const char *fmt, ...), f, PLAIN)
PRINTF_WRAPPER(__printf_chk, (int flag, const char *fmt, ...), stdout, flag)
PRINTF_WRAPPER(__fprintf_chk, (FILE * f, int flag, const char *fmt, ...), f, flag)

/* dprintf has no FILE the program sees: glibc formats into a FILE of its
 * own on the stack and writes it with __write. Ours formats, then writes
 * through io.c. */
static int vdprintf_impl(int fd, int flag, const char *fmt, va_list ap)
{
	struct fdent *e = fdtab_get(fd);
	struct fmt_out o;
	struct hub *h;
	size_t done = 0;
	int n;

	if (!fd_waits(e) || (h = preload_hub()) == NULL)
		return flag == PLAIN ? REAL(vdprintf)(fd, fmt, ap) : REAL(__vdprintf_chk)(fd, flag, fmt, ap);
	n = format(&o, flag, fmt, ap);
	while (n >= 0 && done < o.len) {
		int saved = errno;
		struct iovec iov = { o.p + done, o.len - done };
		ssize_t r = preload_xfer(h, fd, e, EV_WRITE, &iov, 1, NULL);

		if (r < 0) {
			n = -1;
			break;
		}
		errno = saved;
		done += (size_t)r;
	}
	free(o.heap); /* open_memstream used the program's malloc */
	return n;
}

GS_WRAP int vdprintf(int fd, const char *fmt, va_list ap)
{
	return vdprintf_impl(fd, PLAIN, fmt, ap);
}

GS_WRAP int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	return vdprintf_impl(fd, flag, fmt, ap);
}

GS_WRAP int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vdprintf_impl(fd, PLAIN, fmt, ap);
	va_end(ap);
	return n;
}

GS_WRAP int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vdprintf_impl(fd, flag, fmt, ap);
	va_end(ap);
	return n;
}

/* The libio names that programs built with glibc before 2.28 call
 * (<stdio.h>'s getc and putc macros, and the _IO_ forms). */
#define LIBIO_ALIAS(name) __attribute__((alias(#name), copy(name), visibility("default")))

int _IO_getc(FILE *f) LIBIO_ALIAS(getc);
int _IO_putc(int ch, FILE *f) LIBIO_ALIAS(putc);
int _IO_puts(const char *str) LIBIO_ALIAS(puts);
char *_IO_fgets(char *buf, int n, FILE *f) LIBIO_ALIAS(fgets);
size_t _IO_fread(void *p, size_t size, size_t count, FILE *f) LIBIO_ALIAS(fread);
size_t _IO_fwrite(const void *p, size_t size, size_t count, FILE *f) LIBIO_ALIAS(fwrite);
int _IO_fflush(FILE *f) LIBIO_ALIAS(fflush);
