/*
 * greenrun: runs a program under greenshim.
 *
 *   greenrun [OPTIONS] [--] COMMAND [ARGS...]
 *
 * It finds libgreenshim.so beside itself (the build tree: build/greenrun
 * and build/libgreenshim.so) or in the installed layout (PREFIX/bin and
 * PREFIX/lib/MULTIARCH, Debian's package, or PREFIX/lib, make install's
 * default), always relative to its own path, so that a copy unpacked
 * anywhere (dpkg -x) finds the library unpacked with it; it puts the
 * library first in LD_PRELOAD (keeping what was there), turns
 * its options into GREENSHIM_* variables and execs the command, found on
 * PATH as execvp(3) finds it.
 *
 * Its one promise: never a silent native run. The loader ignores
 * LD_PRELOAD for a statically linked program (there is no loader), for a
 * program of another ELF class or machine (it skips the library with a
 * warning) and in secure execution (a set-user-ID or set-group-ID program
 * that changes the caller's IDs, or file capabilities). greenrun reads the
 * command's ELF header and mode bits first and refuses those, with one line
 * that says why. Values are checked with the library's own parser
 * (src/config.c), so greenrun accepts exactly what the library accepts and
 * fails as it would: one line, status 2.
 *
 * With --profile=FILE greenrun does not exec: it empties FILE, forks, the
 * child execs the command with GREENSHIM_PROFILE=FILE (an absolute path,
 * so a script that changes directory still names the same file), and
 * greenrun waits. Every process of the run that greenshim is loaded into
 * appends its folded stacks to FILE when it exits (src/profile.c; with
 * several kinds, FILE.KIND for each); then greenrun draws FILE.svg and
 * FILE.json with greenctl's renderer (tools/greenctl/flame.c).
 * A SIGINT, SIGTERM, SIGHUP or SIGQUIT sent to greenrun itself (kill) is
 * passed on to the child; one from the terminal already reaches the child,
 * which is in the same process group, and is not sent twice.
 *
 * Exit status: the command's own (greenrun execs it, or with --profile
 * returns its status, 128+N when signal N ended it, as shells do); 2 for a bad option
 * or value; 126 for a command that was found but cannot run under greenshim
 * (not executable, static, set-ID, another machine); 127 for a command not
 * found (as shells do); 1 when the library cannot be found.
 */
#include "../../src/runtime.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../greenctl/flame.h"

/* The library's default, which config.c reads from the preloaded library's
 * definition (preload/init.c): greenrun shows what the program will get. */
const int64_t gs_preempt_default_ns = CONFIG_PREEMPT_DEFAULT_MS * 1000000LL;
const bool gs_syscalls_default = true;

#define LIBNAME "libgreenshim.so"
/* GREENRUN_MULTIARCH: the compiler's -print-multiarch (the Makefile). */
#ifdef GREENRUN_MULTIARCH
#define LIBDIRS "{lib/" GREENRUN_MULTIARCH ",lib}"
#else
#define LIBDIRS "lib"
#endif

struct option_var {
	const char *option; /* --option=VALUE */
	const char *var;    /* the GREENSHIM_* variable it sets */
	const char *arg;    /* for --help */
	const char *help;
	const char *value;  /* given on the command line, or NULL */
};

