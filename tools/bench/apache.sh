#!/bin/sh
# Debian's Apache httpd with the event MPM (two children of 25 worker
# threads, as tests/real runs it), natively and under greenshim, loaded by
# ab (apache2-utils) fetching a 1 KiB file. Rows alternate native and
# greenshim, ROUNDS times. Per row: the load (connections, and "k" for
# keep-alive), requests/s and the 99th percentile in ms as ab timed them,
# the server's user+system CPU per request (the parent and its children,
# from /proc over the whole ab run), its OS threads and RSS (summed over
# the children, read in the middle of the run). The server runs on CPUs
# SERVER_CPUS (default 0-1: every hub greenshim makes), ab on LOAD_CPUS
# (default 0-1); SERVER_CPUS=0 LOAD_CPUS=1 gives the one-hub figure.
#
#   [SERVER_CPUS=L LOAD_CPUS=L] tools/bench/apache.sh [BUILD_DIR] [REQUESTS] [ROUNDS] [LOADS...]
#
# A LOAD is CONNECTIONS or CONNECTIONS:k (keep-alive); default "40 40:k".
set -eu
B=${1:-build}
N=${2:-20000}
ROUNDS=${3:-2}
[ $# -ge 3 ] && shift 3 || shift $#
LOADS=${*:-40 40:k}
SERVER_CPUS=${SERVER_CPUS:-0-1}
LOAD_CPUS=${LOAD_CPUS:-0-1}
SECS=0 # lib.sh's run() is not used here
. tools/bench/lib.sh
APACHE2=$(command -v apache2 || echo /usr/sbin/apache2)
[ -x "$APACHE2" ] || { echo "bench: apache2 is missing (make deps)" >&2; exit 1; }
command -v ab >/dev/null || { echo "bench: ab is missing (make deps)" >&2; exit 1; }

d=$tmp/apache
mkdir -p "$d/htdocs" "$d/logs" "$d/run"
head -c 768 /dev/urandom | base64 -w 76 >"$d/htdocs/f.txt"
chmod a+x "$tmp"
chmod -R a+rX "$d"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# tests/real/httpd.conf.in, filled in as tests/real/run.sh fills it.
u="# User: as whoever runs it" g="#"
[ "$(id -u)" -eq 0 ] && u="User www-data" g="Group www-data"
sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$port|g" -e "s|@USER@|$u|" -e "s|@GROUP@|$g|" \
	tests/real/httpd.conf.in >"$d/httpd.conf"
url=http://127.0.0.1:$port/f.txt

# The server's processes: the parent and its children.
procs() {
	echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"
}

# one PRELOAD CONNS KEEPALIVE: prints "requests/s p99-ms CPU-us-per-request
# threads RSS-MiB".
one() {
	env ${1:+LD_PRELOAD=$1} taskset -c $SERVER_CPUS "$APACHE2" -f "$d/httpd.conf" -DFOREGROUND \
		>"$d/out" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null "$url" && break
		sleep 0.1
	done
	t0=0
	for p in $(procs $server_pid); do t0=$((t0 + $(cpu_ticks $p))); done
	taskset -c $LOAD_CPUS ab -q ${3:+-k} -n "$N" -c "$2" "$url" >"$tmp/ab" 2>&1 &
	abp=$!
	sleep 0.5
	threads=0 rss=0
	for p in $(procs $server_pid); do
		threads=$((threads + $(status_field $p Threads)))
		rss=$((rss + $(status_field $p VmRSS)))
	done
	wait $abp || { echo "bench: ab failed:" >&2; tail -n 3 "$tmp/ab" >&2; exit 1; }
	t1=0
	for p in $(procs $server_pid); do t1=$((t1 + $(cpu_ticks $p))); done
	kill -TERM $server_pid
	wait $server_pid 2>/dev/null || true
	server_pid=
	awk -v dt=$((t1 - t0)) -v tick="$TICK" -v n="$N" -v th="$threads" -v rss="$rss" '
	/^Requests per second:/ { rps = $4 }
	/^Failed requests:/ { failed = $3 }
	$1 == "99%" { p99 = $2 }
	END {
		if (rps <= 0) exit 1
		printf "%.0f %s %.1f %d %.1f %d\n", rps, p99, dt / tick * 1e6 / n, th, rss / 1024, failed
	}' "$tmp/ab"
}

echo "apache2 $("$APACHE2" -v | sed -n 's/^Server version: Apache\/\([^ ]*\).*/\1/p') event MPM, 2 x 25 threads;" \
	"ab -n $N of a 1 KiB file; server on CPUs $SERVER_CPUS, ab on CPUs $LOAD_CPUS;" \
	"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%-6s %-10s %9s %8s %9s %8s %8s %7s\n" load server "req/s" "p99 ms" "CPU us/r" \
	threads "RSS MiB" failed
for r in $(seq "$ROUNDS"); do
	for l in $LOADS; do
		c=${l%:k}
		k=
		[ "$l" != "$c" ] && k=k
		for s in native greenshim; do
			pre=
			[ $s = greenshim ] && pre=$LIB
			set -- $(one "$pre" "$c" "$k")
			printf "%-6s %-10s %9d %8s %9.1f %8d %8.1f %7d\n" "$l" $s "$1" "$2" "$3" "$4" "$5" "$6"
		done
	done
done
echo
echo "CPU us/r: the server's user+system CPU per request (lower is better); threads and"
echo "RSS: the parent's and children's, in the middle of the run; failed: ab's count (with"
echo "keep-alive, connections the server closes count; natively too)."
