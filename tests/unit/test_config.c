/* GREENSHIM_* parsing: sizes, the default, and the one-line rejection. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "../../src/tools.h"

START_TEST(sizes_take_bytes_and_k_or_m_suffixes)
{
	size_t v;

	ck_assert_int_eq(config_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(config_parse_size("64k", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(config_parse_size("64K", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(config_parse_size("8m", &v), 0);
	ck_assert_uint_eq(v, 8 << 20);
	ck_assert_int_eq(config_parse_size("8M", &v), 0);
	ck_assert_uint_eq(v, 8 << 20);
	ck_assert_int_eq(config_parse_size("banana", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("12kb", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("1g", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size(" 12", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(config_parse_size("99999999999999999m", &v), -ERANGE);
}
END_TEST

START_TEST(the_default_stack_size_follows_rlimit_stack_capped_at_8m)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_STACK, &rl), 0);
	rl.rlim_cur = 1024 * 1024;
	ck_assert_int_eq(setrlimit(RLIMIT_STACK, &rl), 0);
	ck_assert_uint_eq(stack_default_size(), 1024 * 1024);
	rl.rlim_cur = 64 * 1024 * 1024;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
		rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_STACK, &rl), 0);
	ck_assert_uint_eq(stack_default_size(), rl.rlim_cur < (8u << 20) ? rl.rlim_cur : 8u << 20);
	if (rl.rlim_max == RLIM_INFINITY) {
		rl.rlim_cur = RLIM_INFINITY;
		ck_assert_int_eq(setrlimit(RLIMIT_STACK, &rl), 0);
		ck_assert_uint_eq(stack_default_size(), 2 * 1024 * 1024); /* glibc's */
	}
}
END_TEST

static void *return_arg(void *arg)
{
	return arg;
}

START_TEST(a_valid_stack_size_is_used_for_new_threads)
{
	struct green *g;

	setenv("GREENSHIM_STACK_SIZE", "100k", 1);
	config_load();
	ck_assert_uint_eq(gs_config.stack_size, 100 * 1024);
	ck_assert_int_eq(green_spawn(NULL, return_arg, NULL, &g), 0);
	ck_assert_uint_eq((size_t)(g->stack.hi - g->stack.lo), 100 * 1024);
	ck_assert_int_eq(green_join(g, NULL, GS_NO_DEADLINE), 0);
}
END_TEST

static void load_config(void *value)
{
	setenv("GREENSHIM_STACK_SIZE", value, 1);
	config_load();
}

/* config_load() in a child with GREENSHIM_STACK_SIZE=value: its exit
 * status, and its stderr in out. */
static int load_in_child(const char *value, char *out, size_t outlen)
{
	int status = run_in_child(load_config, (void *)value, out, outlen);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(a_bad_stack_size_stops_with_status_2_and_one_line_naming_it)
{
	static const char *bad[] = { "banana", "-1", "100", "4095", "2048m", "12kb", "8 M" };
	char err[512];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(load_in_child(bad[i], err, sizeof err), 2);
		ck_assert_msg(strncmp(err, "greenshim: GREENSHIM_STACK_SIZE=", 32) == 0, "%s", err);
		ck_assert_msg(strstr(err, bad[i]) != NULL, "value not named: %s", err);
		ck_assert_msg(strstr(err, "k/K or m/M") != NULL, "form not named: %s", err);
		ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
	}
	ck_assert_int_eq(load_in_child("4096", err, sizeof err), 0);
	ck_assert_str_eq(err, "");
}
END_TEST

static void load_assignment(void *assignment)
{
	char name[64];
	const char *eq = strchr(assignment, '=');

	snprintf(name, sizeof name, "%.*s", (int)(eq - (const char *)assignment),
		 (const char *)assignment);
	setenv(name, eq + 1, 1);
	config_load();
}

