#!/bin/sh
# Real programs nobody here wrote, under LD_PRELOAD=$B/libgreenshim.so:
# Debian's CPython (/usr/bin/python3) serving with threads.
# Prints "ok - NAME" or "FAIL - NAME: why" per test, then
# "real: N passed, N failed".
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${server:-}" ] && kill $server 2>/dev/null' EXIT
. tests/lib.sh

# Starts "$@" under greenshim; sets $server and $port from the "port N" it
# prints.
start_server() {
	LD_PRELOAD=$LIB "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
	server=$!
	port=$(wait_port "$tmp/server.out")
}

# check_one_thread_under_load NAME DELAY LOAD...: runs the load command
# against $server, counts the server's OS threads after DELAY seconds, then
# stops the server. ok if the load succeeded and one OS thread did it all.
check_one_thread_under_load() {
	name=$1
	delay=$2
	shift 2
	"$@" >"$tmp/load" 2>&1 &
	load=$!
	sleep "$delay"
	tasks=$(program_threads "$server")
	wait $load
	rc=$?
	kill $server
	wait $server 2>/dev/null
	server=
	if [ $rc -ne 0 ]; then
		fail $name "load: $(cat "$tmp/load") server: $(tail -n 3 "$tmp/server.err")"
	elif [ "$tasks" -ne 1 ]; then
		fail $name "the server ran $tasks OS threads"
	else
		ok $name
	fi
}

# http.server's ThreadingHTTPServer (a thread per request), started the way
# python3 -m http.server starts it, serves 1,000 concurrent clients from one
# OS thread. Its listen backlog is raised from 5 to 1024 first: with 5, a
# thousand simultaneous connects overflow the kernel's accept queue and
# clients wait for SYN retransmissions (natively too, where some time out).
test_python_http_server_1000_clients_one_os_thread() {
	name=python_http_server_1000_clients_one_os_thread
	if ! need_files 2100; then
		fail $name "cannot raise the open-files limit to 2100 (ulimit -n: $(ulimit -n))"
		return
	fi
	mkdir -p "$tmp/www"
	echo "hello from greenshim" >"$tmp/www/hello.txt"
	if ! start_server $PY -u -c '
import functools, http.server as hs, sys
hs.ThreadingHTTPServer.request_queue_size = 1024
handler = functools.partial(hs.SimpleHTTPRequestHandler, directory=sys.argv[1])
hs.test(HandlerClass=handler, ServerClass=hs.ThreadingHTTPServer, port=0, bind="127.0.0.1")
' "$tmp/www"; then
		fail $name "server did not start: $(cat "$tmp/server.err")"
		return
	fi
	check_one_thread_under_load $name 1 \
		$PY tests/real/http_load.py "$port" 1000 /hello.txt "hello from greenshim"
}

# socketserver.ThreadingTCPServer, a thread per connection, echoes for 500
# concurrent connections, every byte checked by gs-echo-load, on one OS
# thread.
test_python_threading_tcp_server_500_clients_one_os_thread() {
	name=python_threading_tcp_server_500_clients_one_os_thread
	if ! need_files 1100; then
		fail $name "cannot raise the open-files limit to 1100 (ulimit -n: $(ulimit -n))"
		return
	fi
	if ! start_server $PY -u tests/real/tcp_echo_server.py; then
		fail $name "server did not start: $(cat "$tmp/server.err")"
		return
	fi
	check_one_thread_under_load $name 2 "$B/gs-echo-load" -p "$port" -c 500 -d 3 -s 64
}

# wsgiref with a thread per request answers 300 concurrent requests (the
# load is short: the thread count checked is read after it, so this one
# proves the answers, the two above the single OS thread).
test_python_wsgiref_threads_300_requests() {
	name=python_wsgiref_threads_300_requests
	if ! start_server $PY -u tests/real/wsgi_hello.py; then
		fail $name "server did not start: $(cat "$tmp/server.err")"
		return
	fi
	check_one_thread_under_load $name 1 $PY tests/real/http_load.py "$port" 300 / "Hello, world"
}

# same_as_native NAME SCRIPT LINE: the script prints the same lines
# natively and under greenshim, LINE (a grep pattern) among them.
same_as_native() {
	native=$(timeout 60 $PY "$2" 2>&1)
	green=$(LD_PRELOAD=$LIB timeout 60 $PY "$2" 2>&1)
	if [ "$native" != "$green" ] || ! echo "$green" | grep -q "$3"; then
		fail $1 "native: $native / under greenshim: $green"
	else
		ok $1
	fi
}

# threading primitives with timeouts behave as native.
test_python_threading_primitives_as_native() {
	same_as_native python_threading_primitives_as_native tests/real/threading_check.py '^all ok$'
}

# A CPU-bound thread does not starve a thread that sleeps (the GIL changes
# hands on greenshim's preemption tick); without preemption the sleeper
# would never finish (timeout).
test_python_cpu_bound_thread_does_not_starve_io() {
	same_as_native python_cpu_bound_thread_does_not_starve_io tests/real/gil_fairness.py \
		'^cpu thread: ran'
}

# subprocess.run (vfork underneath) and os.fork from a threaded program;
# the other threads run while one waits for its child.
test_python_subprocess_and_fork_as_native() {
	same_as_native python_subprocess_and_fork_as_native tests/real/subprocess_check.py \
		'^20 threads, 20 subprocesses: True$'
}

if [ ! -x $PY ]; then
	fail python "$PY is missing (make deps installs python3)"
else
	test_python_http_server_1000_clients_one_os_thread
	test_python_threading_tcp_server_500_clients_one_os_thread
	test_python_wsgiref_threads_300_requests
	test_python_threading_primitives_as_native
	test_python_cpu_bound_thread_does_not_starve_io
	test_python_subprocess_and_fork_as_native
fi
summary real
