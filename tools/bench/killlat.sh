#!/bin/sh
# A signal to a computing thread (gs-killlat): THREADS threads compute
# while main sends them pthread_kill in turn, natively and under greenshim
# at its default (one hub per CPU: a thread may be on another hub than
# main's), rows alternating, ROUNDS times over: the delay from the send
# to the handler, in microseconds. A benchmark: it measures and prints.
#   tools/bench/killlat.sh [BUILD_DIR] [ROUNDS] [THREADS]
set -eu
B=${1:-build}
ROUNDS=${2:-3}
THREADS=${3:-2}
LIB=$(cd "$B" && pwd)/libgreenshim.so
printf "%-16s %8s %10s %8s %8s\n" run threads median_us p90_us max_us
row() {
	name=$1
	shift
	env "$@" "$B/gs-killlat" "$THREADS" 200 | awk -v r="$name" -v n="$THREADS" '
		{ printf "%-16s %8s %10s %8s %8s\n", r, n, $2, $4, $6 }'
}
for _ in $(seq "$ROUNDS"); do
	row "native threads"
	row "greenshim" LD_PRELOAD="$LIB"
done