START_TEST(each_variable_refuses_a_bad_value_naming_it)
{
	static const char *bad[] = {
		"GREENSHIM_POOL_SIZE=0",       "GREENSHIM_POOL_SIZE=1025",
		"GREENSHIM_POOL_SIZE=-3",      "GREENSHIM_POOL_SIZE=ten",
		"GREENSHIM_FILE_IO=Pool",      "GREENSHIM_FILE_IO=1",
		"GREENSHIM_MAX_BLOCKING_MS=-1", "GREENSHIM_MAX_BLOCKING_MS=100ms",
		"GREENSHIM_MAX_BLOCKING_MS=3600001", "GREENSHIM_PREEMPT_MS=1001",
		"GREENSHIM_PREEMPT_MS= 5",
		"GREENSHIM_CONTROL=yes",       "GREENSHIM_CONTROL=On",
		"GREENSHIM_LOG=/nonexistent-greenshim-dir/log", "GREENSHIM_LOG=/",
		"GREENSHIM_PROFILE_KINDS=cpu,io", "GREENSHIM_PROFILE_KINDS=cpu,",
		"GREENSHIM_PROFILE_KINDS=CPU", "GREENSHIM_PROFILE_FRAMES=runtime",
		"GREENSHIM_HUBS=0",            "GREENSHIM_HUBS=65",
		"GREENSHIM_HUBS=Auto",         "GREENSHIM_HUBS=2 ",
	};
	char err[512], want[96];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int status = run_in_child(load_assignment, (void *)bad[i], err, sizeof err);

		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s: status %d",
			      bad[i], status);
		snprintf(want, sizeof want, "greenshim: %s: invalid value; expected ", bad[i]);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s: %s", bad[i], err);
		ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
	}
}
END_TEST

START_TEST(the_tool_variables_take_their_defaults_and_values)
{
	config_load();
	ck_assert_uint_eq(gs_config.pool_size, CONFIG_POOL_DEFAULT);
	ck_assert(!gs_config.file_io_pool);
	ck_assert_int_eq(gs_config.max_blocking_ns, CONFIG_MAX_BLOCKING_DEFAULT_MS * 1000000LL);
	ck_assert_ptr_null(gs_config.log_path);
	ck_assert(gs_config.control);
	ck_assert_uint_eq(gs_config.profile_kinds, PROF_CPU);
	ck_assert(!gs_config.profile_all_frames);
}
END_TEST

static void load_good(void *path)
{
	int lowest_free = dup(0);

	close(lowest_free);
	setenv("GREENSHIM_POOL_SIZE", "3", 1);
	setenv("GREENSHIM_FILE_IO", "pool", 1);
	setenv("GREENSHIM_MAX_BLOCKING_MS", "0", 1);
	setenv("GREENSHIM_LOG", path, 1);
	setenv("GREENSHIM_CONTROL", "off", 1);
	config_load();
	if (gs_config.control ||
	    gs_config.pool_size != 3 || !gs_config.file_io_pool || gs_config.max_blocking_ns != 0 ||
	    gs_config.log_path == NULL || strcmp(gs_config.log_path, path) != 0)
		_exit(1);
	/* Reports go to the end of the file, which is kept; no fd stays
	 * open for it. */
	if (fcntl(lowest_free, F_GETFD) != -1)
		_exit(1);
	introspect_log("report\n", 7);
}

START_TEST(valid_tool_variables_are_read)
{
	char err[512], path[] = "/tmp/greenshim-log-XXXXXX", text[64] = "";
	int fd = mkstemp(path), status;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "before\n", 7), 7);
	status = run_in_child(load_good, path, err, sizeof err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, err);
	ck_assert_int_eq(pread(fd, text, sizeof text - 1, 0), 14);
	ck_assert_str_eq(text, "before\nreport\n");
	close(fd);
	unlink(path);
}
END_TEST

static void load_hubs(void *value)
{
	cpu_set_t cpus;

	if (*(const char *)value == '\0')
		unsetenv("GREENSHIM_HUBS"); /* the default: auto */
	else
		setenv("GREENSHIM_HUBS", value, 1);
	config_load();
	if (*(const char *)value == '\0' || strcmp(value, "auto") == 0) {
		int n;

		sched_getaffinity(0, sizeof cpus, &cpus);
		n = CPU_COUNT(&cpus) < 64 ? CPU_COUNT(&cpus) : 64;
		_exit(gs_config.hubs == (unsigned)n ? 0 : 1);
	}
	_exit(gs_config.hubs == (unsigned)atoi(value) ? 0 : 1);
}

START_TEST(hubs_are_a_number_or_auto_for_the_cpus_of_the_affinity_mask)
{
	static const char *good[] = { "", "1", "2", "64", "auto" };
	char err[512];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int status = run_in_child(load_hubs, (void *)good[i], err, sizeof err);

		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d: %s",
			      good[i], status, err);
	}
}
END_TEST