static struct option_var opts[] = {
	{ "stack-size", "GREENSHIM_STACK_SIZE", "SIZE",
	  "stack size of green threads (e.g. 256k, 8M)", NULL },
	{ "threads", "GREENSHIM_THREADS", "green|native",
	  "green threads, or native ones with a hub each", NULL },
	{ "hubs", "GREENSHIM_HUBS", "N|auto",
	  "OS threads running green threads (default auto: one per CPU, within "
	  "the cgroups' CPU limit)", NULL },
	{ "tls", "GREENSHIM_TLS", "green|shared",
	  "a thread-local storage per green thread, or one shared per OS thread", NULL },
	{ "tls-load", "GREENSHIM_TLS_LOAD", "auto|wrfsbase|ldt|syscall",
	  "how a green thread's thread pointer is loaded at each switch", NULL },
	{ "native-libs", "GREENSHIM_NATIVE_LIBS", "LIB[:LIB...]",
	  "libraries whose threads stay real OS threads (besides OpenMP's)", NULL },
	{ "syscalls", "GREENSHIM_SYSCALLS", "trap|off",
	  "catch system calls made outside libc, and make blocking ones green", NULL },
	{ "preempt", "GREENSHIM_PREEMPT_MS", "MS",
	  "preemption tick in milliseconds; 0: cooperative only", NULL },
	{ "max-blocking", "GREENSHIM_MAX_BLOCKING_MS", "MS",
	  "report a thread running this long unyielding; 0: off", NULL },
	{ "pool-size", "GREENSHIM_POOL_SIZE", "N", "worker threads for calls with no "
	  "non-blocking form", NULL },
	{ "file-io", "GREENSHIM_FILE_IO", "direct|pool",
	  "regular-file I/O as a plain call, or on the worker pool", NULL },
	{ "log", "GREENSHIM_LOG", "FILE", "where greenshim's reports go (default: stderr)",
	  NULL },
	{ "control", "GREENSHIM_CONTROL", "on|off",
	  "the control socket that greenctl(1) talks to", NULL },
	{ "profile", "GREENSHIM_PROFILE", "FILE",
	  "profile the whole run: folded stacks in FILE, flame graph in FILE.svg", NULL },
	{ "profile-kinds", "GREENSHIM_PROFILE_KINDS", "KINDS",
	  "cpu (default), wait, lock, a list, or all (several: FILE.KIND each)", NULL },
	{ "profile-frames", "GREENSHIM_PROFILE_FRAMES", "program|all",
	  "greenshim's own frames collapsed (default) or all kept", NULL },
};

#define NOPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: greenrun [OPTIONS] [--] COMMAND [ARGS...]\n"
		   "Runs COMMAND with its threads as green threads (LD_PRELOAD=" LIBNAME ").\n\n"
		   "Options (each sets a variable; see greenrun(1) and docs/CONFIG.md):\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];

		snprintf(left, sizeof left, "--%s=%s", opts[i].option, opts[i].arg);
		fprintf(f, "  %-26s %s\n  %-26s   (%s)\n", left, opts[i].help, "", opts[i].var);
	}
	fprintf(f, "  %-26s %s\n", "--verbose",
		"print the library, command and every variable first");
	fprintf(f, "  %-26s %s\n", "--help", "this text");
	fprintf(f, "\nVariables already in the environment are kept unless an option sets them.\n"
		   "Refused, with a reason: a static program, a set-user-ID or set-group-ID one\n"
		   "that would run in secure-execution mode, a 32-bit or foreign one.\n"
		   "Exit status: the command's (with --profile, 128+N if signal N ended it);\n"
		   "2 bad option or value; 126 found but cannot run under greenshim;\n"
		   "127 not found; 1 " LIBNAME " not found.\n");
}

static _Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static _Noreturn void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("greenrun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* config.c found a bad value: name the option that set it, if one did. */
static void reject(const char *var, const char *value, const char *form)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].var, var) == 0 && opts[i].value != NULL) {
			fprintf(stderr, "greenrun: --%s=%s: invalid value; expected %s\n",
				opts[i].option, value, form);
			return;
		}
	fprintf(stderr, "greenrun: %s=%s (from the environment): invalid value; expected %s\n",
		var, value, form);
}

/* ---- the library --------------------------------------------------------- */

static bool readable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

static void find_library(char *out, size_t size)
{
	static const char *const libdirs[] = {
#ifdef GREENRUN_MULTIARCH
		"lib/" GREENRUN_MULTIARCH,
#endif
		"lib",
	};
	char self[PATH_MAX], dir[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n < 0)
		die(1, "cannot find itself (/proc/self/exe: %s)", strerror(errno));
	self[n] = '\0';
	snprintf(dir, sizeof dir, "%s", self);
	slash = strrchr(dir, '/');
	*slash = '\0';
	/* The build tree: build/greenrun beside build/libgreenshim.so. */
	if (snprintf(out, size, "%s/%s", dir, LIBNAME) < (int)size && readable_file(out))
		return;
	/* Installed: PREFIX/bin/greenrun and PREFIX/lib[/MULTIARCH]/libgreenshim.so. */
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		for (size_t i = 0; i < sizeof libdirs / sizeof libdirs[0]; i++)
			if (snprintf(out, size, "%s/%s/%s", dir, libdirs[i], LIBNAME) < (int)size &&
			    readable_file(out))
				return;
	}
	die(1, "cannot find " LIBNAME " beside %s or in %s/" LIBDIRS, self,
	    slash != NULL ? dir : "..");
}

/* LD_PRELOAD with lib first, once; the entries already there follow
 * (the loader takes spaces and colons as separators). */
