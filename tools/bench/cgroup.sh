#!/bin/sh
# A server in a container's share of the machine: the thread-per-connection
# server of hubs.sh (gs-echo-threads -w PASSES) in a cgroup of its own with
# a CPU bandwidth limit of LIMIT hundredths of a CPU (100: one CPU's time
# per period, what docker --cpus=1 sets), allowed every CPU; the load
# generator outside the cgroup. Rows: native threads, greenshim with one
# hub per CPU (GREENSHIM_HUBS=auto before it read the limit), greenshim
# with auto (as many hubs as the limit allows).
#
#   tools/bench/cgroup.sh [BUILD_DIR] [LIMIT] [SECONDS] [PASSES] [CONNECTIONS...]
#
# Needs root and a cgroup file system with the cpu controller (v1's cpu
# hierarchy, or v2 with cpu enabled below this process's cgroup). Rows
# alternate, twice over. A benchmark: it measures and prints.
set -eu
B=${1:-build}
LIMIT=${2:-100}
SECS=${3:-5}
PASSES=${4:-2}
if [ $# -ge 4 ]; then shift 4; else shift $#; fi
CONNS=${*:-100}
ALL=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)
SERVER_CPUS=$ALL
LOAD_CPUS=$ALL
NCPU=$(nproc)
. tools/bench/lib.sh

m=$(awk '/ - cgroup / && $4 == "/" && $NF ~ /(^|,)cpu(,|$)/ { print $5; exit }' /proc/self/mountinfo)
p=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3; exit }' /proc/self/cgroup)
if [ -n "$m" ] && [ -n "$p" ] && mkdir "$m${p%/}/gs-bench-$$" 2>/dev/null; then
	cg=$m${p%/}/gs-bench-$$
	echo 100000 >"$cg/cpu.cfs_period_us"
	echo $((LIMIT * 1000)) >"$cg/cpu.cfs_quota_us"
else
	m=$(awk '/ - cgroup2 / && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
	p=$(sed -n 's/^0:://p' /proc/self/cgroup)
	echo +cpu >"$m${p%/}/cgroup.subtree_control" 2>/dev/null || true
	if [ -z "$m" ] || ! mkdir "$m${p%/}/gs-bench-$$" 2>/dev/null ||
		! echo "$((LIMIT * 1000)) 100000" >"$m${p%/}/gs-bench-$$/cpu.max"; then
		echo "bench: no cgroup with the cpu controller can be made here (root?)" >&2
		rmdir "$m${p%/}/gs-bench-$$" 2>/dev/null || true
		exit 1
	fi
	cg=$m${p%/}/gs-bench-$$
fi
trap 'cleanup; rmdir "$cg" 2>/dev/null' EXIT INT TERM

echo "echo round trips of 64 bytes, $PASSES hash passes of 16 KiB each, ${SECS}s per row;"
echo "server in a cgroup limited to $LIMIT/100 CPUs, allowed CPUs $ALL; load outside it"
echo
# in-cgroup COMMAND...: COMMAND in the cgroup, as the same process (run()
# measures its pid).
printf '#!/bin/sh\necho $$ >"%s/cgroup.procs" && exec "$@"\n' "$cg" >"$tmp/in-cgroup"
chmod +x "$tmp/in-cgroup"
header
for c in $CONNS; do
	for round in 1 2; do
		run "native threads" "" "$c" "$tmp/in-cgroup" "$B/gs-echo-threads" -w "$PASSES"
		run "greenshim hubs=$NCPU" "$LIB" "$c" env GREENSHIM_HUBS=$NCPU "$tmp/in-cgroup" \
			"$B/gs-echo-threads" -w "$PASSES"
		run "greenshim auto" "$LIB" "$c" "$tmp/in-cgroup" "$B/gs-echo-threads" -w "$PASSES"
	done
done
echo
echo "CPU us/rt: the server's user+system CPU time per round trip (lower is better);"
echo "RSS and threads: the server's, in the middle of the run."
