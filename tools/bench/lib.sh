# Shared by the benchmark runners (sourced after setting B, SECS):
# pinning, /proc readings, and run(), which measures one server under one
# load and prints a row.
LIB=$(cd "$B" && pwd)/libgreenshim.so
TICK=$(getconf CLK_TCK)
if [ "$(nproc)" -ge 2 ]; then
	SERVER_CPU=0
	LOAD_CPU=1
else
	SERVER_CPU=0
	LOAD_CPU=0
fi
# A runner may give the server and the load other CPU lists (hubs.sh).
SERVER_CPUS=${SERVER_CPUS:-$SERVER_CPU}
LOAD_CPUS=${LOAD_CPUS:-$LOAD_CPU}
# 1,000 connections need more than the usual 1,024 open files.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || echo "bench: ulimit -n is $(ulimit -n); large rows may fail" >&2
fi
tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cpu_ticks() { # utime + stime of a process, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

status_field() { # a field of /proc/PID/status, first number
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# port_of FILE [TRIES]: waits for the "port N" line a server prints into
# FILE, TRIES times 0.1 s at most (default 100); prints N, or nothing if
# none came (status 0 either way: the runners run under set -e, and say
# themselves which server did not start).
port_of() {
	for _ in $(seq "${2:-100}"); do
		p=$(awk '/^port/ { print $2 }' "$1" 2>/dev/null || true)
		if [ -n "$p" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.1
	done
}

header() {
	printf "%6s  %-20s %12s %9s %9s %11s %9s %8s\n" conns server "round trips/s" "p50 us" \
		"p99 us" "CPU us/rt" "RSS MiB" threads
}

# run NAME PRELOAD CONNS COMMAND...: starts COMMAND (which prints "port N"),
# pinned, with LD_PRELOAD=PRELOAD if not empty; loads it with CONNS
# connections for SECS seconds; prints a row.
run() {
	name=$1
	preload=$2
	conns=$3
	shift 3
	rm -f "$tmp/port"
	if [ -n "$preload" ]; then
		LD_PRELOAD=$preload taskset -c $SERVER_CPUS "$@" >"$tmp/port" &
	else
		taskset -c $SERVER_CPUS "$@" >"$tmp/port" &
	fi
	server_pid=$!
	port=$(port_of "$tmp/port" 50)
	if [ -z "$port" ]; then
		echo "bench: $name did not start" >&2
		exit 1
	fi
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPUS "$B/gs-echo-load" -p "$port" -c "$conns" -d "$SECS" >"$tmp/load" &
	load_pid=$!
	sleep "$(echo "$SECS" | awk '{ print $1 / 2 }')"
	rss=$(status_field $server_pid VmRSS)
	threads=$(status_field $server_pid Threads)
	if ! wait $load_pid; then
		echo "bench: the load against $name failed:" >&2
		cat "$tmp/load" >&2
		exit 1
	fi
	t1=$(cpu_ticks $server_pid)
	kill $server_pid
	wait $server_pid 2>/dev/null || true
	server_pid=
	awk -v name="$name" -v conns="$conns" -v dt=$((t1 - t0)) -v tick="$TICK" \
		-v rss="$rss" -v threads="$threads" '
	{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		cpu_us = dt / tick * 1e6 / v["roundtrips"]
		printf "%6d  %-20s %12.0f %9.0f %9.0f %11.1f %9.1f %8d\n", conns, name, v["rps"],
		       v["p50_us"], v["p99_us"], cpu_us, rss / 1024, threads
	}' "$tmp/load"
}