static void prepend_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	size_t cap = strlen(lib) + (old != NULL ? strlen(old) : 0) + 2;
	char *v = malloc(cap), *copy, *tok, *save;

	if (v == NULL)
		die(1, "out of memory");
	snprintf(v, cap, "%s", lib);
	if (old != NULL && (copy = strdup(old)) != NULL) {
		for (tok = strtok_r(copy, ": ", &save); tok != NULL; tok = strtok_r(NULL, ": ", &save)) {
			if (strcmp(tok, lib) == 0)
				continue;
			strcat(v, ":");
			strcat(v, tok);
		}
		free(copy);
	}
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

/* ---- the command ----------------------------------------------------------- */

/* As execvp: a name with a slash is a path; otherwise each PATH entry in
 * turn (an empty one is the current directory), remembering a file that
 * exists but cannot be executed. Exits 126 or 127 when nothing fits. */
static void find_command(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char defpath[256];
	bool denied = false;
	struct stat st;

	if (*name == '\0')
		die(127, "'': command not found");
	if (strchr(name, '/') != NULL) {
		snprintf(out, size, "%s", name);
		if (stat(out, &st) != 0)
			die(errno == EACCES ? 126 : 127, "%s: %s", name, strerror(errno));
		if (S_ISDIR(st.st_mode))
			die(126, "%s: is a directory", name);
		if (access(out, X_OK) != 0 || !S_ISREG(st.st_mode))
			die(126, "%s: not executable: %s", name, strerror(EACCES));
		return;
	}
	if (path == NULL) {
		confstr(_CS_PATH, defpath, sizeof defpath);
		path = defpath;
	}
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int len = (int)(end - p);

		if (len == 0)
			snprintf(out, size, "%s", name);
		else
			snprintf(out, size, "%.*s/%s", len, p, name);
		if (stat(out, &st) == 0) {
			if (S_ISREG(st.st_mode) && access(out, X_OK) == 0)
				return;
			denied = true;
		} else if (errno == EACCES) {
			denied = true;
		}
		p = end;
		if (*end == '\0')
			break;
	}
	if (denied)
		die(126, "%s: found on PATH but not executable: %s", name, strerror(EACCES));
	die(127, "%s: command not found", name);
}

/* Would exec of path run in secure-execution mode (AT_SECURE), where the
 * loader ignores LD_PRELOAD? The kernel's rule (commoncap.c): the
 * effective user or group after exec differs from the real one, or a
 * non-root caller gains file capabilities. Set-ID bits and capabilities
 * do nothing on a nosuid mount. NULL, or the reason. */
static const char *secure_reason(const char *path, const struct stat *st)
{
	struct statvfs vfs;
	uid_t euid = geteuid();
	gid_t egid = getegid();

	if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return euid != getuid() || egid != getgid() ? "greenrun itself runs set-ID" : NULL;
	if (st->st_mode & S_ISUID)
		euid = st->st_uid;
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP))
		egid = st->st_gid;
	if (euid != getuid())
		return "is set-user-ID to another user";
	if (egid != getgid())
		return "is set-group-ID to another group";
	if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
		return "has file capabilities";
	return NULL;
}

/* Reads the ELF header and program headers: NULL if the loader will load
 * the library into it, else the reason it will not. */
static const char *elf_reason(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
		return "is too short to be an ELF program";
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return "is a 32-bit program; " LIBNAME " is 64-bit and the loader would skip it";
	if (eh.e_machine != EM_X86_64)
		return "is built for another machine than " LIBNAME;
	if (eh.e_phentsize != sizeof ph)
		return "has a malformed ELF header";
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) !=
		    (ssize_t)sizeof ph)
			return "has a truncated ELF header";
		if (ph.p_type == PT_INTERP)
			return NULL;
	}
	return "is statically linked (no program interpreter): the dynamic loader never "
	       "runs, so LD_PRELOAD cannot load greenshim into it";
}

/* Refuses (126) what the loader would run without the library: checks the
 * command, or the interpreter of a #! script, as the kernel runs it. */
