#!/bin/sh
# Bulk transfer into a thread-per-stream server (gs-bulk), natively and
# under greenshim in alternate rounds, the server pinned to one CPU and
# the sender to the other; prints the server's CPU per GiB, bytes per
# recv call and, under greenshim, the preemption ticks it took; a third
# row per round runs greenshim without ticks (GREENSHIM_PREEMPT_MS=0), to
# show what they cost.
#   tools/bench/bulk.sh [BUILD_DIR] [ROUNDS] [STREAMS] [MIB_PER_STREAM]
set -eu
B=${1:-build}
ROUNDS=${2:-3}
STREAMS=${3:-8}
MIB=${4:-256}
SECS=1
. tools/bench/lib.sh

# one NAME PRELOAD [PREEMPT_MS]: one transfer; prints a row.
one() {
	mkfifo "$tmp/in"
	if [ -n "$2" ]; then
		GREENSHIM_PREEMPT_MS=${3:-2} LD_PRELOAD=$2 taskset -c $SERVER_CPU "$B/gs-bulk" serve <"$tmp/in" >"$tmp/out" &
	else
		taskset -c $SERVER_CPU "$B/gs-bulk" serve <"$tmp/in" >"$tmp/out" &
	fi
	server_pid=$!
	exec 3>"$tmp/in"
	port=$(port_of "$tmp/out" 50)
	[ -n "$port" ] || { echo "bulk: the server did not start" >&2; exit 1; }
	taskset -c $LOAD_CPU "$B/gs-bulk" send -p "$port" -s "$STREAMS" -m "$MIB"
	for _ in $(seq 100); do
		grep -q '^bytes' "$tmp/out" && break
		sleep 0.1
	done
	ticks=-
	if [ -n "$2" ]; then
		ticks=$("$B/greenctl" $server_pid stats 2>/dev/null |
			awk '$2 == "preempt_ticks" { t += $3 } END { print t + 0 }')
	fi
	exec 3>&-
	wait $server_pid
	server_pid=
	rm -f "$tmp/in"
	awk -v name="$1" -v ticks="$ticks" '/^bytes/ {
		gib = $2 / 1073741824
		printf "%-10s %8.2f %12.1f %12.0f %10s\n", name, gib, $6 / 1000 / gib, $2 / $4, ticks
	}' "$tmp/out"
}

echo "gs-bulk: $STREAMS streams x $MIB MiB over loopback, server on CPU $SERVER_CPU, sender on CPU $LOAD_CPU"
printf "%-10s %8s %12s %12s %10s\n" server GiB "CPU ms/GiB" "bytes/recv" ticks
for _ in $(seq "$ROUNDS"); do
	one native ""
	one greenshim "$LIB"
	one no-ticks "$LIB" 0
done
