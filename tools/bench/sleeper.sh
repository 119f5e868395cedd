#!/bin/sh
# Sleeps beside threads that compute (gs-sleeper): main sleeps 10 ms at a
# time for a second while 1, 2 and 3 threads compute, natively and under
# greenshim with one hub (pinned to one CPU, as `taskset -c 0` would give)
# and with the default (one hub per CPU), rows alternating, ROUNDS times
# over: how many sleeps ended and how late. A benchmark: it measures and
# prints.
#   tools/bench/sleeper.sh [BUILD_DIR] [ROUNDS]
set -eu
B=${1:-build}
ROUNDS=${2:-2}
LIB=$(cd "$B" && pwd)/libgreenshim.so
printf "%-28s %8s %7s %13s %14s\n" run spinners sleeps late_mean_ms late_worst_ms
row() {
	name=$1
	n=$2
	shift 2
	env "$@" "$B/gs-sleeper" "$n" 10 1000 | awk -v r="$name" -v n="$n" '
		{ printf "%-28s %8s %7s %13s %14s\n", r, n, $2, $4, $6 }'
}
for _ in $(seq "$ROUNDS"); do
	for n in 1 2 3; do
		row "native threads" $n
		row "native threads, one CPU" $n taskset -c 0
		row "greenshim hubs=1, one CPU" $n GREENSHIM_HUBS=1 LD_PRELOAD="$LIB" taskset -c 0
		row "greenshim, default hubs" $n LD_PRELOAD="$LIB"
	done
done
