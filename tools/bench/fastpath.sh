#!/bin/sh
# The wrappers' fast path: gs-fastpath natively and under greenshim, side
# by side, pinned to one CPU. tools/bench/fastpath.sh [BUILD_DIR]
set -eu
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
cpu=$(($(nproc) - 1))
taskset -c $cpu "$B/gs-fastpath" >"${TMPDIR:-/tmp}/gs-fp-native.$$"
LD_PRELOAD=$LIB taskset -c $cpu "$B/gs-fastpath" >"${TMPDIR:-/tmp}/gs-fp-green.$$"
echo "calls with nothing to wait for, ns per call (best of 5 x 200,000), CPU $cpu"
printf "%-22s %10s %10s %10s\n" call native greenshim added
join "${TMPDIR:-/tmp}/gs-fp-native.$$" "${TMPDIR:-/tmp}/gs-fp-green.$$" |
	awk '{ printf "%-22s %10.1f %10.1f %+10.1f\n", $1, $2, $3, $3 - $2 }'
rm -f "${TMPDIR:-/tmp}/gs-fp-native.$$" "${TMPDIR:-/tmp}/gs-fp-green.$$"
