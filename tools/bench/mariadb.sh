#!/bin/sh
# Debian's MariaDB server (mariadbd: InnoDB's threads and a thread per
# connection) natively and under greenshim, loaded by sysbench's
# oltp_read_write (18 statements a transaction, a commit that flushes the
# redo log) on four tables of 10,000 rows through the unix socket. Rows
# alternate native and greenshim, ROUNDS times, each on a fresh copy of
# one data directory loaded once. Per row: the connections, transactions/s
# and the 99th percentile latency in ms as sysbench measured them, the
# server's user+system CPU per transaction (from /proc over the run), its
# OS threads and RSS (read in the middle of the run). The server runs on
# CPUs SERVER_CPUS (default 0-1: every hub greenshim makes), sysbench on
# LOAD_CPUS (default 0-1: sysbench needs about a third of the CPU the
# server does, so on a two-CPU machine the two share); SERVER_CPUS=0
# LOAD_CPUS=1 gives the one-hub figure. GREENSHIM_* variables in the
# environment apply to the greenshim rows (e.g. GREENSHIM_FILE_IO=pool).
# MARIADB_OPTS adds server options to every row (e.g.
# --innodb-flush-method=O_DSYNC: the redo log opened with O_DSYNC).
#
#   [SERVER_CPUS=L LOAD_CPUS=L] [MARIADB_OPTS=...] tools/bench/mariadb.sh [BUILD_DIR] [SECONDS] [ROUNDS] [CONNECTIONS...]
#
# Default: 10 s a row, 3 rounds, 4 and 16 connections.
set -eu
B=${1:-build}
RUN_SECS=${2:-10}
ROUNDS=${3:-3}
[ $# -ge 3 ] && shift 3 || shift $#
CONNS=${*:-4 16}
SERVER_CPUS=${SERVER_CPUS:-0-1}
LOAD_CPUS=${LOAD_CPUS:-0-1}
SECS=0 # lib.sh's run() is not used here
. tools/bench/lib.sh
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
for p in "$MARIADBD" mariadb mariadb-install-db sysbench; do
	command -v "$p" >/dev/null || { echo "bench: $p is missing (make deps)" >&2; exit 1; }
done

d=$tmp/mariadb
mkdir -p "$d"
user=
[ "$(id -u)" -eq 0 ] && user=--user=root
sb="sysbench --db-driver=mysql --mysql-user=root --mysql-socket=$d/sock --mysql-db=sbtest --tables=4 --table-size=10000"

# start PRELOAD DATADIR: the server, on SERVER_CPUS, until it answers.
start() {
	env ${1:+LD_PRELOAD=$1} taskset -c $SERVER_CPUS "$MARIADBD" --no-defaults \
		--datadir="$2" --socket="$d/sock" --skip-networking $user \
		--log-error="$d/err.log" --pid-file="$d/pid" --innodb-buffer-pool-size=128M \
		${MARIADB_OPTS:-} >"$d/out" 2>&1 &
	server_pid=$!
	for _ in $(seq 150); do
		mariadb -uroot -S "$d/sock" -e 'select 1' >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "bench: mariadbd did not start: $(tail -n 3 "$d/err.log")" >&2
	exit 1
}

stop() {
	mariadb -uroot -S "$d/sock" -e shutdown >/dev/null 2>&1 || kill -TERM $server_pid
	wait $server_pid 2>/dev/null || true
	server_pid=
}

# The data directory, made and loaded once, natively.
mariadb-install-db --no-defaults --datadir="$d/seed" $user \
	--auth-root-authentication-method=normal >"$d/install" 2>&1 ||
	{ echo "bench: mariadb-install-db failed: $(tail -n 3 "$d/install")" >&2; exit 1; }
start "" "$d/seed"
mariadb -uroot -S "$d/sock" -e 'create database sbtest'
$sb oltp_read_write prepare >"$d/prepare" 2>&1 ||
	{ echo "bench: sysbench prepare failed: $(tail -n 3 "$d/prepare")" >&2; exit 1; }
stop

# one PRELOAD CONNS: prints "tps p99-ms CPU-us-per-transaction threads
# RSS-MiB errors".
one() {
	rm -rf "$d/data"
	cp -a "$d/seed" "$d/data"
	start "$1" "$d/data"
	# Warm-up: the buffer pool, the server's threads.
	taskset -c $LOAD_CPUS $sb --threads="$2" --time=3 oltp_read_write run >/dev/null 2>&1
	t0=$(cpu_ticks $server_pid)
	taskset -c $LOAD_CPUS $sb --threads="$2" --time="$RUN_SECS" --percentile=99 \
		oltp_read_write run >"$tmp/sb" 2>&1 &
	sbp=$!
	sleep "$(echo "$RUN_SECS" | awk '{ print $1 / 2 }')"
	threads=$(status_field $server_pid Threads)
	rss=$(status_field $server_pid VmRSS)
	wait $sbp || { echo "bench: sysbench failed:" >&2; tail -n 3 "$tmp/sb" >&2; exit 1; }
	t1=$(cpu_ticks $server_pid)
	stop
	awk -v dt=$((t1 - t0)) -v tick="$TICK" -v th="$threads" -v rss="$rss" '
	/transactions:/ { n = $2; tps = $3; gsub(/\(/, "", tps) }
	/99th percentile:/ { p99 = $3 }
	/ignored errors:/ { errors = $3 }
	END {
		if (n <= 0) exit 1
		printf "%.1f %s %.0f %d %.1f %d\n", tps, p99, dt / tick * 1e6 / n, th, rss / 1024, errors
	}' "$tmp/sb"
}

echo "mariadbd $("$MARIADBD" --version | sed -n 's/.*Ver \([^ ]*\).*/\1/p'), sysbench oltp_read_write," \
	"4 x 10,000 rows, ${RUN_SECS}s a row; server on CPUs $SERVER_CPUS, sysbench on CPUs $LOAD_CPUS;" \
	"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%5s %-10s %9s %8s %10s %8s %8s %7s\n" conns server "trans/s" "p99 ms" "CPU us/tx" \
	threads "RSS MiB" errors
for r in $(seq "$ROUNDS"); do
	for c in $CONNS; do
		for s in native greenshim; do
			pre=
			[ $s = greenshim ] && pre=$LIB
			set -- $(one "$pre" "$c")
			printf "%5d %-10s %9.1f %8s %10d %8d %8.1f %7d\n" "$c" $s "$1" "$2" "$3" "$4" "$5" "$6"
		done
	done
done
echo
echo "CPU us/tx: the server's user+system CPU per transaction (lower is better); threads"
echo "and RSS: the server's, in the middle of the run (greenshim's count its hubs and its own"
echo "threads, and the kernel's io_uring workers: iou-wrk-*); errors: sysbench's ignored"
echo "errors (deadlocks it retries)."
