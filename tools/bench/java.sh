#!/bin/sh
# Debian's OpenJDK serving HTTP (tools/bench/JavaHttp.java: a pool of 16
# request threads, a SHA-256 of 16 KiB per request) natively and under
# greenshim, loaded by ab after 10,000 requests that warm the JIT up;
# rows alternate, ROUNDS times. Per row:
# requests/s and the 99th percentile in ms as ab timed them, the JVM's
# user+system CPU per request over the ab run, its OS threads (in the
# middle of the run) and the blocking monitor's reports (greenshim: a
# green thread that kept its OS thread 100 ms). The JVM and ab share
# CPUs SERVER_CPUS and LOAD_CPUS (default 0-1 both).
#
#   [SERVER_CPUS=L LOAD_CPUS=L] tools/bench/java.sh [BUILD_DIR] [REQUESTS] [ROUNDS] [CONNECTIONS]
set -eu
B=${1:-build}
N=${2:-20000}
ROUNDS=${3:-2}
C=${4:-50}
SERVER_CPUS=${SERVER_CPUS:-0-1}
LOAD_CPUS=${LOAD_CPUS:-0-1}
SECS=0 # lib.sh's run() is not used here
. tools/bench/lib.sh
for c in javac java ab; do
	command -v $c >/dev/null || { echo "bench: $c is missing (make deps)" >&2; exit 1; }
done
javac -nowarn -d "$tmp" tools/bench/JavaHttp.java

# one PRELOAD: prints "requests/s p99-ms CPU-us-per-request threads reports".
one() {
	env ${1:+LD_PRELOAD=$1} taskset -c $SERVER_CPUS java -cp "$tmp" JavaHttp 600000 \
		>"$tmp/out" 2>"$tmp/err" &
	server_pid=$!
	port=$(port_of "$tmp/out")
	[ -n "$port" ] || { echo "bench: the JVM did not start" >&2; cat "$tmp/err" >&2; exit 1; }
	# The JIT's first compilations, before the clock starts.
	ab -q -n 10000 -c "$C" "http://127.0.0.1:$port/" >/dev/null 2>&1
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPUS ab -q -n "$N" -c "$C" "http://127.0.0.1:$port/" >"$tmp/ab" 2>&1 &
	abp=$!
	sleep 1
	threads=$(status_field $server_pid Threads)
	wait $abp || { echo "bench: ab failed:" >&2; tail -n 3 "$tmp/ab" >&2; exit 1; }
	t1=$(cpu_ticks $server_pid)
	kill $server_pid
	wait $server_pid 2>/dev/null || true
	server_pid=
	awk -v dt=$((t1 - t0)) -v tick="$TICK" -v n="$N" -v th="$threads" \
		-v reports="$(grep -c 'without switching' "$tmp/err" || true)" '
	/^Requests per second:/ { rps = $4 }
	$1 == "99%" { p99 = $2 }
	END {
		if (rps <= 0) exit 1
		printf "%.0f %s %.1f %d %d\n", rps, p99, dt / tick * 1e6 / n, th, reports
	}' "$tmp/ab"
}

echo "$(java -version 2>&1 | head -n 1); ab -n $N -c $C; JVM on CPUs $SERVER_CPUS, ab on CPUs $LOAD_CPUS;" \
	"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%-10s %9s %8s %9s %8s %8s\n" server "req/s" "p99 ms" "CPU us/r" threads reports
for r in $(seq "$ROUNDS"); do
	for s in native greenshim; do
		pre=
		[ $s = greenshim ] && pre=$LIB
		set -- $(one "$pre")
		printf "%-10s %9d %8s %9.1f %8d %8d\n" $s "$1" "$2" "$3" "$4" "$5"
	done
done
echo
echo "CPU us/r: the JVM's user+system CPU per request (lower is better); reports: the"
echo "blocking monitor's (docs/TOOLS.md)."
