/*
 * The blocking monitor: a report when one green thread runs so long without
 * waiting or yielding that the others of its OS thread cannot run
 * (GREENSHIM_MAX_BLOCKING_MS, 100 ms by default, as gevent's
 * max_blocking_time).
 *
 * What it owns: one OS thread of the runtime's ("gs-monitor", osthread.c),
 * started when the process first has two green threads on one hub (a
 * program with one thread cannot starve anyone, and gets no extra thread),
 * and started again in a fork child when it gets its second one.
 *
 * How it sees a blocked hub without costing the hub anything: every
 * max_blocking/2 it reads each hub's switch count and current context
 * (relaxed loads). A hub whose count has not moved while a green thread
 * (not the hub's own loop context) runs has been running that thread at
 * least since the monitor first saw that count (exactly since h->run_start
 * when a tool turned stats on). Once that reaches the limit it asks the
 * hub's OS thread for a backtrace (introspect_sample: a signal, unwound in
 * the handler, on the thread itself) and writes one report, in one write,
 * to stderr or GREENSHIM_LOG; again at most once a second while that same
 * run lasts.
 *
 * A thread that sits in the kernel in a call greenshim could not make
 * green (a raw system call with GREENSHIM_SYSCALLS=off, a libc call no
 * wrapper takes, such as tcdrain's ioctl, a regular file's read on a slow
 * disk) blocks its hub the same way, but the preemption tick interrupts the
 * call (the kernel restarts it, or the caller does after EINTR), switches
 * away, and comes back to it: the switch count moves. So the monitor also
 * reads each hub's /proc/self/task/TID/syscall, which names the call the
 * OS thread is in, if any: a green thread found in the same call at every
 * sample for max_blocking is reported, the call named, with its stack.
 *
 * A thread alone on its hub is not reported: no other green thread of the
 * program is there to be kept waiting (with several hubs, a thread that
 * computes has one to itself as often as not). Nor is the time its OS
 * thread spent runnable but waiting for a CPU that others had (the
 * second figure of /proc/self/task/TID/schedstat): a run is reported once
 * it lasted max_blocking without that wait. Four busy loops on two CPUs
 * beside Varnish under load drew reports of threads that had run a few
 * ms of their own in 100 ms. Nor is one whose OS thread was kept off the
 * CPU without being runnable: outside any system call, yet with less
 * than a quarter of the time in CPU time: a tracer stopped it (a hub's OS
 * thread that one stopped for 0.8 s drew a report).
 *
 * Cost: one wake-up of this thread every max_blocking/2 (50 ms by
 * default), a few loads and one or two reads of /proc per hub; the hubs
 * pay nothing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hub_impl.h"
#include "tools.h"
#include "sys.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>

#define REPEAT_NS 1000000000LL /* at most one report a second per run */
#define SAMPLE_TIMEOUT_MS 500

static atomic_bool enabled;
static atomic_int started; /* 0 no, 1 starting or running */
static atomic_ulong reports;

void monitor_enable(void)
{
	atomic_store(&enabled, true);
}

bool monitor_running(void)
{
	return atomic_load(&started) != 0;
}

unsigned long monitor_reports(void)
{
	return atomic_load(&reports);
}