static void check_command(const char *shown, const char *path, int depth)
{
	unsigned char head[256];
	const char *why;
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0)
		die(126, "%s: cannot read it: %s", shown, strerror(errno));
	n = pread(fd, head, sizeof head - 1, 0);
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		/* Set-ID bits of scripts are ignored by Linux; the
		 * interpreter is what the kernel executes. */
		char interp[256];
		size_t i = 2, j = 0;

		close(fd);
		head[n] = '\0';
		while (head[i] == ' ' || head[i] == '\t')
			i++;
		while (head[i] != '\0' && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' &&
		       j < sizeof interp - 1)
			interp[j++] = (char)head[i++];
		interp[j] = '\0';
		if (j == 0 || depth >= 4)
			return; /* exec will fail and say so */
		if (access(interp, X_OK) != 0)
			die(126, "%s: its interpreter %s: %s", shown, interp, strerror(errno));
		char label[PATH_MAX + 300];

		snprintf(label, sizeof label, "%s's interpreter %s", shown, interp);
		check_command(label, interp, depth + 1);
		return;
	}
	if (n >= 4 && memcmp(head, ELFMAG, SELFMAG) == 0)
		why = elf_reason(fd);
	else
		why = NULL; /* not ELF: exec says ENOEXEC, then it runs under sh */
	close(fd);
	if (why == NULL)
		why = secure_reason(path, &st);
	if (why != NULL)
		die(126, "%s %s; refusing to run it without greenshim", shown, why);
}

/* ---- --verbose -------------------------------------------------------------- */

static const char *origin(const char *var)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].var, var) == 0 && opts[i].value != NULL)
			return "option";
	return getenv(var) != NULL && *getenv(var) != '\0' ? "environment" : "default";
}

static void show_config(const char *lib, const char *cmd)
{
	const struct gs_config *c = &gs_config;

	fprintf(stderr, "greenrun: library %s\n", lib);
	fprintf(stderr, "greenrun: command %s\n", cmd);
	fprintf(stderr, "greenrun: LD_PRELOAD=%s\n", getenv("LD_PRELOAD"));
	fprintf(stderr, "greenrun: GREENSHIM_STACK_SIZE=%zu (%s)\n", c->stack_size,
		origin("GREENSHIM_STACK_SIZE"));
	fprintf(stderr, "greenrun: GREENSHIM_THREADS=%s (%s)\n",
		c->native_threads ? "native" : "green", origin("GREENSHIM_THREADS"));
	fprintf(stderr, "greenrun: GREENSHIM_HUBS=%u (%s)\n", c->hubs, origin("GREENSHIM_HUBS"));
	fprintf(stderr, "greenrun: GREENSHIM_TLS=%s (%s)\n", c->tls_green ? "green" : "shared",
		origin("GREENSHIM_TLS"));
	/* How the library will load each thread's TLS (src/tls.c decides). */
	fprintf(stderr, "greenrun: GREENSHIM_TLS_LOAD=%s (%s%s)\n", config_tls_load_name(c->tls_load),
		origin("GREENSHIM_TLS_LOAD"),
		c->native_threads || !c->tls_green || c->tls_load != CONFIG_TLS_LOAD_AUTO ? ""
		: (getauxval(AT_HWCAP2) & 2)
			? "; here: ldt, wrfsbase for the OS thread's own TLS; wrfsbase if the "
			  "kernel has no modify_ldt"
			: "; here: ldt if the kernel has modify_ldt, else syscall");
	fprintf(stderr, "greenrun: GREENSHIM_NATIVE_LIBS=%s (%s)\n",
		c->native_libs != NULL ? c->native_libs : "",
		c->native_libs != NULL ? origin("GREENSHIM_NATIVE_LIBS")
				       : "default: libgomp.so, libomp.so, libiomp5.so only");
	fprintf(stderr, "greenrun: GREENSHIM_SYSCALLS=%s (%s%s)\n",
		c->syscalls_trap ? "trap" : "off", origin("GREENSHIM_SYSCALLS"),
		c->native_threads ? "; native threads: no trapping" : "");
	fprintf(stderr, "greenrun: GREENSHIM_PREEMPT_MS=%lld (%s%s)\n",
		(long long)(c->preempt_ns / 1000000), origin("GREENSHIM_PREEMPT_MS"),
		c->native_threads ? "; native threads: the kernel preempts" : "");
	fprintf(stderr, "greenrun: GREENSHIM_MAX_BLOCKING_MS=%lld (%s)\n",
		(long long)(c->max_blocking_ns / 1000000), origin("GREENSHIM_MAX_BLOCKING_MS"));
	fprintf(stderr, "greenrun: GREENSHIM_POOL_SIZE=%u (%s)\n", c->pool_size,
		origin("GREENSHIM_POOL_SIZE"));
	fprintf(stderr, "greenrun: GREENSHIM_FILE_IO=%s (%s)\n",
		c->file_io_pool ? "pool" : "direct", origin("GREENSHIM_FILE_IO"));
	fprintf(stderr, "greenrun: GREENSHIM_LOG=%s (%s)\n",
		c->log_path != NULL ? c->log_path : "", c->log_path != NULL ?
		origin("GREENSHIM_LOG") : "default: stderr");
	fprintf(stderr, "greenrun: GREENSHIM_CONTROL=%s (%s)\n", c->control ? "on" : "off",
		origin("GREENSHIM_CONTROL"));
	fprintf(stderr, "greenrun: GREENSHIM_PROFILE=%s (%s)\n",
		c->profile_path != NULL ? c->profile_path : "", c->profile_path != NULL ?
		origin("GREENSHIM_PROFILE") : "default: no profile");
	fprintf(stderr, "greenrun: GREENSHIM_PROFILE_KINDS=");
	for (unsigned k = PROF_CPU, n = 0; k <= PROF_LOCK; k <<= 1)
		if (c->profile_kinds & k)
			fprintf(stderr, "%s%s", n++ ? "," : "", config_profile_kind_name(k));
	fprintf(stderr, " (%s)\n", origin("GREENSHIM_PROFILE_KINDS"));
	fprintf(stderr, "greenrun: GREENSHIM_PROFILE_FRAMES=%s (%s)\n",
		c->profile_all_frames ? "all" : "program", origin("GREENSHIM_PROFILE_FRAMES"));
}

