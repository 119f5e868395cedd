#!/bin/sh
# Threads that fight over one lock (gs-contend: a mutex, an rwlock taken
# to write, an rwlock taken to write one time in four, a semaphore of one
# unit), natively and under
# greenshim with one hub and with one per CPU, on every CPU the shell may
# use, rows alternating, ROUNDS times over: wall and CPU time of each lock.
# With one hub per CPU the threads of both hubs contend for real, and a
# woken waiter is on the other hub (docs/ARCHITECTURE.md, *Green
# mutex...*: barging, and hand-off only to a waiter that has waited a
# millisecond). A benchmark: it measures and prints.
#   tools/bench/contend.sh [BUILD_DIR] [ROUNDS] [THREADS] [TAKES] [OUTSIDE]
set -eu
B=${1:-build}
ROUNDS=${2:-3}
shift $(($# < 2 ? $# : 2))
LIB=$(cd "$B" && pwd)/libgreenshim.so
NCPU=$(nproc)
ARGS=$*
echo "gs-contend ${ARGS:-8 100000 50} on CPUs $(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)"
printf "%-20s %-22s %10s %10s\n" run lock wall_ms cpu_ms
row() {
	name=$1
	shift
	# shellcheck disable=SC2086 # ARGS: the program's arguments, split
	env "$@" "$B/gs-contend" $ARGS | awk -v n="$name" '{ printf "%-20s %-22s %10s %10s\n", n, $1, $2, $3 }'
}
for _ in $(seq "$ROUNDS"); do
	row "native threads"
	row "greenshim hubs=1" GREENSHIM_HUBS=1 LD_PRELOAD="$LIB"
	row "greenshim hubs=$NCPU" GREENSHIM_HUBS="$NCPU" LD_PRELOAD="$LIB"
done
