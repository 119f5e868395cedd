/*
 * GREENSHIM_* environment variables, all parsed here, once, at start.
 *
 * A bad value never degrades into a default: it stops the program before
 * the program runs, with one line on stderr naming the variable, the value
 * and the accepted form, and exit status 2 (docs/CONFIG.md lists them all).
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "sys.h"

#include <sys/auxv.h> /* after runtime.h: <elf.h> and ev.h both name EV_NONE */

#define STACK_SIZE_MAX ((size_t)1024 * 1024 * 1024)
#define CONFIG_POOL_MAX 1024

struct gs_config gs_config;
/* src/arch/<cpu>/syscall.h: where the runtime's raw system calls are made,
 * set by trap.c before any is trapped. Here because every program built
 * from src/ (greenrun too) links this file. */
void *arch_libc_syscall;
void (*config_reject_hook)(const char *name, const char *value, const char *form);

static atomic_int config_loaded;

int config_parse_size(const char *s, size_t *out)
{
	size_t v = 0, mult = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (SIZE_MAX - (size_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (size_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1024;
		p++;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (v > SIZE_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

static _Noreturn void config_reject(const char *name, const char *value, const char *form)
{
	/* stdio may not be usable yet (we can run before main): one write. */
	char line[512];
	int n;

	if (config_reject_hook != NULL) {
		config_reject_hook(name, value, form);
		_exit(2);
	}
	n = snprintf(line, sizeof line, "greenshim: %s=%s: invalid value; expected %s\n", name,
		     value, form);
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	sys_write(STDERR_FILENO, line, (size_t)n);
	_exit(2);
}

static size_t config_stack_size(void)
{
	const char *v = getenv("GREENSHIM_STACK_SIZE");
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size;
	char form[160];

	if (v == NULL || *v == '\0')
		return stack_default_size();
	if (config_parse_size(v, &size) != 0 || size < page || size > STACK_SIZE_MAX) {
		snprintf(form, sizeof form,
			 "a size from %zu bytes (one page) to 1024m: digits with an "
			 "optional k/K or m/M suffix, e.g. 256k", page);
		config_reject("GREENSHIM_STACK_SIZE", v, form);
	}
	return stack_round(size);
}

static bool config_native_threads(void)
{
	const char *v = getenv("GREENSHIM_THREADS");

	if (v == NULL || *v == '\0' || strcmp(v, "green") == 0)
		return false;
	if (strcmp(v, "native") == 0)
		return true;
	config_reject("GREENSHIM_THREADS", v, "green (the default) or native");
}

/* A whole number from lo to hi, digits only; def when unset or empty. */
static long config_number(const char *name, long lo, long hi, long def, const char *form)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < lo || n > hi)
		config_reject(name, v, form);
	return n;
}

/* GREENSHIM_HUBS: a number of hubs, or auto, the default: the CPUs of the
 * affinity mask at start, or fewer where the cgroups' CPU bandwidth limit
 * is lower (cgroup.c). */
static unsigned config_hubs(void)
{
	const char *v = getenv("GREENSHIM_HUBS");
	cpu_set_t cpus;

	if (v == NULL || strcmp(v, "auto") == 0) {
		int n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
		unsigned limit;

		/* The cgroups are read only where they could lower the count. */
		if (n > 1 && !gs_config.native_threads &&
		    (limit = cgroup_cpu_limit("/proc/self/cgroup", "/proc/self/mountinfo")) != 0 &&
		    limit < (unsigned)n)
			n = (int)limit;
		return n < 1 ? 1 : n > CONFIG_HUBS_MAX ? CONFIG_HUBS_MAX : (unsigned)n;
	}
	return (unsigned)config_number("GREENSHIM_HUBS", 1, CONFIG_HUBS_MAX, 1,
				       "a number of hubs from 1 to 64, or auto (one per CPU "
				       "the process may run on)");
}

static int64_t config_preempt_ns(void)
{
	long def = &gs_preempt_default_ns != NULL ? (long)(gs_preempt_default_ns / 1000000) : 0;

	return (int64_t)config_number("GREENSHIM_PREEMPT_MS", 0, 1000, def,
				      "milliseconds from 0 (never preempt) to 1000, e.g. 5") *
	       1000000;
}

static bool config_file_io_pool(void)
{
	const char *v = getenv("GREENSHIM_FILE_IO");

	if (v == NULL || *v == '\0' || strcmp(v, "direct") == 0)
		return false;
	if (strcmp(v, "pool") == 0)
		return true;
	config_reject("GREENSHIM_FILE_IO", v, "direct (the default) or pool");
}

static bool config_tls_green(void)
{
	const char *v = getenv("GREENSHIM_TLS");

	gs_config.tls_explicit = v != NULL && *v != '\0';
	if (v == NULL || *v == '\0' || strcmp(v, "green") == 0)
		return true;
	if (strcmp(v, "shared") == 0)
		return false;
	config_reject("GREENSHIM_TLS", v, "green (the default) or shared");
}

static const char *const tls_load_names[] = {
	[CONFIG_TLS_LOAD_AUTO] = "auto",
	[CONFIG_TLS_LOAD_WRFSBASE] = "wrfsbase",
	[CONFIG_TLS_LOAD_LDT] = "ldt",
	[CONFIG_TLS_LOAD_SYSCALL] = "syscall",
};

const char *config_tls_load_name(unsigned way)
{
	return way < sizeof tls_load_names / sizeof tls_load_names[0] ? tls_load_names[way] : "?";
}

static unsigned config_tls_load(void)
{
	const char *v = getenv("GREENSHIM_TLS_LOAD");

	if (v == NULL || *v == '\0')
		return CONFIG_TLS_LOAD_AUTO;
	for (unsigned i = 0; i < sizeof tls_load_names / sizeof tls_load_names[0]; i++)
		if (strcmp(v, tls_load_names[i]) == 0)
			return i;
	config_reject("GREENSHIM_TLS_LOAD", v, "auto (the default), wrfsbase, ldt or syscall");
}

/* GREENSHIM_SYSCALLS: trap (the default under LD_PRELOAD) or off. */
static bool config_syscalls_trap(void)
{
	const char *v = getenv("GREENSHIM_SYSCALLS");

	if (v == NULL || *v == '\0')
		return &gs_syscalls_default != NULL && gs_syscalls_default;
	if (strcmp(v, "trap") == 0)
		return true;
	if (strcmp(v, "off") == 0)
		return false;
	config_reject("GREENSHIM_SYSCALLS", v, "trap (the default) or off");
}

/* GREENSHIM_NATIVE_LIBS: names of shared objects (as in /proc/self/maps,
 * "libfoo.so" also naming "libfoo.so.1") separated by colons. */
static const char *config_native_libs(void)
{
	const char *v = getenv("GREENSHIM_NATIVE_LIBS");

	if (v == NULL || *v == '\0')
		return NULL;
	for (const char *p = v;; p++) {
		if (*p == ':' || *p == '\0') {
			if (p == v || p[-1] == ':')
				break; /* an empty name */
			if (*p == '\0')
				return v;
		} else if (*p == '/' || *p == ' ' || *p == '\t') {
			break;
		}
	}
	config_reject("GREENSHIM_NATIVE_LIBS", v,
		      "library names separated by colons, e.g. libgomp.so:libfoo.so");
}

static bool config_control(void)
{
	const char *v = getenv("GREENSHIM_CONTROL");

	if (v == NULL || *v == '\0' || strcmp(v, "on") == 0)
		return true;
	if (strcmp(v, "off") == 0)
		return false;
	config_reject("GREENSHIM_CONTROL", v, "on (the default) or off");
}

/* A file that variable name says to append to, checked now by opening it
 * (the raw system calls: open is greenshim's own under LD_PRELOAD), so a
 * bad path stops the program here and not at its first write. */
static void config_check_append(const char *name, const char *v, const char *path)
{
	long fd = arch_syscall3(SYS_open, (long)path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				0644);

	if (fd < 0) {
		char form[160];

		snprintf(form, sizeof form, "a file that can be opened for appending (%s)",
			 strerror((int)-fd));
		config_reject(name, v, form);
	}
	arch_syscall3(SYS_close, fd, 0, 0);
}

/* A relative path made absolute in absolute[size]: it is opened again
 * later, and must not follow the program's chdir. */
static const char *config_absolute(const char *v, char *absolute, size_t size)
{
	char cwd[4096];

	if (v[0] != '/' && getcwd(cwd, sizeof cwd) != NULL &&
	    snprintf(absolute, size, "%s/%s", cwd, v) < (int)size)
		return absolute;
	return v;
}

/* The file variable name says to append to, checked, absolute; NULL when
 * unset or empty. */
static const char *config_append_path(const char *name, char *absolute, size_t size)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		return NULL;
	config_check_append(name, v, v);
	return config_absolute(v, absolute, size);
}

/* Where reports go (introspect_log opens it for each report). */
static const char *config_log_path(void)
{
	static char absolute[4096];

	return config_append_path("GREENSHIM_LOG", absolute, sizeof absolute);
}

const char *config_profile_kind_name(unsigned kind)
{
	return kind == PROF_CPU ? "cpu" : kind == PROF_WAIT ? "wait" : kind == PROF_LOCK ? "lock" : "?";
}

int config_profile_file(char *buf, size_t size, const char *base, unsigned kind, unsigned kinds)
{
	int n = (kinds & (kinds - 1)) == 0
			? snprintf(buf, size, "%s", base)
			: snprintf(buf, size, "%s.%s", base, config_profile_kind_name(kind));

	return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* Where each process appends its whole-run profile at exit (profile.c):
 * each kind's file is checked. Ignored in secure execution: a set-ID
 * program must not write where its caller's environment says. */
static const char *config_profile_path(unsigned kinds)
{
	static char absolute[4096];
	const char *v = getenv("GREENSHIM_PROFILE");
	char path[4096];

	if (getauxval(AT_SECURE) != 0 || v == NULL || *v == '\0')
		return NULL;
	for (unsigned k = PROF_CPU; k <= PROF_LOCK; k <<= 1) {
		if (!(kinds & k))
			continue;
		if (config_profile_file(path, sizeof path, v, k, kinds) != 0)
			config_reject("GREENSHIM_PROFILE", v, "a shorter file name");
		config_check_append("GREENSHIM_PROFILE", v, path);
	}
	return config_absolute(v, absolute, sizeof absolute);
}

int config_parse_profile_kinds(const char *s)
{
	static const char *const names[] = { "cpu", "wait", "lock" };
	int kinds = 0;

	if (strcmp(s, "all") == 0)
		return PROF_ALL;
	for (const char *p = s;; p++) {
		size_t len = strcspn(p, ",");
		int k = -1;

		for (int i = 0; i < 3; i++)
			if (strlen(names[i]) == len && strncmp(p, names[i], len) == 0)
				k = i;
		if (k < 0)
			return -EINVAL;
		kinds |= 1 << k;
		p += len;
		if (*p == '\0')
			return kinds;
	}
}

static unsigned config_profile_kinds(void)
{
	const char *v = getenv("GREENSHIM_PROFILE_KINDS");
	int k;

	if (v == NULL || *v == '\0')
		return PROF_CPU;
	k = config_parse_profile_kinds(v);
	if (k < 0)
		config_reject("GREENSHIM_PROFILE_KINDS", v, PROF_KINDS_FORM);
	return (unsigned)k;
}

static bool config_profile_all_frames(void)
{
	const char *v = getenv("GREENSHIM_PROFILE_FRAMES");

	if (v == NULL || *v == '\0' || strcmp(v, "program") == 0)
		return false;
	if (strcmp(v, "all") == 0)
		return true;
	config_reject("GREENSHIM_PROFILE_FRAMES", v,
		      "program (the default: greenshim's frames collapsed) or all");
}

void config_load(void)
{
	int expected = 0, saved_errno;

	if (atomic_load_explicit(&config_loaded, memory_order_acquire) == 2)
		return;
	if (!atomic_compare_exchange_strong(&config_loaded, &expected, 1)) {
		while (atomic_load_explicit(&config_loaded, memory_order_acquire) != 2)
			;
		return;
	}
	/* Loaded on first use, which may be inside a call of the program
	 * (its first pthread_create): the parsing's errno is not its. */
	saved_errno = errno;
	gs_config.stack_size = config_stack_size();
	gs_config.native_threads = config_native_threads();
	gs_config.tls_green = config_tls_green();
	gs_config.tls_load = config_tls_load();
	gs_config.native_libs = config_native_libs();
	/* Native threads make their system calls on their own OS threads. */
	gs_config.syscalls_trap = config_syscalls_trap() && !gs_config.native_threads;
	/* Native threads are the kernel's to preempt. */
	gs_config.preempt_ns = gs_config.native_threads ? 0 : config_preempt_ns();
	gs_config.pool_size = (unsigned)config_number(
		"GREENSHIM_POOL_SIZE", 1, CONFIG_POOL_MAX, CONFIG_POOL_DEFAULT,
		"a number of worker threads from 1 to 1024, e.g. 10");
	gs_config.file_io_pool = config_file_io_pool();
	gs_config.hubs = config_hubs();
	if (gs_config.native_threads)
		gs_config.hubs = 1; /* every thread is its own OS thread */
	gs_config.max_blocking_ns =
		(int64_t)config_number("GREENSHIM_MAX_BLOCKING_MS", 0, 3600000,
				       CONFIG_MAX_BLOCKING_DEFAULT_MS,
				       "milliseconds from 0 (no monitor) to 3600000, e.g. 100") *
		1000000;
	gs_config.log_path = config_log_path();
	gs_config.control = config_control();
	gs_config.profile_kinds = config_profile_kinds();
	gs_config.profile_path = config_profile_path(gs_config.profile_kinds);
	gs_config.profile_all_frames = config_profile_all_frames();
	errno = saved_errno;
	atomic_store_explicit(&config_loaded, 2, memory_order_release);
}
