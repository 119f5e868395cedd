#!/bin/sh
# A signal thread (gs-sigwaitbench): main takes SIGNALS SIGUSR1s in a
# sigwait loop beside four sleeping threads, sent by a child as fast as
# every 20 µs; natively, under greenshim on one hub and at its default
# (one hub per CPU), rows alternating, ROUNDS times over: the process's
# CPU time per signal taken, in microseconds. A benchmark: it measures
# and prints.
#   tools/bench/sigwait.sh [BUILD_DIR] [ROUNDS] [SIGNALS]
set -eu
B=${1:-build}
ROUNDS=${2:-3}
SIGNALS=${3:-20000}
LIB=$(cd "$B" && pwd)/libgreenshim.so
printf "%-16s %8s %8s %12s\n" run signals wall_s cpu_us/signal
row() {
	name=$1
	shift
	env "$@" "$B/gs-sigwaitbench" "$SIGNALS" 4 | awk -v r="$name" '
		{ printf "%-16s %8s %8s %12s\n", r, $2, $4, $6 }'
}
for _ in $(seq "$ROUNDS"); do
	row "native threads"
	row "greenshim 1 hub" GREENSHIM_HUBS=1 LD_PRELOAD="$LIB"
	row "greenshim" LD_PRELOAD="$LIB"
done