/* The calls a thread may sit in, by name; others by number. */
static const char *syscall_name(long nr, char *buf, size_t len)
{
	static const struct {
		long nr;
		const char *name;
	} names[] = {
		{ SYS_read, "read" },         { SYS_write, "write" },
		{ SYS_readv, "readv" },       { SYS_writev, "writev" },
		{ SYS_pread64, "pread64" },   { SYS_pwrite64, "pwrite64" },
		{ SYS_poll, "poll" },         { SYS_ppoll, "ppoll" },
		{ SYS_select, "select" },     { SYS_pselect6, "pselect6" },
		{ SYS_epoll_wait, "epoll_wait" }, { SYS_epoll_pwait, "epoll_pwait" },
		{ SYS_futex, "futex" },       { SYS_nanosleep, "nanosleep" },
		{ SYS_clock_nanosleep, "clock_nanosleep" },
		{ SYS_accept, "accept" },     { SYS_accept4, "accept4" },
		{ SYS_connect, "connect" },   { SYS_recvfrom, "recvfrom" },
		{ SYS_recvmsg, "recvmsg" },   { SYS_sendto, "sendto" },
		{ SYS_sendmsg, "sendmsg" },   { SYS_wait4, "wait4" },
		{ SYS_waitid, "waitid" },     { SYS_flock, "flock" },
		{ SYS_fcntl, "fcntl" },       { SYS_fsync, "fsync" },
		{ SYS_fdatasync, "fdatasync" }, { SYS_msgrcv, "msgrcv" },
		{ SYS_msgsnd, "msgsnd" },     { SYS_semop, "semop" },
		{ SYS_semtimedop, "semtimedop" }, { SYS_mq_timedreceive, "mq_timedreceive" },
		{ SYS_mq_timedsend, "mq_timedsend" }, { SYS_io_uring_enter, "io_uring_enter" },
		{ SYS_io_getevents, "io_getevents" }, { SYS_pause, "pause" },
		{ SYS_rt_sigsuspend, "rt_sigsuspend" }, { SYS_rt_sigtimedwait, "rt_sigtimedwait" },
		{ SYS_openat, "openat" },     { SYS_open, "open" },
		{ SYS_sendfile, "sendfile" }, { SYS_splice, "splice" },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].nr == nr)
			return names[i].name;
	snprintf(buf, len, "system call %ld", nr);
	return buf;
}

/* Whether the monitor watches this process's hubs (GREENSHIM_MAX_BLOCKING_MS
 * on, green threads). */
static bool monitor_wanted(void)
{
	if (!atomic_load_explicit(&enabled, memory_order_relaxed))
		return false;
	config_load();
	return gs_config.max_blocking_ns != 0 && !gs_config.native_threads;
}

/* h's OS thread's files in /proc/self/task/TID/, opened once, moved out of
 * the program's way, and read again at offset 0 at each sample. Opened as
 * the hub is threaded (hub_make_kept_fds), never at a sample: an open
 * takes the lowest free number for a moment, which a program running on
 * another hub may have just closed or be about to take. */
void monitor_open_files(struct hub *h)
{
	static const char *const names[MON_FILES] = { "syscall", "schedstat" };
	char path[64];
	int fds[MON_FILES];

	if (!monitor_wanted())
		return;
	for (int i = 0; i < MON_FILES; i++) {
		fds[i] = h->mon_fd[i];
		if (fds[i] > 0)
			continue; /* open already (a hub threaded again) */
		snprintf(path, sizeof path, "/proc/self/task/%d/%s", h->tid, names[i]);
		hub_own_lock();
		fds[i] = hub_own_place((int)arch_syscall3(SYS_open, (long)path, O_RDONLY | O_CLOEXEC,
							  0),
				       OWN_MONITOR, h);
		hub_own_unlock();
	}
	/* Only those opened here: an open one may have moved meanwhile
	 * (monitor_move_fd, under the same lock). */
	introspect_hubs_lock();
	for (int i = 0; i < MON_FILES; i++)
		if (h->mon_fd[i] <= 0 && fds[i] > 0)
			h->mon_fd[i] = fds[i];
	introspect_hubs_unlock();
}

/* h's OS thread's file (MON_FILE_*) read into buf, NUL-terminated: its
 * length, or -1 (not open: the reader falls back). */
