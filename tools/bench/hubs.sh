#!/bin/sh
# Many hubs: a thread-per-connection server whose requests cost CPU
# (gs-echo-threads -w PASSES: PASSES hashes of 16 KiB, some 16 us each),
# run natively and under greenshim with one hub and with one per CPU, the
# server allowed every CPU and the load generator (one epoll thread,
# light beside the hashing) sharing them.
#
#   tools/bench/hubs.sh [BUILD_DIR] [SECONDS] [PASSES] [CONNECTIONS...]
#
# Rows alternate native and greenshim, twice over, so that the machine's
# drift shows as a range. Prints round trips per second, latency
# percentiles, the server's CPU per round trip, RSS and OS threads. A
# benchmark: it measures and prints, it checks only that every byte came
# back.
set -eu
B=${1:-build}
SECS=${2:-5}
PASSES=${3:-2}
if [ $# -ge 3 ]; then shift 3; else shift $#; fi
CONNS=${*:-100 1000}
ALL=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)
SERVER_CPUS=$ALL
LOAD_CPUS=$ALL
NCPU=$(nproc)
. tools/bench/lib.sh

echo "echo round trips of 64 bytes, $PASSES hash passes of 16 KiB each, ${SECS}s per row;"
echo "server and load on CPUs $ALL ($NCPU hubs for 'hubs=$NCPU')"
echo
header
for c in $CONNS; do
	for round in 1 2; do
		run "native threads" "" "$c" "$B/gs-echo-threads" -w "$PASSES"
		export GREENSHIM_HUBS=1
		run "greenshim hubs=1" "$LIB" "$c" "$B/gs-echo-threads" -w "$PASSES"
		export GREENSHIM_HUBS=$NCPU
		run "greenshim hubs=$NCPU" "$LIB" "$c" "$B/gs-echo-threads" -w "$PASSES"
		unset GREENSHIM_HUBS
	done
done
echo
echo "CPU us/rt: the server's user+system CPU time per round trip (lower is better);"
echo "RSS and threads: the server's, in the middle of the run."
