#!/bin/sh
# GIL hand-over beside a CPU-bound thread (tests/real/gil_fairness.py): an
# I/O thread sleeps 10 ms at a time while another thread computes; the
# figure is the gap between its wake-ups (10 ms if the CPU-bound thread
# cost nothing). Natively, under greenshim (its default tick, and 1 ms) and
# under gevent's monkey.patch_all() when python3-gevent is installed; all
# pinned to CPU 0, where the two threads compete for one core.
#   tools/bench/gil.sh [BUILD_DIR]
set -eu
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
PY=/usr/bin/python3
SCRIPT=tests/real/gil_fairness.py

echo "CPython $($PY -c 'import sys; print(sys.version.split()[0])'): I/O thread sleeping 10 ms beside a CPU-bound thread, on one core"
gap() { # NAME [VAR=VALUE...] -- PYTHON ARGS
	name=$1
	shift
	out=$(env "$@" 2>&1) && rc=0 || rc=$?
	line=$(echo "$out" | sed -n 's/^gap between wake-ups: //p')
	if [ $rc -eq 124 ]; then
		line="starved: the I/O thread did not finish 30 sleeps in 10 s"
	elif [ -z "$line" ]; then
		line="failed: $(echo "$out" | tail -n 1)"
	fi
	printf "%-30s %s\n" "$name" "$line"
}
run=" timeout 10 taskset -c 0 $PY"
gap "native threads" $run $SCRIPT --report
gap "greenshim (tick 2 ms)" LD_PRELOAD=$LIB $run $SCRIPT --report
gap "greenshim (tick 1 ms)" LD_PRELOAD=$LIB GREENSHIM_PREEMPT_MS=1 $run $SCRIPT --report
gap "greenshim, no preemption" LD_PRELOAD=$LIB GREENSHIM_PREEMPT_MS=0 $run $SCRIPT --report
if $PY -c 'import gevent' 2>/dev/null; then
	gap "gevent.monkey" $run -c \
		"from gevent import monkey; monkey.patch_all(); import sys, runpy; sys.argv = ['$SCRIPT', '--report']; runpy.run_path('$SCRIPT', run_name='__main__')"
else
	echo "(gevent row: apt-get install python3-gevent)"
fi