static long read_thread_file(struct hub *h, int file, char *buf, size_t len)
{
	long n;

	if (h->mon_fd[file] <= 0)
		return -1;
	n = arch_syscall6(SYS_pread64, h->mon_fd[file], (long)buf, (long)len - 1, 0, 0, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The system call h's OS thread is in now, or -1: running, runnable, or
 * not in one (the kernel's syscall file). */
static long thread_syscall(struct hub *h)
{
	char buf[128];
	long nr;
	char *end;

	if (read_thread_file(h, MON_FILE_SYSCALL, buf, sizeof buf) < 0 || buf[0] < '0' ||
	    buf[0] > '9')
		return -1;
	nr = strtol(buf, &end, 10);
	return end != buf && *end == ' ' ? nr : -1;
}

/* h's OS thread's times now: the kernel's schedstat (time on a CPU, time
 * runnable waiting for one, slices); without it, the thread CPU clock and
 * no wait known. */
static struct mon_times thread_times(struct hub *h)
{
	struct mon_times t = { -1, -1 };
	char buf[128], *end, *p;

	if (read_thread_file(h, MON_FILE_SCHEDSTAT, buf, sizeof buf) > 0) {
		t.on_cpu = strtoll(buf, &end, 10);
		p = end;
		if (end != buf && *p == ' ') {
			t.waiting = strtoll(p + 1, &end, 10);
			if (end != p + 1 && t.on_cpu >= 0 && t.waiting >= 0)
				return t;
		}
	}
	t.on_cpu = introspect_hub_cpu_ns(h);
	t.waiting = -1;
	return t;
}

/* Of the time since `then` was read, how long h's OS thread waited for a
 * CPU (another thread had it), if known; else 0. */
static int64_t waited_since(const struct mon_times *then, const struct mon_times *now)
{
	return then->waiting >= 0 && now->waiting >= then->waiting ? now->waiting - then->waiting
								      : 0;
}

/* mon_fd changes under the hubs' lock only, which read_thread_file runs
 * under (check_hub): a move (monitor_move_fd) and the last read of it
 * here never race with a read. */
void monitor_forget_hub(struct hub *h)
{
	int fds[MON_FILES];

	introspect_hubs_lock();
	for (int i = 0; i < MON_FILES; i++) {
		fds[i] = h->mon_fd[i];
		h->mon_fd[i] = 0;
	}
	introspect_hubs_unlock();
	for (int i = 0; i < MON_FILES; i++)
		if (fds[i] > 0) {
			hub_forget_own_fd(fds[i]);
			arch_syscall3(SYS_close, fds[i], 0, 0);
		}
}

int monitor_move_fd(struct hub *h, int fd)
{
	int to = 0;

	introspect_hubs_lock();
	for (int i = 0; i < MON_FILES; i++)
		if (h->mon_fd[i] == fd) {
			hub_own_lock();
			to = hub_own_dup(fd);
			hub_own_unlock();
			if (to >= 0)
				h->mon_fd[i] = to;
			break;
		}
	introspect_hubs_unlock();
	return to;
}

static void report(struct hub *h, int64_t ran, bool exact)
{
	static struct sample_result s; /* only this thread reports */
	static char buf[16384];
	size_t n = 0, cap = sizeof buf;
	int r = introspect_sample(h, &s, SAMPLE_TIMEOUT_MS);
	long limit_ms = (long)(gs_config.max_blocking_ns / 1000000);
	unsigned long nrunning = __atomic_load_n(&h->nrunning, __ATOMIC_RELAXED);
	unsigned long others = nrunning > 0 ? nrunning - 1 : 0;

	if (r == 0 && (s.hub || s.switches != h->mon_switches))
		return; /* it moved on meanwhile: nothing to report */
	if (r == 0)
		n = (size_t)snprintf(buf, cap,
				     "greenshim: thread %llu%s%s%s has kept OS thread %d for %s%.3f s "
				     "without switching (GREENSHIM_MAX_BLOCKING_MS=%ld); the other %lu "
				     "green thread%s there cannot run meanwhile. Its stack:\n",
				     (unsigned long long)s.id, s.name[0] ? " \"" : "", s.name,
				     s.name[0] ? "\"" : "", h->tid, exact ? "" : "at least ",
				     (double)ran / 1e9, limit_ms, others, others == 1 ? "" : "s");
	else
		n = (size_t)snprintf(buf, cap,
				     "greenshim: a green thread has kept OS thread %d for %s%.3f s "
				     "without switching (GREENSHIM_MAX_BLOCKING_MS=%ld); no stack: %s\n",
				     h->tid, exact ? "" : "at least ", (double)ran / 1e9, limit_ms,
				     r == -EAGAIN ? "the program uses the signal it needs"
						  : "the thread did not answer the signal");
	if (n >= cap)
		n = cap - 1;
	if (r == 0)
		n += introspect_format_frames(s.frames, s.nframes, buf + n, cap - n);
	atomic_fetch_add(&reports, 1);
	introspect_log(buf, n);
}

/* cur has been in system call nr at every sample for at least ran. */
static void report_kernel(struct hub *h, struct green *cur, long nr, int64_t ran)
{
	static struct sample_result s; /* only this thread reports */
	static char buf[16384];
	char num[32];
	size_t n = 0, cap = sizeof buf;
	int r = introspect_sample(h, &s, SAMPLE_TIMEOUT_MS);
	long limit_ms = (long)(gs_config.max_blocking_ns / 1000000);

	if (r != 0 || s.hub || s.id != __atomic_load_n(&cur->id, __ATOMIC_RELAXED))
		return; /* another thread runs now: no stack of this one */
	n = (size_t)snprintf(buf, cap,
			     "greenshim: thread %llu%s%s%s has kept OS thread %d in the kernel, in "
			     "%s, for at least %.3f s (GREENSHIM_MAX_BLOCKING_MS=%ld): a call "
			     "greenshim did not make green, so the other green threads there run "
			     "only when a preemption tick interrupts it. Its stack:\n",
			     (unsigned long long)s.id, s.name[0] ? " \"" : "", s.name,
			     s.name[0] ? "\"" : "", h->tid, syscall_name(nr, num, sizeof num),
			     (double)ran / 1e9, limit_ms);
	if (n >= cap)
		n = cap - 1;
	n += introspect_format_frames(s.frames, s.nframes, buf + n, cap - n);
	atomic_fetch_add(&reports, 1);
	introspect_log(buf, n);
}

/* A green thread found in the same system call at every sample: one
 * sample that finds the OS thread elsewhere (in the tick's handler, or the
 * hub polling its loop before it runs the thread again) does not end the
 * run; two in a row, or another call or thread, do. */
static void check_kernel(struct hub *h, struct green *cur, uint64_t sw, int64_t now)
{
	/* A real thread alone on its hub (a native library's) keeps no one
	 * from running. */
	long nr = cur != h->hub_green && __atomic_load_n(&h->ngreen, __ATOMIC_RELAXED) > 1
			  ? thread_syscall(h)
			  : -1;

	/* cur was read before the call, which may be of another moment: cur
	 * parked meanwhile and the call is the hub's own poll. A worker of
	 * memcached between requests was reported "in the kernel, in system
	 * call 441" (the hub's epoll_pwait2) in 1 run of some 10 on an idle
	 * machine (2026-12-07). Seen only with the same thread running
	 * after the read, no switch between, and the hub not in its loop. */
	if (nr >= 0 && (atomic_load(&h->in_loop) ||
			__atomic_load_n(&h->switches, __ATOMIC_RELAXED) != sw ||
			__atomic_load_n(&h->current, __ATOMIC_RELAXED) != cur))
		nr = -1;

	if (nr < 0 && h->mon_sys >= 0 && h->mon_sys_missed++ == 0)
		return;
	if (nr < 0 || nr != h->mon_sys || cur != h->mon_sys_green) {
		h->mon_sys = nr;
		h->mon_sys_green = cur;
		h->mon_sys_seen = now;
		h->mon_sys_reported = 0;
		h->mon_sys_missed = 0;
		return;
	}
	h->mon_sys_missed = 0;
	if (now - h->mon_sys_seen < gs_config.max_blocking_ns ||
	    (h->mon_sys_reported != 0 && now - h->mon_sys_reported < REPEAT_NS))
		return;
	h->mon_sys_reported = now;
	report_kernel(h, cur, nr, now - h->mon_sys_seen);
}

/* h's OS thread, outside any system call, used less than a quarter of
 * `over` in CPU time since mon_times was read: something kept it off
 * the CPU without it being runnable (a tracer stopped it). */
static bool kept_off_cpu(struct hub *h, const struct mon_times *now, int64_t over)
{
	return h->mon_times.on_cpu >= 0 && now->on_cpu >= 0 &&
	       now->on_cpu - h->mon_times.on_cpu < over / 4 && thread_syscall(h) < 0;
}

static void check_hub(struct hub *h, void *arg)
{
	int64_t now = *(int64_t *)arg;
	uint64_t sw = __atomic_load_n(&h->switches, __ATOMIC_RELAXED);
	struct green *cur = __atomic_load_n(&h->current, __ATOMIC_RELAXED);
	struct mon_times times;
	int64_t start, ran;
	bool exact = true;

	/* Switching all the while, yet in the kernel at every sample:
	 * the ticks keep interrupting one call. Without switches, the
	 * report below says it. */
	if (sw != h->mon_switches)
		check_kernel(h, cur, sw, now);
	/* A thread alone on its hub (the program's others on other hubs, or
	 * none) keeps no one from running, as a native thread that computes
	 * does not: with a hub per CPU that is a thread of its own, and a
	 * report would only add lines to the program's stderr. */
	if (sw != h->mon_switches || cur == h->hub_green || h->mon_seen == 0 ||
	    __atomic_load_n(&h->nrunning, __ATOMIC_RELAXED) <= 1) {
		h->mon_switches = sw;
		h->mon_seen = now;
		h->mon_reported = 0;
		h->mon_times = cur != h->hub_green ? thread_times(h) : (struct mon_times){ -1, -1 };
		return;
	}
	start = atomic_load_explicit(&h->run_start, memory_order_relaxed);
	if (start == 0 || start > h->mon_seen) {
		start = h->mon_seen; /* stats off: the first time this run was seen */
		exact = false;
	}
	ran = now - start;
	if (ran < gs_config.max_blocking_ns)
		return;
	if (h->mon_reported != 0 && now - h->mon_reported < REPEAT_NS)
		return;
	/* What the machine took is not the thread's: the time its OS
	 * thread waited for a CPU that other threads or processes had (4
	 * busy loops on 2 CPUs beside Varnish under ab drew reports). */
	times = thread_times(h);
	if (ran - waited_since(&h->mon_times, &times) < gs_config.max_blocking_ns ||
	    kept_off_cpu(h, &times, now - h->mon_seen))
		return;
	h->mon_reported = now;
	report(h, ran, exact);
}

static void *monitor_main(void *arg)
{
	int64_t period = gs_config.max_blocking_ns / 2;
	struct timespec ts;

	(void)arg;
	if (period < 1000000)
		period = 1000000;
	ts.tv_sec = (time_t)(period / 1000000000);
	ts.tv_nsec = (long)(period % 1000000000);
	for (;;) {
		int64_t now;

		arch_syscall3(SYS_nanosleep, (long)&ts, 0, 0);
		now = gs_now_ns();
		introspect_foreach_hub(check_hub, &now);
	}
	return NULL;
}

void monitor_green_added(void)
{
	int expected = 0;

	if (atomic_load_explicit(&started, memory_order_relaxed) != 0 || !monitor_wanted())
		return;
	if (!atomic_compare_exchange_strong(&started, &expected, 1))
		return;
	/* The handler that takes the backtraces, before anything is sent. */
	preempt_handler_ready();
	if (osthread_start(NULL, "gs-monitor", monitor_main, NULL, true) < 0)
		atomic_store(&started, 0);
}

void monitor_fork_child(void)
{
	atomic_store(&started, 0);
}