/* ---- the command's run ------------------------------------------------------ */

/* execv, and as execvp a file with no #! and no ELF header is a shell
 * script. Returns only on failure, with errno set. */
static void exec_command(const char *cmd, char **args)
{
	int n = 0;

	execv(cmd, args);
	if (errno == ENOEXEC) {
		while (args[n] != NULL)
			n++;
		char **sh = calloc((size_t)n + 2, sizeof *sh);

		if (sh != NULL) {
			sh[0] = "/bin/sh";
			sh[1] = (char *)cmd;
			for (int k = 1; k < n; k++)
				sh[k + 1] = args[k];
			execv("/bin/sh", sh);
		}
		errno = ENOEXEC;
	}
}

/* ---- --profile ------------------------------------------------------------- */

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static volatile pid_t child_pid;

static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* From a process (kill, sigqueue): pass it on. From the terminal
	 * (SI_KERNEL): the child, in our process group, has it already. */
	if (si->si_code <= 0 && child_pid > 0)
		kill(child_pid, sig);
}

/* FILE.svg and FILE.json from the folded stacks in FILE, one kind's; one
 * line on stderr says what was written. false when FILE holds none. */
static bool render(const char *file, unsigned kind, const char *shown)
{
	static const char *const what[] = { [PROF_CPU] = "on-CPU",
					    [PROF_WAIT] = "off-CPU, threads waiting",
					    [PROF_LOCK] = "waited for locks" };
	char svg[PATH_MAX + 8], json[PATH_MAX + 8], title[512], *line = NULL;
	const char *name = config_profile_kind_name(kind);
	unsigned long long us = 0;
	size_t cap = 0;
	FILE *in = fopen(file, "r"), *out;

	if (in == NULL) {
		fprintf(stderr, "greenrun: %s: %s\n", file, strerror(errno));
		return false;
	}
	while (getline(&line, &cap, in) > 0) {
		const char *sp = strrchr(line, ' ');

		if (sp != NULL)
			us += strtoull(sp + 1, NULL, 10);
	}
	free(line);
	if (us == 0) {
		fclose(in);
		return false;
	}
	snprintf(title, sizeof title, "greenrun --profile %s, %s: %s %.3f s (us)", shown, name,
		 what[kind], (double)us / 1e6);
	snprintf(svg, sizeof svg, "%s.svg", file);
	snprintf(json, sizeof json, "%s.json", file);
	rewind(in);
	out = fopen(svg, "w");
	if (out == NULL || flame_svg(in, out, title, "us", name) != 0 || fclose(out) != 0) {
		fprintf(stderr, "greenrun: %s: %s\n", svg, strerror(errno));
		snprintf(svg, sizeof svg, "none");
	}
	rewind(in);
	out = fopen(json, "w");
	if (out == NULL || flame_speedscope(in, out, title, "microseconds") != 0 ||
	    fclose(out) != 0) {
		fprintf(stderr, "greenrun: %s: %s\n", json, strerror(errno));
		snprintf(json, sizeof json, "none");
	}
	fclose(in);
	fprintf(stderr, "greenrun: profile of %s, %s: %s %.3f s; folded stacks: %s; flame graph: "
			"%s; speedscope: %s\n",
		shown, name, what[kind], (double)us / 1e6, file, svg, json);
	return true;
}

