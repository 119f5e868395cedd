#!/bin/sh
# Threads that compute unevenly (gs-uneven: half of them short, half
# long), natively and under greenshim with one hub and with one per CPU
# (and with one per CPU but no moves: GREENSHIM_PREEMPT_MS=0), rows
# alternating, ROUNDS times over: wall and CPU time of each run. With one
# hub per CPU the long threads placed on one hub move to the hub the short
# ones left idle when the preemption tick takes them off the CPU, or, with
# PAUSE_US (a sleep after every 0.4 ms of computing), as they return from
# their sleep (docs/ARCHITECTURE.md, *Many hubs*). A benchmark: it
# measures and prints.
#   tools/bench/uneven.sh [BUILD_DIR] [ROUNDS] [THREADS] [SHORT] [LONG] [PAUSE_US]
set -eu
B=${1:-build}
ROUNDS=${2:-3}
shift $(($# < 2 ? $# : 2))
LIB=$(cd "$B" && pwd)/libgreenshim.so
NCPU=$(nproc)
echo "gs-uneven ${*:-4 500 10000} on CPUs $(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)"
printf "%-20s %10s %10s\n" run wall_ms cpu_ms
row() {
	name=$1
	shift
	env "$@" "$B/gs-uneven" $ARGS | awk -v n="$name" '
		$1 == "wall_ms" { w = $2 } $1 == "cpu_ms" { c = $2 }
		END { printf "%-20s %10s %10s\n", n, w, c }'
}
ARGS=$*
for _ in $(seq "$ROUNDS"); do
	row "native threads"
	row "greenshim hubs=1" GREENSHIM_HUBS=1 LD_PRELOAD="$LIB"
	row "greenshim hubs=$NCPU" GREENSHIM_HUBS="$NCPU" LD_PRELOAD="$LIB"
	row "  the same, no moves" GREENSHIM_HUBS="$NCPU" GREENSHIM_PREEMPT_MS=0 LD_PRELOAD="$LIB"
done
