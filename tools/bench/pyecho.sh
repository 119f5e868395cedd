#!/bin/sh
# CPython's socketserver.ThreadingTCPServer (a thread per connection,
# tests/real/tcp_echo_server.py) on Debian's python3: natively, under
# greenshim, and under gevent's monkey.patch_all() when python3-gevent is
# installed; the same load and figures as tools/bench/demo.sh.
#
#   tools/bench/pyecho.sh [BUILD_DIR] [SECONDS] [CONNECTIONS...]
set -eu
B=${1:-build}
SECS=${2:-5}
# (dash exits on a shift past the last argument, whatever follows it)
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
CONNS=${*:-100 1000}
PY=/usr/bin/python3
SERVER=tests/real/tcp_echo_server.py
. tools/bench/lib.sh

echo "CPython $($PY -c 'import sys; print(sys.version.split()[0])') ThreadingTCPServer echo," \
	"64-byte round trips for ${SECS}s per row; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
echo
header
for c in $CONNS; do
	run "native threads" "" "$c" $PY -u $SERVER
	run "greenshim" "$LIB" "$c" $PY -u $SERVER
	if $PY -c 'import gevent' 2>/dev/null; then
		run "gevent.monkey" "" "$c" $PY -u -c \
			"from gevent import monkey; monkey.patch_all(); import runpy; runpy.run_path('$SERVER', run_name='__main__')"
	fi
done
$PY -c 'import gevent' 2>/dev/null ||
	echo "(gevent rows: apt-get install python3-gevent)"
echo
echo "CPU us/rt: the server's user+system CPU time per round trip (lower is better)."
