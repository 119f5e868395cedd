#!/bin/sh
# An ordinary program that prints "NAME NS" lines, run natively and under
# greenshim, pinned to one CPU; prints both columns and the difference.
#   tools/bench/sidebyside.sh [BUILD_DIR] [PROGRAM]   (default gs-fastpath)
set -eu
B=${1:-build}
PROG=${2:-gs-fastpath}
LIB=$(cd "$B" && pwd)/libgreenshim.so
cpu=$(($(nproc) - 1))
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
taskset -c $cpu "$B/$PROG" >"$out/native"
LD_PRELOAD=$LIB taskset -c $cpu "$B/$PROG" >"$out/green"
echo "$PROG: ns per call (best of 5), native and under greenshim, CPU $cpu"
printf "%-22s %10s %10s %10s\n" call native greenshim difference
join "$out/native" "$out/green" |
	awk '{ printf "%-22s %10.1f %10.1f %+10.1f\n", $1, $2, $3, $3 - $2 }'