static void render_all(const char *base, unsigned kinds, const char *shown)
{
	bool any = false;

	for (unsigned k = PROF_CPU; k <= PROF_LOCK; k <<= 1) {
		char file[PATH_MAX];

		if ((kinds & k) && config_profile_file(file, sizeof file, base, k, kinds) == 0 &&
		    render(file, k, shown))
			any = true;
	}
	if (!any)
		fprintf(stderr, "greenrun: %s: no samples (every process ended by a signal, _exit "
				"or exec, which write nothing, or nothing to count); no flame graph\n",
			base);
}

static _Noreturn void run_profiled(const char *cmd, char **args)
{
	const char *file = gs_config.profile_path; /* absolute (config.c) */
	sigset_t block, old;
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
	int fd, status;
	pid_t pid, w;

	/* A fresh profile: the processes append to each kind's file. */
	for (unsigned k = PROF_CPU; k <= PROF_LOCK; k <<= 1) {
		char path[PATH_MAX];

		if (!(gs_config.profile_kinds & k))
			continue;
		if (config_profile_file(path, sizeof path, file, k, gs_config.profile_kinds) != 0)
			die(2, "--profile=%s: name too long", file);
		fd = open(path, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			die(2, "--profile=%s: %s", path, strerror(errno));
		close(fd);
	}
	setenv("GREENSHIM_PROFILE", file, 1);
	sigemptyset(&block);
	for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
		sigaddset(&block, forwarded[k]);
	sigprocmask(SIG_BLOCK, &block, &old);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die(1, "fork: %s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		exec_command(cmd, args);
		fprintf(stderr, "greenrun: %s: %s\n", args[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++) {
		struct sigaction was;

		/* One the caller ignores (a background job's SIGINT) stays
		 * ignored, as it is in the child. */
		if (sigaction(forwarded[k], NULL, &was) == 0 && was.sa_handler != SIG_IGN)
			sigaction(forwarded[k], &sa, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (w < 0)
		die(1, "waitpid: %s", strerror(errno));
	render_all(file, gs_config.profile_kinds, args[0]);
	if (WIFSIGNALED(status))
		exit(128 + WTERMSIG(status));
	exit(WEXITSTATUS(status));
}

/* ---- main -------------------------------------------------------------------- */

/* --name=VALUE or --name VALUE: the option's entry, *i moved past it. */
static struct option_var *parse_option(int argc, char **argv, int *i)
{
	const char *a = argv[*i] + 2, *eq = strchr(a, '=');
	size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);

	for (size_t k = 0; k < NOPTS; k++) {
		if (strlen(opts[k].option) != len || strncmp(opts[k].option, a, len) != 0)
			continue;
		if (eq != NULL) {
			opts[k].value = eq + 1;
		} else {
			if (*i + 1 >= argc)
				die(2, "--%s needs a value (--%s=%s)", opts[k].option,
				    opts[k].option, opts[k].arg);
			opts[k].value = argv[++*i];
		}
		return &opts[k];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX], cmd[PATH_MAX];
	bool verbose = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			verbose = true;
			continue;
		}
		if (a[1] != '-' || parse_option(argc, argv, &i) == NULL) {
			fprintf(stderr, "greenrun: unknown option %s (greenrun --help lists them)\n", a);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < NOPTS; k++)
		if (opts[k].value != NULL)
			setenv(opts[k].var, opts[k].value, 1);
	/* The library's own checks, on exactly what the program will see. */
	config_reject_hook = reject;
	config_load();
	find_library(lib, sizeof lib);
	find_command(argv[i], cmd, sizeof cmd);
	check_command(argv[i], cmd, 0);
	prepend_preload(lib);
	if (verbose)
		show_config(lib, cmd);
	for (size_t k = 0; k < NOPTS; k++)
		if (strcmp(opts[k].var, "GREENSHIM_PROFILE") == 0 && opts[k].value != NULL)
			run_profiled(cmd, argv + i);
	exec_command(cmd, argv + i);
	die(errno == ENOENT ? 127 : 126, "%s: %s", argv[i], strerror(errno));
}
