#!/bin/sh
# The demo: one thread-per-connection echo server (gs-echo-threads, plain
# pthreads and blocking I/O) run natively and under greenshim, beside the
# hand-written single-threaded epoll server, under the same load.
#
#   tools/bench/demo.sh [BUILD_DIR] [SECONDS] [CONNECTIONS...]
#
# The server is pinned to one CPU and the load generator to the other. For
# each server and connection count it prints round trips per second,
# latency percentiles, the server's CPU time per round trip (utime+stime
# from /proc/PID/stat over the run), its RSS and its thread count (both
# read from /proc/PID/status in the middle of the run). A benchmark: it
# measures and prints, it checks only that every byte came back.
set -eu
B=${1:-build}
SECS=${2:-5}
shift 2 2>/dev/null || shift $#
CONNS=${*:-100 1000}
LIB=$(cd "$B" && pwd)/libgreenshim.so
TICK=$(getconf CLK_TCK)
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
	SERVER_CPU=0
	LOAD_CPU=1
else
	SERVER_CPU=0
	LOAD_CPU=0
fi
# 1,000 connections need more than the usual 1,024 open files.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || echo "demo: ulimit -n is $(ulimit -n); large rows may fail" >&2
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

# run NAME PRELOAD PROGRAM CONNS: one server under one load; prints a row.
run() {
	name=$1
	preload=$2
	prog=$3
	conns=$4
	rm -f "$tmp/port"
	if [ -n "$preload" ]; then
		LD_PRELOAD=$preload taskset -c $SERVER_CPU "$prog" >"$tmp/port" &
	else
		taskset -c $SERVER_CPU "$prog" >"$tmp/port" &
	fi
	server_pid=$!
	port=
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		port=$(awk '/^port/ { print $2 }' "$tmp/port" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "demo: $name did not start" >&2
		exit 1
	fi
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPU "$B/gs-echo-load" -p "$port" -c "$conns" -d "$SECS" >"$tmp/load" &
	load_pid=$!
	sleep "$(echo "$SECS" | awk '{ print $1 / 2 }')"
	rss=$(status_field $server_pid VmRSS)
	threads=$(status_field $server_pid Threads)
	if ! wait $load_pid; then
		echo "demo: the load against $name failed:" >&2
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
		printf "%6d  %-16s %12.0f %9.0f %9.0f %11.1f %9.1f %8d\n", conns, name, v["rps"],
		       v["p50_us"], v["p99_us"], cpu_us, rss / 1024, threads
	}' "$tmp/load"
}

echo "echo round trips of 64 bytes for ${SECS}s per row; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
echo
printf "%6s  %-16s %12s %9s %9s %11s %9s %8s\n" conns server "round trips/s" "p50 us" "p99 us" \
	"CPU us/rt" "RSS MiB" threads
for c in $CONNS; do
	run "native threads" "" "$B/gs-echo-threads" "$c"
	run "greenshim" "$LIB" "$B/gs-echo-threads" "$c"
	run "epoll (bound)" "" "$B/gs-echo-epoll" "$c"
done
echo
echo "CPU us/rt: the server's user+system CPU time per round trip (lower is better);"
echo "RSS and threads: the server's, in the middle of the run."
