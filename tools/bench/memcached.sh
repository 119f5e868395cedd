#!/bin/sh
# Debian's memcached with four worker threads (-t 4), natively and under
# greenshim, loaded by memcslap (libmemcached-tools): each memcslap thread
# has one connection and waits for each reply. Per row: the test (set, or
# get after memcslap has stored its keys), memcslap threads, requests/s as
# memcslap timed them, memcached's user+system CPU per request over the
# whole memcslap run (its initial sets included), and memcached's OS
# threads; then greenshim's ratios to native. The server is pinned to
# CPU 0, memcslap to CPU 1, unless SERVER_CPUS and LOAD_CPUS give other
# CPU lists (SERVER_CPUS=0-1 LOAD_CPUS=0-1: both on both CPUs, where
# greenshim runs a hub per CPU).
#
#   [HOGS=N] [SERVER_CPUS=L LOAD_CPUS=L] tools/bench/memcached.sh [BUILD_DIR] [REQUESTS_PER_THREAD] [THREADS...]
#   LOAD=light [SECS=S] [ROUNDS=R] [HOGS=N] [SERVER_CPUS=L LOAD_CPUS=L] tools/bench/memcached.sh [BUILD_DIR] - [CONNS...]
#
# LOAD=light: the load is gs-echo-load's memcached mode instead of
# memcslap, one thread with CONNS connections (default 4 and 32), each
# waiting for each reply, for S seconds a row (default 5); every reply is
# checked. A light load takes little of the CPUs it shares with the
# server, so that many-hub figures measure the server (the issue's rule for
# multi-core figures), where memcslap's threads compete with the server's.
# Rows then also give p99 latency and the server's RSS, and come R times
# (default 1), native and greenshim alternating.
#
# HOGS=N runs N busy loops on the server's CPU throughout, as a busy shared
# machine would: the kernel then shares that CPU per thread, and greenshim's
# one OS thread competes as one thread where native memcached's workers
# compete as several (docs/BENCHMARKS.md).
set -eu
B=${1:-build}
N=${2:-2000}
[ $# -ge 2 ] && shift 2 || shift $#
CONC=${*:-4 32}
SECS_LIGHT=${SECS:-5}
SECS=0 # lib.sh's run() is not used here
. tools/bench/lib.sh
LOAD=${LOAD:-memcslap}
[ "$LOAD" = light ] || [ "$LOAD" = memcslap ] || { echo "bench: LOAD is light or memcslap" >&2; exit 2; }
for c in memcached memcslap; do
	command -v $c >/dev/null || { echo "bench: $c is missing (make deps)" >&2; exit 1; }
done
USER_OPT=
[ "$(id -u)" -eq 0 ] && USER_OPT="-u root"

# start PRELOAD: starts memcached -t 4 on a free port ($port, $server_pid).
start() {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	env ${1:+LD_PRELOAD=$1} taskset -c $SERVER_CPUS memcached $USER_OPT -l 127.0.0.1 \
		-p "$port" -t 4 >/dev/null 2>&1 &
	server_pid=$!
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" \
			2>/dev/null && break
		sleep 0.1
	done
}

stop() {
	kill $server_pid
	wait $server_pid 2>/dev/null || true
	server_pid=
}

# light PRELOAD TEST CONNS: prints "requests/s CPU-us-per-request threads
# p99-us RSS-MiB" under gs-echo-load's memcached mode.
light() {
	start "$1"
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPUS "$B/gs-echo-load" -p "$port" -m "$2" -c "$3" -d "${SECS_LIGHT}" \
		>"$tmp/load" &
	load_pid=$!
	sleep "$(echo "$SECS_LIGHT" | awk '{ print $1 / 2 }')"
	rss=$(status_field $server_pid VmRSS)
	threads=$(status_field $server_pid Threads)
	wait $load_pid || { echo "bench: the load failed:" >&2; cat "$tmp/load" >&2; exit 1; }
	t1=$(cpu_ticks $server_pid)
	stop
	awk -v dt=$((t1 - t0)) -v tick="$TICK" -v th="$threads" -v rss="$rss" '
	{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%.0f %.1f %d %.0f %.1f\n", v["rps"], dt / tick * 1e6 / v["roundtrips"], th,
		       v["p99_us"], rss / 1024
	}' "$tmp/load"
}

# one PRELOAD TEST THREADS: prints "requests/s CPU-us-per-request threads".
one() {
	start "$1"
	threads=$(status_field $server_pid Threads)
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPUS memcslap -s "127.0.0.1:$port" -t "$2" -c "$3" -e "$N" >"$tmp/slap" 2>&1 ||
		{ echo "bench: memcslap failed:" >&2; cat "$tmp/slap" >&2; exit 1; }
	t1=$(cpu_ticks $server_pid)
	stop
	awk -v test="$2" -v c="$3" -v n="$N" -v dt=$((t1 - t0)) -v tick="$TICK" -v th="$threads" '
	$1 == "Time" && $3 == test { keys = $4; secs = $(NF - 1) }
	END {
		if (secs <= 0) exit 1
		# memcslap stores N keys before a get test.
		reqs = keys + (test == "get" ? n : 0)
		printf "%.0f %.1f %d\n", keys / secs, dt / tick * 1e6 / reqs, th
	}' "$tmp/slap"
}

hogs=
for _ in $(seq ${HOGS:-0}); do
	taskset -c $SERVER_CPUS sh -c 'while :; do :; done' &
	hogs="$hogs $!"
done
# lib.sh's trap removes $tmp; this one also ends the busy loops.
trap 'for h in $hogs; do kill $h 2>/dev/null; done; cleanup' EXIT INT TERM

hubs=${GREENSHIM_HUBS:-$(taskset -c $SERVER_CPUS nproc)}
if [ "$LOAD" = light ]; then
	echo "memcached $(memcached -V | awk '{ print $2 }') -t 4, gs-echo-load's memcached mode (one" \
		"thread), $SECS_LIGHT s a row; server on CPUs $SERVER_CPUS, load on CPUs $LOAD_CPUS;" \
		"greenshim hubs: $hubs; busy loops on CPUs $SERVER_CPUS: ${HOGS:-0};" \
		"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf "%-4s %5s | %9s %8s %7s %6s %3s | %9s %8s %7s %6s %3s | %6s %6s\n" test conns \
		"native r/s" "CPU us/r" "p99 us" "RSS M" th "green r/s" "CPU us/r" "p99 us" "RSS M" th \
		"r/s x" "CPU x"
	for _ in $(seq "${ROUNDS:-1}"); do
		for t in set get; do
			for c in $CONC; do
				r=$(light "" $t "$c") || exit 1
				set -- $r
				nr=$1 ncpu=$2 nth=$3 np99=$4 nrss=$5
				r=$(light "$LIB" $t "$c") || exit 1
				set -- $r
				printf "%-4s %5d | %9d %8.1f %7d %6.1f %3d | %9d %8.1f %7d %6.1f %3d | %6.2f %6.2f\n" \
					$t "$c" "$nr" "$ncpu" "$np99" "$nrss" "$nth" "$1" "$2" "$4" "$5" "$3" \
					"$(echo "$1 $nr" | awk '{ print $1 / $2 }')" \
					"$(echo "$2 $ncpu" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')"
			done
		done
	done
	echo
	echo "r/s x: greenshim's requests/s over native's (higher is better);" \
		"CPU x: greenshim's server CPU per request over native's (lower is better);" \
		"th: the server's OS threads."
	exit 0
fi
echo "memcached $(memcached -V | awk '{ print $2 }') -t 4, memcslap -e $N per thread;" \
	"server on CPUs $SERVER_CPUS, load on CPUs $LOAD_CPUS; busy loops on CPUs $SERVER_CPUS: ${HOGS:-0}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%-4s %8s | %10s %9s %7s | %10s %9s %7s | %9s %9s\n" test threads "native r/s" "CPU us/r" \
	threads "green r/s" "CPU us/r" threads "r/s ratio" "CPU ratio"
for t in set get; do
	for c in $CONC; do
		set -- $(one "" $t "$c")
		nr=$1 ncpu=$2 nth=$3
		set -- $(one "$LIB" $t "$c")
		printf "%-4s %8d | %10d %9.1f %7d | %10d %9.1f %7d | %9.2f %9.2f\n" $t "$c" "$nr" "$ncpu" \
			"$nth" "$1" "$2" "$3" "$(echo "$1 $nr" | awk '{ print $1 / $2 }')" \
			"$(echo "$2 $ncpu" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')"
	done
done
echo
echo "r/s ratio: greenshim's requests/s over native's (higher is better);" \
	"CPU ratio: greenshim's server CPU per request over native's (lower is better)."
