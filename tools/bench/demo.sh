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
# (dash exits on a shift past the last argument, whatever follows it)
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
CONNS=${*:-100 1000}
. tools/bench/lib.sh

echo "echo round trips of 64 bytes for ${SECS}s per row; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
echo
header
for c in $CONNS; do
	run "native threads" "" "$c" "$B/gs-echo-threads"
	run "greenshim" "$LIB" "$c" "$B/gs-echo-threads"
	run "epoll (bound)" "" "$c" "$B/gs-echo-epoll"
done
echo
echo "CPU us/rt: the server's user+system CPU time per round trip (lower is better);"
echo "RSS and threads: the server's, in the middle of the run."
