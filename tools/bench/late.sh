#!/bin/sh
# Threads that compute in code loaded after the start (greenshim's "late
# code": docs/ARCHITECTURE.md, *Late code* and *Many hubs*), natively and
# under greenshim at its defaults, rows alternating, ROUNDS rounds:
#  - Debian's python3 hashing from THREADS threads with hashlib (OpenSSL's
#    libcrypto, which _hashlib loads; the GIL released), 64 MiB x 20 each
#    (tools/bench/hash_threads.py);
#  - tests/tools/late_threads: four threads computing in a library loaded
#    with dlopen, two of them 10 ms, two 1.5 s, placed unevenly.
# With more threads than hubs, a hub's threads take turns until one is
# moved to a hub that others left idle. Per row: wall-clock seconds, the
# process's user+system CPU seconds, and greenshim's wall over native's.
#   tools/bench/late.sh [BUILD_DIR] [ROUNDS] [THREADS]
set -eu
B=${1:-build}
ROUNDS=${2:-3}
THREADS=${3:-3}
SECS=0 # lib.sh's run() is not used here
. tools/bench/lib.sh
PY=/usr/bin/python3
[ -x "$B/tests/tools/late_threads" ] || { echo "bench: make $B/tests/tools/late_threads first" >&2; exit 1; }

# children_s FILE: the user+system seconds of this shell's ended children
# (times, run in this shell: in a subshell it would see the subshell's).
children_s() {
	sed -n 2p "$1" | awk '{
		s = 0
		for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] }
		printf "%.2f", s }'
}

# one WHO COMMAND...: runs COMMAND (natively or under greenshim) in this
# shell, and puts "wall-s cpu-s" (its wall_ms or wall_s line; its CPU) in
# $row.
one() {
	who=$1
	shift
	times >"$tmp/before"
	if [ "$who" = greenshim ]; then
		LD_PRELOAD=$LIB "$@" >"$tmp/out" 2>&1 || true
	else
		"$@" >"$tmp/out" 2>&1 || true
	fi
	times >"$tmp/after"
	grep -q -E '^ok$|same$' "$tmp/out" || { echo "bench: $* failed: $(cat "$tmp/out")" >&2; exit 1; }
	row="$(awk '/^wall_s/ {print $2} /^wall_ms/ {print $2 / 1000}' "$tmp/out") $(echo "$(children_s "$tmp/after") $(children_s "$tmp/before")" | awk '{printf "%.2f", $1 - $2}')"
}

echo "$(nproc) CPUs; greenshim at its defaults; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-34s | %7s %6s | %7s %6s | %6s\n" program "native" "CPU s" "green" "CPU s" "wall x"
for r in $(seq "$ROUNDS"); do
	for prog in py late; do
		if [ $prog = py ]; then
			name="python3 hashlib, $THREADS threads"
			set -- "$PY" tools/bench/hash_threads.py "$THREADS" 20
		else
			name="late_threads 4 10 1500"
			set -- "$B/tests/tools/late_threads" 4 10 1500
		fi
		one native "$@"
		n=$row
		one greenshim "$@"
		echo "$n $row" | awk -v name="$name" '{
			printf "%-34s | %7.2f %6.2f | %7.2f %6.2f | %6.2f\n", name, $1, $2, $3, $4, $3 / $1 }'
	done
done
echo
echo "wall x: greenshim's wall-clock time over native's (lower is better)."
