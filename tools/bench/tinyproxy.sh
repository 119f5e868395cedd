#!/bin/sh
# Debian's tinyproxy, a thread per client connection (MaxClients 100),
# natively and under greenshim, relaying ab's requests (through -X) to
# Debian's Apache httpd (tests/real's set-up, run natively, the same for
# every row) for a 5 KB file. Each request is a new connection, so a
# thread is made and ends per request, and the number alive swings with
# the load. Rows alternate native and greenshim, ROUNDS times. Per row:
# requests/s and the 99th percentile in ms as ab timed them, tinyproxy's
# user+system CPU per request (from /proc, over the whole ab run), its OS
# threads and RSS (in the middle of the run) and RSS 3 s after the run.
# tinyproxy and apache2 run on SERVER_CPUS (default 0-1), ab on LOAD_CPUS
# (default 0-1). A benchmark: it measures and prints; it stops if any
# response was not a 200.
#
#   [SERVER_CPUS=L LOAD_CPUS=L] tools/bench/tinyproxy.sh [BUILD_DIR] [REQUESTS] [ROUNDS] [CONNS]
#
# tinyproxy is not among make deps' packages: apt-get install tinyproxy.
set -eu
B=${1:-build}
N=${2:-10000}
ROUNDS=${3:-3}
CONNS=${4:-40}
SERVER_CPUS=${SERVER_CPUS:-0-1}
LOAD_CPUS=${LOAD_CPUS:-0-1}
SECS=0 # lib.sh's run() is not used here
. tools/bench/lib.sh
TINYPROXY=$(command -v tinyproxy || echo /usr/bin/tinyproxy)
APACHE2=$(command -v apache2 || echo /usr/sbin/apache2)
[ -x "$TINYPROXY" ] || { echo "bench: tinyproxy is missing (apt-get install tinyproxy)" >&2; exit 1; }
[ -x "$APACHE2" ] || { echo "bench: apache2 is missing (make deps)" >&2; exit 1; }
command -v ab >/dev/null || { echo "bench: ab is missing (make deps)" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

d=$tmp/apache
mkdir -p "$d/htdocs" "$d/logs" "$d/run"
head -c 5000 /dev/urandom >"$d/htdocs/f.bin"
chmod a+x "$tmp"
chmod -R a+rX "$d"
aport=$(free_port)
u="# User: as whoever runs it" g="#"
[ "$(id -u)" -eq 0 ] && u="User www-data" g="Group www-data"
sed -e "s|@DIR@|$d|g" -e "s|@PORT@|$aport|g" -e "s|@USER@|$u|" -e "s|@GROUP@|$g|" \
	tests/real/httpd.conf.in >"$d/httpd.conf"
taskset -c $SERVER_CPUS "$APACHE2" -f "$d/httpd.conf" -DFOREGROUND >"$d/out" 2>&1 &
apache_pid=$!
url=http://127.0.0.1:$aport/f.bin
for _ in $(seq 100); do
	curl -sf -o /dev/null "$url" && break
	sleep 0.1
done
curl -sf -o /dev/null "$url" || { echo "bench: apache2 did not start" >&2; exit 1; }
trap 'kill $apache_pid 2>/dev/null; cleanup' EXIT INT TERM

pport=$(free_port)
cat >"$tmp/tinyproxy.conf" <<EOF
Port $pport
Listen 127.0.0.1
Timeout 60
MaxClients 100
LogLevel Warning
Allow 127.0.0.1
DisableViaHeader Yes
EOF

# one PRELOAD: prints "requests/s p99-ms CPU-us-per-request threads
# RSS-MiB RSS-after-MiB".
one() {
	env ${1:+LD_PRELOAD=$1} taskset -c $SERVER_CPUS "$TINYPROXY" -d -c "$tmp/tinyproxy.conf" \
		>"$tmp/tp.out" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null -x "127.0.0.1:$pport" "$url" && break
		sleep 0.1
	done
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPUS ab -q -n "$N" -c "$CONNS" -X "127.0.0.1:$pport" "$url" >"$tmp/ab" 2>&1 &
	abp=$!
	sleep 0.5
	threads=$(status_field $server_pid Threads)
	rss=$(status_field $server_pid VmRSS)
	wait $abp || { echo "bench: ab failed:" >&2; tail -n 3 "$tmp/ab" >&2; exit 1; }
	t1=$(cpu_ticks $server_pid)
	sleep 3
	after=$(status_field $server_pid VmRSS)
	kill -TERM $server_pid
	wait $server_pid 2>/dev/null || true
	server_pid=
	if grep -q '^Non-2xx' "$tmp/ab" || ! grep -q '^Failed requests: *0$' "$tmp/ab"; then
		echo "bench: responses other than 200 (is apache2 serving?):" >&2
		grep -E '^(Non-2xx|Failed)' "$tmp/ab" >&2
		exit 1
	fi
	awk -v dt=$((t1 - t0)) -v tick="$TICK" -v n="$N" -v th="$threads" -v rss="$rss" \
		-v after="$after" '
	/^Requests per second:/ { rps = $4 }
	$1 == "99%" { p99 = $2 }
	END {
		if (rps <= 0) exit 1
		printf "%.0f %s %.1f %d %.1f %.1f\n", rps, p99, dt / tick * 1e6 / n, th, rss / 1024,
			after / 1024
	}' "$tmp/ab"
}

echo "tinyproxy $("$TINYPROXY" -v 2>&1 | awk '{ print $2 }'), a thread per connection;" \
	"ab -n $N -c $CONNS of a 5 KB file from apache2 through it;" \
	"tinyproxy and apache2 on CPUs $SERVER_CPUS, ab on CPUs $LOAD_CPUS;" \
	"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%-10s %9s %8s %9s %8s %8s %10s\n" server "req/s" "p99 ms" "CPU us/r" threads "RSS MiB" \
	"RSS after"
for r in $(seq "$ROUNDS"); do
	for s in native greenshim; do
		pre=
		[ $s = greenshim ] && pre=$LIB
		set -- $(one "$pre")
		printf "%-10s %9d %8s %9.1f %8d %8.1f %10.1f\n" $s "$1" "$2" "$3" "$4" "$5" "$6"
	done
done
echo
echo "CPU us/r: tinyproxy's user+system CPU per request (lower is better); threads and RSS:"
echo "tinyproxy's, in the middle of the run; RSS after: 3 s after the run ended."