/* Writes text to dir/name, making the directories on the way. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* cgroup_cpu_limit on a made-up process: /proc/self/cgroup and
 * /proc/self/mountinfo written here, the hierarchies under dir. */
static unsigned limit_of(const char *dir, const char *cgroup, const char *mountinfo)
{
	char cg[512], mi[512];

	snprintf(cg, sizeof cg, "%s/cgroup", dir);
	snprintf(mi, sizeof mi, "%s/mountinfo", dir);
	put(dir, "cgroup", cgroup);
	put(dir, "mountinfo", mountinfo);
	return cgroup_cpu_limit(cg, mi);
}

START_TEST(the_tightest_cpu_limit_of_the_cgroups_and_their_ancestors_counts)
{
	char dir[] = "/tmp/gs-cgroup-XXXXXX", mi[4096], cmd[64];
	static const char v2_cgroup[] = "0::/kubepods/pod1/ctr\n";
	static const char v1_cgroup[] = "12:pids:/x\n"
					"4:cpu,cpuacct:/docker/abc\n"
					"1:name=systemd:/docker/abc\n"
					"0::/\n";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* cgroup v2, mounted whole at D/v2 (its root "/"). */
	snprintf(mi, sizeof mi,
		 "25 1 0:22 / /proc rw,nosuid - proc proc rw\n"
		 "30 25 0:26 / %s/v2 rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
		 dir);
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 0); /* no cpu.max anywhere */
	put(dir, "v2/kubepods/pod1/ctr/cpu.max", "max 100000\n");
	put(dir, "v2/kubepods/cpu.max", "max 100000\n");
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 0);
	put(dir, "v2/kubepods/pod1/ctr/cpu.max", "250000 100000\n"); /* 2.5 CPUs */
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 3);
	put(dir, "v2/kubepods/pod1/cpu.max", "100000 100000\n"); /* an ancestor: 1 */
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 1);
	put(dir, "v2/kubepods/pod1/cpu.max", "20000 100000\n"); /* less than one CPU */
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 1);
	put(dir, "v2/kubepods/pod1/cpu.max", "400000 100000\n");
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 3);
	put(dir, "v2/kubepods/pod1/ctr/cpu.max", "garbage\n");
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 4);
	/* A container's view: the mount's root is the container's own cgroup,
	 * /proc/self/cgroup names it from the host's root; a cgroup not
	 * below the mount's root has no limit there. */
	snprintf(mi, sizeof mi,
		 "30 25 0:26 /kubepods/pod1 %s/v2/kubepods/pod1 rw - cgroup2 cgroup2 rw\n",
		 dir);
	put(dir, "v2/kubepods/pod1/ctr/cpu.max", "150000 100000\n");
	ck_assert_uint_eq(limit_of(dir, v2_cgroup, mi), 2);
	ck_assert_uint_eq(limit_of(dir, "0::/kubepods/pod10/ctr\n", mi), 0);
	ck_assert_uint_eq(limit_of(dir, "0::/other\n", mi), 0);

	/* cgroup v1: the cpu controller, with cpuacct, at a mount point with a
	 * space in it (mountinfo writes \040); v2 mounted too, its root
	 * cgroup without a limit. */
	snprintf(mi, sizeof mi,
		 "30 25 0:26 / %s/v2 rw - cgroup2 cgroup2 rw\n"
		 "31 25 0:27 / %s/cpu\\040acct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
		 "32 25 0:28 / %s/pids rw - cgroup cgroup rw,pids\n",
		 dir, dir, dir);
	put(dir, "cpu acct/docker/abc/cpu.cfs_quota_us", "-1\n");
	put(dir, "cpu acct/docker/abc/cpu.cfs_period_us", "100000\n");
	ck_assert_uint_eq(limit_of(dir, v1_cgroup, mi), 0);
	put(dir, "cpu acct/docker/abc/cpu.cfs_quota_us", "200000\n");
	ck_assert_uint_eq(limit_of(dir, v1_cgroup, mi), 2);
	put(dir, "cpu acct/docker/cpu.cfs_quota_us", "50000\n");
	put(dir, "cpu acct/docker/cpu.cfs_period_us", "50000\n");
	ck_assert_uint_eq(limit_of(dir, v1_cgroup, mi), 1);
	/* The pids hierarchy's files are no CPU limit. */
	put(dir, "pids/x/cpu.cfs_quota_us", "1000\n");
	put(dir, "pids/x/cpu.cfs_period_us", "100000\n");
	put(dir, "cpu acct/docker/cpu.cfs_quota_us", "-1\n");
	ck_assert_uint_eq(limit_of(dir, v1_cgroup, mi), 2);
	/* Both hierarchies: the tighter one. */
	put(dir, "v2/cpu.max", "100000 100000\n");
	ck_assert_uint_eq(limit_of(dir, v1_cgroup, mi), 1);
	/* Files that are not there. */
	ck_assert_uint_eq(cgroup_cpu_limit("/nonexistent/cgroup", "/proc/self/mountinfo"), 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(profile_kinds_are_a_list_of_names_or_all)
{
	char path[64];

	ck_assert_int_eq(config_parse_profile_kinds("cpu"), PROF_CPU);
	ck_assert_int_eq(config_parse_profile_kinds("lock,cpu"), PROF_CPU | PROF_LOCK);
	ck_assert_int_eq(config_parse_profile_kinds("wait,wait"), PROF_WAIT);
	ck_assert_int_eq(config_parse_profile_kinds("all"), PROF_CPU | PROF_WAIT | PROF_LOCK);
	ck_assert_int_eq(config_parse_profile_kinds(""), -EINVAL);
	ck_assert_int_eq(config_parse_profile_kinds("cpu,,wait"), -EINVAL);
	ck_assert_int_eq(config_parse_profile_kinds("cpus"), -EINVAL);
	ck_assert_int_eq(config_parse_profile_kinds("all,cpu"), -EINVAL);
	/* One kind: the file itself; several: one file per kind. */
	ck_assert_int_eq(config_profile_file(path, sizeof path, "/tmp/p", PROF_WAIT, PROF_WAIT), 0);
	ck_assert_str_eq(path, "/tmp/p");
	ck_assert_int_eq(config_profile_file(path, sizeof path, "/tmp/p", PROF_LOCK, PROF_ALL), 0);
	ck_assert_str_eq(path, "/tmp/p.lock");
	ck_assert_int_eq(config_profile_file(path, 8, "/tmp/p", PROF_CPU, PROF_ALL), -ENAMETOOLONG);
}
END_TEST

static void log_relative_then_chdir(void *dir)
{
	if (chdir(dir) != 0)
		_exit(1);
	setenv("GREENSHIM_LOG", "reports.log", 1);
	config_load();
	if (chdir("/") != 0)
		_exit(1);
	introspect_log("report\n", 7);
}

START_TEST(a_relative_greenshim_log_stays_where_it_was_at_start)
{
	char dir[] = "/tmp/greenshim-logdir-XXXXXX", path[64], text[16] = "", err[256];
	int fd, status;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	status = run_in_child(log_relative_then_chdir, dir, err, sizeof err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, err);
	snprintf(path, sizeof path, "%s/reports.log", dir);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, text, sizeof text - 1), 7);
	ck_assert_str_eq(text, "report\n");
	close(fd);
	unlink(path);
	rmdir(dir);
}
END_TEST

Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *t = tcase_create("env");

	tcase_add_test(t, sizes_take_bytes_and_k_or_m_suffixes);
	tcase_add_test(t, the_default_stack_size_follows_rlimit_stack_capped_at_8m);
	tcase_add_test(t, a_valid_stack_size_is_used_for_new_threads);
	tcase_add_test(t, a_bad_stack_size_stops_with_status_2_and_one_line_naming_it);
	tcase_add_test(t, each_variable_refuses_a_bad_value_naming_it);
	tcase_add_test(t, the_tool_variables_take_their_defaults_and_values);
	tcase_add_test(t, valid_tool_variables_are_read);
	tcase_add_test(t, a_relative_greenshim_log_stays_where_it_was_at_start);
	tcase_add_test(t, profile_kinds_are_a_list_of_names_or_all);
	tcase_add_test(t, hubs_are_a_number_or_auto_for_the_cpus_of_the_affinity_mask);
	tcase_add_test(t, the_tightest_cpu_limit_of_the_cgroups_and_their_ancestors_counts);
	suite_add_tcase(s, t);
	return s;
}
