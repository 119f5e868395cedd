#!/bin/sh
# The seed benchmark of the gevent articles: ab -n 10000 -c 100 against a
# WSGI hello world (wsgiref with a thread per request,
# tests/real/wsgi_hello.py) on Debian's python3: natively, under greenshim,
# and under gevent's monkey.patch_all() if python3-gevent is installed.
# Needs ab (apache2-utils). Server on CPU 0, ab on CPU 1.
#   tools/bench/pywsgi.sh [BUILD_DIR]
set -eu
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
PY=/usr/bin/python3
APP=tests/real/wsgi_hello.py
command -v ab >/dev/null || { echo "pywsgi: ab is missing: apt-get install apache2-utils" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${server:-}" ] && kill $server 2>/dev/null' EXIT

# row NAME PRELOAD COMMAND...: one server, one ab run.
row() {
	name=$1
	preload=$2
	shift 2
	rm -f "$tmp/port"
	env ${preload:+LD_PRELOAD=$preload} taskset -c 0 "$@" >"$tmp/port" &
	server=$!
	for _ in $(seq 50); do
		grep -q '^port' "$tmp/port" 2>/dev/null && break
		sleep 0.1
	done
	port=$(awk '/^port/ { print $2 }' "$tmp/port")
	taskset -c 1 ab -q -n 10000 -c 100 "http://127.0.0.1:$port/" >"$tmp/ab" 2>&1
	kill $server
	wait $server 2>/dev/null || true
	server=
	awk -v name="$name" '/Requests per second/ { rps = $4 } /Failed requests/ { failed = $3 }
		END { printf "%-16s %12.0f %8d\n", name, rps, failed }' "$tmp/ab"
}

echo "ab -n 10000 -c 100 against wsgiref + ThreadingMixIn, Python $($PY -c 'import sys; print(sys.version.split()[0])')"
printf "%-16s %12s %8s\n" server "requests/s" failed
row "native threads" "" $PY -u $APP
row "greenshim" "$LIB" $PY -u $APP
if $PY -c 'import gevent' 2>/dev/null; then
	row "gevent.monkey" "" $PY -u -c \
		"from gevent import monkey; monkey.patch_all(); import runpy; runpy.run_path('$APP', run_name='__main__')"
else
	echo "(gevent row: apt-get install python3-gevent)"
fi
