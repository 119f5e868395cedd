#!/bin/sh
# CPython's own regression tests (Debian's python3 and its
# libpython3.X-testsuite) under LD_PRELOAD=$B/libgreenshim.so, each module
# against a native run on the same machine: every test case must have the
# outcome it has natively (passed, failed, error or skipped). The modules
# exercise threads, sockets, select/poll/epoll, signals, subprocesses and
# TLS; test_concurrent_futures only for its process-pool crash tests (the
# whole module takes minutes). test_socket is left out: natively, on these
# machines, it hangs in its VSOCK tests (docs/LIMITATIONS.md).
# Prints "ok - cpython_MODULE" or "FAIL - cpython_MODULE: why" per module,
# then "cpython: N passed, N failed".
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

MODULES="test_socketserver test_thread test_select test_selectors test_queue test_time
test_signal test_httpservers test_poll test_epoll test_threading_local test_xmlrpc
test_urllib2_localnet test_ssl test_threading test_subprocess"

# regrtest [ENV...] COMMAND...: one run of CPython's runner, its output
# (the blocking monitor's reports included: GREENSHIM_LOG would have to be
# writable by the user test_subprocess's children switch to) kept aside.
regrtest() {
	env "$@" >>"$tmp/runner.log" 2>&1
}

# run TAG [ENV...]: the modules, then the crash tests of
# test_concurrent_futures, natively (TAG native) or under greenshim.
run() {
	tag=$1
	shift
	regrtest "$@" timeout 900 $PY -m test -j2 -u network --junit-xml "$tmp/$tag-1.xml" $MODULES
	regrtest "$@" timeout 300 $PY -m test -j2 -m '*ExecutorDeadlockTest*' \
		--junit-xml "$tmp/$tag-2.xml" test_concurrent_futures
}

# again PART XML MODULE [ENV...]: MODULE alone, as in part PART.
again() {
	part=$1 xml=$2 module=$3
	shift 3
	if [ "$part" = 2 ]; then
		regrtest "$@" timeout 600 $PY -m test -m '*ExecutorDeadlockTest*' --junit-xml "$xml" $module
	else
		regrtest "$@" timeout 600 $PY -m test -u network --junit-xml "$xml" $module
	fi
}

if ! $PY -c 'import importlib.util as u, sys; import test.support, test.libregrtest
sys.exit(u.find_spec("test.test_threading") is None)' 2>/dev/null; then
	skip cpython_regression_tests "no CPython test suite (libpython3.X-testsuite; make deps)"
	summary cpython
	exit
fi
run native
run green LD_PRELOAD=$LIB
for part in 1 2; do
	if [ ! -s "$tmp/native-$part.xml" ] || [ ! -s "$tmp/green-$part.xml" ]; then
		fail cpython_run_$part "the runner wrote no results: $(tail -n 20 "$tmp/runner.log")"
		continue
	fi
	if ! $PY tests/cpython/compare.py "$tmp/native-$part.xml" "$tmp/green-$part.xml" \
		>"$tmp/cmp" 2>"$tmp/cmp.err" && [ -s "$tmp/cmp.err" ]; then
		fail cpython_compare_$part "$(tail -n 3 "$tmp/cmp.err")"
	fi
	if [ ! -s "$tmp/cmp" ]; then
		fail cpython_compare_$part "no module compared: $(tail -n 5 "$tmp/runner.log")"
		continue
	fi
	while read -r verdict module rest; do
		module=${module%:} # "differ MODULE: cases..."
		case $verdict in
		same)
			ok "cpython_$module"
			;;
		*)
			# CPython's tests time things: a module that differs
			# runs once more both ways, alone, and must match then.
			case $module in test_*) ;; *) fail "cpython_$module" "$rest"; continue ;; esac
			again $part "$tmp/again-n.xml" $module
			again $part "$tmp/again-g.xml" $module LD_PRELOAD=$LIB
			if $PY tests/cpython/compare.py "$tmp/again-n.xml" "$tmp/again-g.xml" $module \
				>"$tmp/again" 2>&1; then
				ok "cpython_$module (differed once: $rest; the same on a second run)"
			else
				fail "cpython_$module" "$rest; again: $(cat "$tmp/again")"
			fi
			;;
		esac
	done <"$tmp/cmp"
done
# What a failure leaves to look at: the results and the runner's output.
if [ "$failed" -ne 0 ]; then
	mkdir -p "$B/tests/cpython-last" && cp "$tmp"/*.xml "$tmp/runner.log" "$B/tests/cpython-last/" 2>/dev/null
	echo "(results and the runner's output kept in $B/tests/cpython-last/)"
fi
summary cpython
