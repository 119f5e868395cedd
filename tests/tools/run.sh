#!/bin/sh
# The tools: greenrun (and greenctl, against real programs run under
# greenshim). Prints "ok - NAME" or "FAIL - NAME: why" per test, then
# "tools: N passed, N failed".
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
RUN=$(cd "$B" && pwd)/greenrun
tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # other users (nobody) run programs from here
. tests/lib.sh

# Does program $1 have a program interpreter (PT_INTERP)?
has_interp() {
	LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

# Every option becomes its variable in the program's environment, and the
# LD_PRELOAD that was there stays, after the library.
test_greenrun_options_reach_the_program_environment() {
	name=greenrun_options_reach_the_program_environment
	keep=$(ls /lib/x86_64-linux-gnu/libm.so.6 2>/dev/null || echo /nonexistent.so)
	LD_PRELOAD=$keep "$RUN" --stack-size=64k --threads=native --preempt=5 \
		--max-blocking=50 --pool-size=3 --file-io=pool --log="$tmp/log" --control=off \
		-- env >"$tmp/env" 2>"$tmp/err"
	rc=$?
	for want in GREENSHIM_STACK_SIZE=64k GREENSHIM_THREADS=native GREENSHIM_PREEMPT_MS=5 \
		GREENSHIM_MAX_BLOCKING_MS=50 GREENSHIM_POOL_SIZE=3 GREENSHIM_FILE_IO=pool \
		"GREENSHIM_LOG=$tmp/log" GREENSHIM_CONTROL=off "LD_PRELOAD=$LIB:$keep"; do
		if ! grep -q -x -F "$want" "$tmp/env"; then
			fail $name "status $rc; $want not in the environment: $(grep -E 'GREENSHIM|PRELOAD' "$tmp/env") $(cat "$tmp/err")"
			return
		fi
	done
	# The second form, --option VALUE, too.
	"$RUN" --threads green --preempt 0 env >"$tmp/env" 2>&1
	if ! grep -q -x GREENSHIM_THREADS=green "$tmp/env" || ! grep -q -x GREENSHIM_PREEMPT_MS=0 "$tmp/env"; then
		fail $name "--option VALUE: $(grep GREENSHIM "$tmp/env")"
	else
		ok $name
	fi
}

# The program really runs with the library mapped (not only told about it).
test_greenrun_loads_the_library_into_the_program() {
	name=greenrun_loads_the_library_into_the_program
	n=$("$RUN" cat /proc/self/maps | grep -c "$LIB")
	plain=$(cat /proc/self/maps | grep -c libgreenshim)
	if [ "$n" -lt 1 ] || [ "$plain" -ne 0 ]; then
		fail $name "$n mappings of $LIB under greenrun, $plain without"
	else
		ok $name
	fi
}

# A bad value: one line naming the option, status 2, the program not run.
test_greenrun_refuses_bad_values_as_the_library_does() {
	name=greenrun_refuses_bad_values_as_the_library_does
	for opt in --stack-size=banana --stack-size=1 --threads=Native --preempt=-1 \
		--preempt=1001 --max-blocking=x --pool-size=0 --file-io=async --control=yes \
		--log=/nonexistent/dir/log --profile=/nonexistent/dir/prof --profile-kinds=cpu,io \
		--profile-kinds=cpu, --profile-frames=none; do
		"$RUN" "$opt" -- echo ran >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 2 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
			! grep -q -F -- "greenrun: $opt" "$tmp/err"; then
			fail $name "$opt: status $rc, out: $(cat "$tmp/out"), err: $(cat "$tmp/err")"
			return
		fi
	done
	# The same value set as a variable: greenrun names the variable.
	GREENSHIM_POOL_SIZE=2000 "$RUN" echo ran >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 2 ] || [ -s "$tmp/out" ] ||
		! grep -q "GREENSHIM_POOL_SIZE=2000 (from the environment): invalid value" "$tmp/err"; then
		fail $name "variable: status $rc, err: $(cat "$tmp/err")"
		return
	fi
	# And the library itself refuses it identically (same parser).
	GREENSHIM_POOL_SIZE=2000 LD_PRELOAD=$LIB env echo ran >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 2 ] || ! grep -q "^greenshim: GREENSHIM_POOL_SIZE=2000: invalid value" "$tmp/err"; then
		fail $name "the library: status $rc, err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# A static program would run natively (no loader, no preload): refused.
test_greenrun_refuses_a_static_program() {
	name=greenrun_refuses_a_static_program
	prog=$B/tests/tools/hello-static
	if [ ! -x "$prog" ]; then
		# No libc.a to build one: a static program of the system's.
		prog=
		for p in /sbin/ldconfig /usr/sbin/ldconfig /bin/busybox /usr/bin/busybox; do
			if [ -x "$p" ] && LC_ALL=C readelf -h "$p" >/dev/null 2>&1 && ! has_interp "$p"; then
				prog=$p
				break
			fi
		done
	fi
	if [ -z "$prog" ]; then
		fail $name "no static program to try (no libc.a, no static ldconfig)"
		return
	fi
	if has_interp "$prog"; then
		fail $name "$prog is not static"
		return
	fi
	"$RUN" "$prog" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 126 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
		! grep -q "statically linked" "$tmp/err"; then
		fail $name "$prog: status $rc, out: $(cat "$tmp/out"), err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# Secure execution: the loader ignores LD_PRELOAD when exec changes the
# effective user. A set-user-ID copy owned by another user is refused;
# one owned by the caller changes nothing and runs under greenshim. Both
# verdicts are checked against what the loader really does.
test_greenrun_refuses_a_setuid_program_the_loader_would_run_natively() {
	name=greenrun_refuses_a_setuid_program_the_loader_would_run_natively
	cp "$(command -v cat)" "$tmp/cat-own"
	chmod u+s "$tmp/cat-own"
	loaded=$(LD_PRELOAD=$LIB "$tmp/cat-own" /proc/self/maps | grep -c libgreenshim)
	if [ "$loaded" -lt 1 ]; then
		fail $name "the loader ignored LD_PRELOAD for a set-user-ID program of the caller's own"
		return
	fi
	n=$("$RUN" "$tmp/cat-own" /proc/self/maps 2>"$tmp/err" | grep -c libgreenshim)
	if [ "$n" -lt 1 ]; then
		fail $name "a set-user-ID program of the caller's own: refused or not loaded: $(cat "$tmp/err")"
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		ok "$name (own copy only: not root, cannot make one of another user's)"
		return
	fi
	cp "$(command -v cat)" "$tmp/cat-nobody"
	chown nobody "$tmp/cat-nobody"
	chmod u+s "$tmp/cat-nobody"
	loaded=$(LD_PRELOAD=$LIB "$tmp/cat-nobody" /proc/self/maps | grep -c libgreenshim)
	if [ "$loaded" -ne 0 ]; then
		fail $name "the loader honoured LD_PRELOAD in secure execution; the check is wrong"
		return
	fi
	"$RUN" "$tmp/cat-nobody" /proc/self/maps >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 126 ] || [ -s "$tmp/out" ] || ! grep -q "set-user-ID to another user" "$tmp/err"; then
		fail $name "root running nobody's set-user-ID copy: status $rc, err: $(cat "$tmp/err")"
		return
	fi
	# nobody running root's set-user-ID copy.
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$RUN" "$tmp/cat-own" /proc/self/maps \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 126 ] || [ -s "$tmp/out" ] || ! grep -q "set-user-ID to another user" "$tmp/err"; then
		fail $name "nobody running root's set-user-ID copy: status $rc, err: $(cat "$tmp/err")"
		return
	fi
	cp "$(command -v cat)" "$tmp/cat-gid"
	chgrp nogroup "$tmp/cat-gid"
	chmod g+s "$tmp/cat-gid"
	"$RUN" "$tmp/cat-gid" /proc/self/maps >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 126 ] || ! grep -q "set-group-ID to another group" "$tmp/err"; then
		fail $name "a set-group-ID copy: status $rc, err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# As a shell: 127 for a command not found, 126 for one that cannot be
# executed; PATH is searched as execvp does.
test_greenrun_finds_commands_as_a_shell_does() {
	name=greenrun_finds_commands_as_a_shell_does
	"$RUN" greenshim-no-such-command >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 127 ] || ! grep -q "command not found" "$tmp/err"; then
		fail $name "missing command: status $rc, err: $(cat "$tmp/err")"
		return
	fi
	"$RUN" "$tmp/no-such-file" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 127 ]; then
		fail $name "missing path: status $rc, err: $(cat "$tmp/err")"
		return
	fi
	echo 'echo hi' >"$tmp/noexec"
	"$RUN" "$tmp/noexec" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 126 ] || [ -s "$tmp/out" ]; then
		fail $name "not executable: status $rc, err: $(cat "$tmp/err")"
		return
	fi
	mkdir "$tmp/bin" "$tmp/bin2"
	cp "$tmp/noexec" "$tmp/bin/mytool"
	printf '#!/bin/sh\necho "mytool $1 $LD_PRELOAD"\n' >"$tmp/bin2/mytool"
	chmod +x "$tmp/bin2/mytool"
	out=$(PATH="$tmp/bin:$tmp/bin2:$PATH" "$RUN" mytool arg 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ "$out" != "mytool arg $LIB" ]; then
		fail $name "PATH search (skipping a non-executable first match): status $rc, output: $out"
		return
	fi
	# The program's own status comes back.
	"$RUN" sh -c 'exit 7'
	rc=$?
	if [ $rc -ne 7 ]; then
		fail $name "the program's status 7 came back as $rc"
	else
		ok $name
	fi
}

# --help names every option and every variable of docs/CONFIG.md; --verbose
# prints every variable's effective value.
test_greenrun_help_and_verbose_name_every_variable() {
	name=greenrun_help_and_verbose_name_every_variable
	"$RUN" --help >"$tmp/help" 2>&1
	"$RUN" --verbose --pool-size=7 true 2>"$tmp/verbose"
	for var in $(grep -o '^| `GREENSHIM_[A-Z_]*`' docs/CONFIG.md | tr -d '|` '); do
		if ! grep -q "($var)" "$tmp/help"; then
			fail $name "--help does not name $var"
			return
		fi
		if ! grep -q "^greenrun: $var=" "$tmp/verbose"; then
			fail $name "--verbose does not show $var: $(cat "$tmp/verbose")"
			return
		fi
	done
	if ! grep -q -x 'greenrun: GREENSHIM_POOL_SIZE=7 (option)' "$tmp/verbose" ||
		! grep -q -x 'greenrun: GREENSHIM_FILE_IO=direct (default)' "$tmp/verbose"; then
		fail $name "--verbose: $(cat "$tmp/verbose")"
	else
		ok $name
	fi
}

# The library beside greenrun (build tree), or in ../lib/MULTIARCH (the
# Debian package) or ../lib (make install); neither: one line, status 1.
test_greenrun_finds_the_library_built_or_installed() {
	name=greenrun_finds_the_library_built_or_installed
	ma=$(${CC:-cc} -print-multiarch)
	mkdir -p "$tmp/prefix/bin" "$tmp/prefix/lib" "$tmp/alone" "$tmp/multi/bin" "$tmp/multi/lib/$ma"
	cp "$RUN" "$tmp/prefix/bin/"
	cp "$LIB" "$tmp/prefix/lib/"
	cp "$RUN" "$tmp/multi/bin/"
	cp "$LIB" "$tmp/multi/lib/$ma/"
	cp "$RUN" "$tmp/alone/"
	n=$("$tmp/prefix/bin/greenrun" cat /proc/self/maps | grep -c "$tmp/prefix/lib/libgreenshim.so")
	m=$("$tmp/multi/bin/greenrun" cat /proc/self/maps | grep -c "$tmp/multi/lib/$ma/libgreenshim.so")
	"$tmp/alone/greenrun" true >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$n" -lt 1 ]; then
		fail $name "installed layout: the library was not loaded"
	elif [ "$m" -lt 1 ]; then
		fail $name "multiarch layout (lib/$ma): the library was not loaded"
	elif [ $rc -ne 1 ] || ! grep -q "cannot find libgreenshim.so beside $tmp/alone/greenrun" "$tmp/err"; then
		fail $name "no library: status $rc, err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# make install into a scratch prefix: greenrun from there runs a threaded
# program under the installed library, and a program written against the
# API builds with pkg-config's flags for greenshim and runs.
test_make_install_gives_greenrun_and_pkg_config() {
	name=make_install_gives_greenrun_and_pkg_config
	pfx="$tmp/installed"
	if ! make -s install B="$B" PREFIX="$pfx" >"$tmp/install.out" 2>&1; then
		fail $name "make install: $(tail -n 5 "$tmp/install.out")"
		return
	fi
	n=$("$pfx/bin/greenrun" cat /proc/self/maps | grep -c "$pfx/lib/libgreenshim.so")
	flags=$(PKG_CONFIG_PATH="$pfx/lib/pkgconfig" pkg-config --cflags --libs greenshim 2>&1)
	if [ "$n" -lt 1 ]; then
		fail $name "greenrun from $pfx/bin did not load $pfx/lib/libgreenshim.so"
	elif ! ${CC:-cc} -o "$tmp/ping_pong" tests/api/ping_pong.c $flags >"$tmp/cc.out" 2>&1; then
		fail $name "cc tests/api/ping_pong.c $flags: $(cat "$tmp/cc.out")"
	elif ! LD_LIBRARY_PATH="$pfx/lib" "$tmp/ping_pong" >"$tmp/pp.out" 2>&1 ||
	     ! cmp -s "$tmp/pp.out" tests/api/ping_pong.expected; then
		fail $name "the program built with pkg-config: $(cat "$tmp/pp.out")"
	elif [ "$(PKG_CONFIG_PATH="$pfx/lib/pkgconfig" pkg-config --modversion greenshim)" != \
	       "$(sed -n 's/^#define GREENSHIM_VERSION_[A-Z]* \([0-9]*\)/\1/p' src/greenshim.h | paste -sd.)" ]; then
		fail $name "pkg-config --modversion greenshim does not give greenshim.h's version"
	elif [ "$(ls "$pfx/bin")" != "$(printf 'greenctl\ngreenrun')" ]; then
		fail $name "$pfx/bin holds more than greenrun and greenctl: $(ls "$pfx/bin" | paste -sd' ')"
	else
		ok $name
	fi
}

# ---- greenctl ----

CTL=$(cd "$B" && pwd)/greenctl
server=

# Starts $B/gs-echo-threads under greenrun with options "$@"; sets server
# and port.
start_server() {
	"$RUN" "$@" "$B/gs-echo-threads" >"$tmp/port" 2>"$tmp/server.err" &
	server=$!
	port=$(wait_port "$tmp/port")
}

stop_server() {
	[ -n "$server" ] && kill $server 2>/dev/null && wait $server 2>/dev/null
	server=
}

# The control socket answers the process's own user and root, through an
# abstract socket named from the pid, served by one thread of the
# runtime's; it refuses another user with one line, and makes nothing when
# turned off.
test_greenctl_talks_only_to_the_same_user_or_root() {
	name=greenctl_talks_only_to_the_same_user_or_root
	start_server
	if [ -z "$port" ]; then
		fail $name "the server did not start: $(cat "$tmp/server.err")"
		stop_server
		return
	fi
	out=$("$CTL" $server ping 2>&1)
	rc=$?
	threads=$(cat /proc/$server/task/*/comm | grep -c -x gs-control)
	if [ $rc -ne 0 ] || [ "$out" != "process $server: greenshim control socket answers" ] ||
		[ "$threads" -ne 1 ] || ! grep -q "@greenshim-$server\$" /proc/net/unix; then
		fail $name "ping: status $rc, $out; gs-control threads: $threads"
		stop_server
		return
	fi
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" $server ps >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 1 ] || [ -s "$tmp/out" ] ||
			! grep -q "process $server: permission denied: uid $(id -u nobody) may not inspect" "$tmp/err"; then
			fail $name "nobody: status $rc, out: $(cat "$tmp/out") err: $(cat "$tmp/err")"
			stop_server
			return
		fi
	fi
	stop_server
	start_server --control=off
	"$CTL" $server ping >"$tmp/out" 2>"$tmp/err"
	rc=$?
	threads=$(cat /proc/$server/task/*/comm | grep -c -x gs-control)
	stop_server
	if [ $rc -ne 1 ] || [ "$threads" -ne 0 ] || ! grep -q "has no control socket" "$tmp/err"; then
		fail $name "--control=off: status $rc, gs-control threads $threads, err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# A process without greenshim, and no process at all: a clear error.
test_greenctl_explains_a_process_not_under_greenshim() {
	name=greenctl_explains_a_process_not_under_greenshim
	sleep 5 &
	plain=$!
	"$CTL" $plain ps >"$tmp/out" 2>"$tmp/err"
	rc=$?
	kill $plain
	wait $plain 2>/dev/null
	if [ $rc -ne 1 ] || ! grep -q -x "greenctl: process $plain is not running under greenshim (libgreenshim.so is not loaded in it; start it with greenrun)" "$tmp/err"; then
		fail $name "status $rc, err: $(cat "$tmp/err")"
		return
	fi
	"$CTL" $plain ps >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 1 ] || ! grep -q -x "greenctl: no process $plain" "$tmp/err"; then
		fail $name "gone: status $rc, err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# A forked child has a socket of its own (the parent's goes on answering).
test_greenctl_reaches_a_forked_child() {
	name=greenctl_reaches_a_forked_child
	"$RUN" python3 -c '
import os, sys, time
pid = os.fork()
if pid == 0:
    time.sleep(3)
    os._exit(0)
print(os.getpid(), pid, flush=True)
os.waitpid(pid, 0)' >"$tmp/pids" 2>&1 &
	job=$!
	for _ in $(seq 50); do
		[ -s "$tmp/pids" ] && break
		sleep 0.1
	done
	read -r parent child <"$tmp/pids"
	p=$("$CTL" "$parent" ping 2>&1)
	c=$("$CTL" "$child" ping 2>&1)
	threads=$(cat /proc/"$child"/task/*/comm 2>/dev/null | grep -c -x gs-control)
	wait $job
	if [ "$p" != "process $parent: greenshim control socket answers" ] ||
		[ "$c" != "process $child: greenshim control socket answers" ] || [ "$threads" -ne 1 ]; then
		fail $name "parent: $p; child: $c; child's gs-control threads: $threads"
	else
		ok $name
	fi
}

# Holds 100 idle connections to port $1 (a plain python3, not under
# greenshim) until killed; sets clients.
hold_connections() {
	python3 -c '
import socket, sys, time
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(100)]
print("connected", flush=True)
time.sleep(60)' "$1" >"$tmp/clients" 2>&1 &
	clients=$!
	for _ in $(seq 100); do
		grep -q connected "$tmp/clients" && return 0
		sleep 0.1
	done
	return 1
}

# ps and stacks on a thread-per-connection server holding 100 idle
# clients: a thread per client waiting to read its fd, started by the
# server's own function, and every stack named down to it.
test_greenctl_ps_and_stacks_show_a_server_with_100_clients() {
	name=greenctl_ps_and_stacks_show_a_server_with_100_clients
	start_server
	if [ -z "$port" ] || ! hold_connections "$port"; then
		fail $name "no server or no clients: $(cat "$tmp/server.err" "$tmp/clients")"
		kill $clients 2>/dev/null
		stop_server
		return
	fi
	# The server accepts them in its own time: ask until it has.
	for _ in $(seq 50); do
		"$CTL" $server ps >"$tmp/ps" 2>&1
		[ "$(grep -c -E 'waiting on fd [0-9]+ \(read\) +serve$' "$tmp/ps")" -ge 100 ] && break
		sleep 0.1
	done
	"$CTL" $server stacks >"$tmp/stacks" 2>&1
	rc=$?
	kill $clients
	wait $clients 2>/dev/null
	stop_server
	readers=$(grep -c -E 'waiting on fd [0-9]+ \(read\) +serve$' "$tmp/ps")
	fds=$(grep -E 'waiting on fd [0-9]+ \(read\) +serve$' "$tmp/ps" | grep -o 'fd [0-9]*' | sort -u | wc -l)
	serve_stacks=$(grep -c -E '^ +#[0-9]+ +0x[0-9a-f]+ serve\+0x[0-9a-f]+ in .*/gs-echo-threads$' "$tmp/stacks")
	if [ "$readers" -lt 100 ] || [ "$fds" -lt 100 ]; then
		fail $name "$readers threads started by serve wait to read, on $fds fds: $(head -n 8 "$tmp/ps")"
	elif [ $rc -ne 0 ] || [ "$serve_stacks" -lt 100 ] ||
		! grep -q -E ' accepter\+0x[0-9a-f]+ in .*/gs-echo-threads$' "$tmp/stacks" ||
		! grep -q -E ' main\+0x[0-9a-f]+ in .*/gs-echo-threads$' "$tmp/stacks" ||
		! grep -q -E ' read\+0x[0-9a-f]+ in .*/libgreenshim.so$' "$tmp/stacks"; then
		fail $name "stacks: status $rc, $serve_stacks frames in serve: $(head -n 20 "$tmp/stacks")"
	else
		ok $name
	fi
}

# stats under an echo load: the counters move, and agree with each other
# and with ps.
test_greenctl_stats_count_what_the_server_does() {
	name=greenctl_stats_count_what_the_server_does
	start_server
	if [ -z "$port" ]; then
		fail $name "the server did not start: $(cat "$tmp/server.err")"
		stop_server
		return
	fi
	"$B/gs-echo-load" -p "$port" -c 50 -d 6 >"$tmp/load" 2>&1 &
	load=$!
	sleep 1
	"$CTL" $server stats >"$tmp/stats" 2>&1
	rc=$?
	"$CTL" $server ps >"$tmp/ps" 2>&1
	wait $load
	stop_server
	# HUB COUNTER TOTAL [PER SECOND], a row per hub: summed
	total() { awk -v k="$1" '$2 == k {s += $3; n++} END {if (n) print s}' "$tmp/stats"; }
	rate() { awk -v k="$1" '$2 == k {s += $4; n++} END {if (n) print s}' "$tmp/stats"; }
	threads=$(total threads)
	listed=$(grep -c -E '^ +[0-9]+ ' "$tmp/ps")
	if [ $rc -ne 0 ] || [ -z "$threads" ]; then
		fail $name "status $rc: $(cat "$tmp/stats")"
	elif [ "$threads" -ne "$listed" ] || [ "$threads" -lt 51 ]; then
		fail $name "stats counts $threads threads, ps lists $listed (want the 50 connections' and main's)"
	elif [ "$(total threads_waiting)" -gt "$threads" ]; then
		fail $name "more threads waiting than threads: $(cat "$tmp/stats")"
	elif ! [ "$(rate switches)" -gt 0 ] 2>/dev/null || [ "$(rate switches)" -gt "$(total switches)" ] ||
		! [ "$(rate loop_iterations)" -gt 0 ] 2>/dev/null ||
		! [ "$(rate waits.fd_read)" -gt 0 ] 2>/dev/null ||
		! [ "$(rate calls.read)" -gt 0 ] 2>/dev/null ||
		! [ "$(rate calls.write)" -gt 0 ] 2>/dev/null; then
		fail $name "counters that should move: $(cat "$tmp/stats")"
	elif ! grep -q 'errors=0' "$tmp/load"; then
		fail $name "the load failed while inspected: $(cat "$tmp/load")"
	else
		ok $name
	fi
}

# Threads that only compute, placed unevenly (gs-uneven: the short ones end
# and leave a hub idle): a long one the preemption tick takes off the busy
# hub moves to the idle one, and stats count it (threads_moved_out). Three
# long ones (3.5 s each here) on two hubs, so that two share one whatever
# the placement: placed 2/1, the lone one ends first and its hub is idle
# while the other two still have half their work, some 1.7 s in which a
# read of stats (a second long) sees the move. With two long ones (until
# 2026-12-05), a short one that ended before the next was created could
# leave them on different hubs, where none need move: no move was counted
# in 1 CI run.
test_greenctl_stats_count_threads_moved_to_an_idle_hub() {
	moved_to_an_idle_hub greenctl_stats_count_threads_moved_to_an_idle_hub \
		threads_moved_out 2 "$B/gs-uneven" 6 10 30000
}

# The same with threads that compute in a library the program loaded with
# dlopen (late code, as a JVM's compiler threads compute in libjvm.so): a
# long one the tick stops there moves to the idle hub (until 2026-12-05
# only a thread stopped in the program's own code did), and each thread is
# still itself after its loop (late_threads checks its __thread variables,
# errno, pthread_self and gettid, natively too). Three long ones of 3 s,
# for the reason above.
test_greenctl_stats_count_threads_moved_from_a_library_loaded_later() {
	name=greenctl_stats_count_threads_moved_from_a_library_loaded_later
	if ! "$B/tests/tools/late_threads" 4 10 300 >"$tmp/late" 2>&1 ||
		[ "$(tail -n 1 "$tmp/late")" != ok ]; then
		fail $name "natively: $(cat "$tmp/late")"
		return
	fi
	moved_to_an_idle_hub $name threads_moved_out 2 "$B/tests/tools/late_threads" 6 10 3000
}

# Six such threads computing in bursts of 0.4 ms with a 10 us sleep after
# each, and a tick far longer than a burst (1 s): at least two of the three
# long ones share a hub (all three, the main thread's, when each was placed
# before a short one ended), and once the short ones end the other hub is
# idle; one of the long ones moves as it returns from its sleep
# (threads_moved_at_return), found queued behind another, or come back
# late from its sleep because another ran (two that take turns: before
# that counted, a 2/1 placement gave no move, seen in 1 CI run).
test_greenctl_stats_count_threads_moved_as_they_return() {
	moved_to_an_idle_hub greenctl_stats_count_threads_moved_as_they_return \
		threads_moved_at_return 1000 "$B/gs-uneven" 6 10 15000 10
}

# The runtime knows its own code by its address, not by its file's name:
# a copy installed under another name moves threads as the original does
# (known by name alone, its frames were the program's to the preemption
# tick, which then never moved a thread, and took threads off their CPU
# inside the scheduler: MariaDB crashed in sched_settle).
test_a_renamed_library_moves_threads_as_the_original() {
	cp "$LIB" "$tmp/libgs-renamed.so"
	lib=$LIB
	LIB=$tmp/libgs-renamed.so
	moved_to_an_idle_hub a_renamed_library_moves_threads_as_the_original \
		threads_moved_out 2 "$B/gs-uneven" 6 10 30000
	LIB=$lib
}

# moved_to_an_idle_hub NAME COUNTER PREEMPT_MS PROGRAM ARGS...: PROGRAM
# (gs-uneven or late_threads) prints "wall_ms N" and, if it checks
# anything, "ok" last.
moved_to_an_idle_hub() {
	name=$1
	counter=$2
	preempt_ms=$3
	shift 3
	if [ "$(nproc)" -lt 2 ]; then
		skip $name "one CPU: one hub"
		return
	fi
	GREENSHIM_HUBS=2 GREENSHIM_PREEMPT_MS=$preempt_ms LD_PRELOAD=$LIB "$@" \
		>"$tmp/uneven" 2>&1 &
	pid=$!
	moved=
	reads=0
	: >"$tmp/stats"
	# Read until a move is counted or the program ends (the last answer
	# kept for the failure's message).
	for _ in $(seq 100); do
		sleep 0.1
		"$CTL" $pid stats >"$tmp/stats.new" 2>&1 || { kill -0 $pid 2>/dev/null || break; continue; }
		mv "$tmp/stats.new" "$tmp/stats"
		reads=$((reads + 1))
		moved=$(awk -v k="$counter" '$2 == k {s += $3; n++} END {if (n) print s}' "$tmp/stats")
		[ "${moved:-0}" -gt 0 ] && break
	done
	wait $pid
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q '^wall_ms ' "$tmp/uneven" || grep -q '^FAIL' "$tmp/uneven"; then
		fail $name "status $rc: $(cat "$tmp/uneven")"
	elif ! [ "${moved:-0}" -gt 0 ] 2>/dev/null; then
		fail $name "no thread moved in $reads reads of stats; the program: $(tr '\n' ' ' <"$tmp/uneven"); the last stats: $(grep -E 'hub|moved|threads' "$tmp/stats")"
	else
		ok $name
	fi
}

# A green thread that computes and never waits: the hub still answers (the
# preemption tick moves it aside), top puts it first; with preemption off
# the hub cannot answer and greenctl says who runs, with its stack.
test_greenctl_sees_a_thread_that_never_yields() {
	name=greenctl_sees_a_thread_that_never_yields
	"$RUN" "$B/tests/tools/spin" >"$tmp/spin" 2>&1 &
	spin=$!
	for _ in $(seq 50); do
		grep -q spinning "$tmp/spin" && break
		sleep 0.1
	done
	"$CTL" $spin ps >"$tmp/ps" 2>&1
	"$CTL" $spin top -n 2 >"$tmp/top" 2>&1
	rc=$?
	kill $spin
	wait $spin 2>/dev/null
	refreshes=$(grep -c '^greenctl top: process' "$tmp/top")
	first=$(awk '/^ +ID +NAME/ {n++; getline; if (n == 2) print $2}' "$tmp/top")
	if ! grep -q -E ' spinner .* spin_forever$' "$tmp/ps" ||
		! grep -q -E ' sleeper .*sleeping .* sleeper$' "$tmp/ps"; then
		fail $name "ps with preemption: $(cat "$tmp/ps")"
		return
	fi
	if [ $rc -ne 0 ] || [ "$refreshes" -ne 2 ] || [ "$first" != spinner ]; then
		fail $name "top -n 2: status $rc, $refreshes refreshes, first: $first: $(cat "$tmp/top")"
		return
	fi
	"$RUN" --preempt=0 "$B/tests/tools/spin" >"$tmp/spin" 2>&1 &
	spin=$!
	for _ in $(seq 50); do
		grep -q spinning "$tmp/spin" && break
		sleep 0.1
	done
	"$CTL" $spin ps >"$tmp/ps" 2>&1
	"$CTL" $spin stacks >"$tmp/stacks" 2>&1
	kill $spin
	wait $spin 2>/dev/null
	if ! grep -q 'no answer in 1000 ms: green thread [0-9]* "spinner" runs without yielding' "$tmp/ps"; then
		fail $name "ps without preemption: $(cat "$tmp/ps")"
	elif ! grep -q -E ' spin_forever\+0x[0-9a-f]+ in .*/spin$' "$tmp/stacks"; then
		fail $name "stacks without preemption: $(cat "$tmp/stacks")"
	else
		ok $name
	fi
}

# The SVG $1 is well-formed XML with its script, at least 5 frames, and a
# frame whose tooltip starts with "$2 (" (the background and 3 frames at
# least); the speedscope file $1 less .svg
# plus .json holds the folded stacks $3: the same total weight, every
# sample's frames in the table.
check_graphs() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys, xml.dom.minidom as m
svg, frame, folded = sys.argv[1:]
d = m.parse(svg)
titles = [t.firstChild.data for t in d.getElementsByTagName("title")]
assert len(d.getElementsByTagName("rect")) >= 4, "few rectangles"
assert any(t.startswith(frame + " (") for t in titles), "no frame " + frame
assert "function zoom(" in d.getElementsByTagName("script")[0].firstChild.data, "no script"
s = json.load(open(svg[:-4] + ".json"))
prof = s["profiles"][0]
total = sum(int(l.rsplit(" ", 1)[1]) for l in open(folded) if l.strip())
assert prof["type"] == "sampled" and prof["unit"] == "microseconds"
assert sum(prof["weights"]) == total == prof["endValue"], (sum(prof["weights"]), total)
assert len(prof["samples"]) == len(prof["weights"])
n = len(s["shared"]["frames"])
assert all(0 <= i < n for st in prof["samples"] for i in st)
PY
}

# profile (cpu, the default): on-CPU samples name the function that
# computes, led by the thread's name; greenshim's frames are collapsed;
# the sleeper, which never runs, is not there. Folded stacks, an
# interactive SVG flame graph and speedscope's JSON.
test_greenctl_profile_writes_folded_stacks_and_a_flame_graph() {
	name=greenctl_profile_writes_folded_stacks_and_a_flame_graph
	"$RUN" "$B/tests/tools/spin" >"$tmp/spin" 2>&1 &
	spin=$!
	for _ in $(seq 50); do
		grep -q spinning "$tmp/spin" && break
		sleep 0.1
	done
	"$CTL" $spin profile -d 1 -o "$tmp/prof" >"$tmp/out" 2>&1
	rc=$?
	kill $spin
	wait $spin 2>/dev/null
	# Weights in microseconds.
	on=$(awk '/^spinner;spin_forever/ {s += $NF} END {print s + 0}' "$tmp/prof")
	if [ $rc -ne 0 ] || [ "$on" -le 0 ]; then
		fail $name "status $rc, spinner on-CPU $on us: $(cat "$tmp/out") $(head -n 5 "$tmp/prof")"
	elif grep -q -E 'sleeper|ctx_trampoline|green_main|hub_switch|preempt_handler' "$tmp/prof"; then
		fail $name "a waiting thread or greenshim's frames: $(cat "$tmp/prof")"
	elif ! grep -q "^cpu: folded stacks $tmp/prof, flame graph $tmp/prof.svg, speedscope $tmp/prof.json" "$tmp/out"; then
		fail $name "no summary: $(cat "$tmp/out")"
	elif ! check_graphs "$tmp/prof.svg" spin_forever "$tmp/prof" 2>"$tmp/err"; then
		fail $name "the graphs: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# The three kinds at once, on a program whose threads compute, hold and
# want a mutex, a rwlock and a semaphore, read a pipe, sleep and join:
# cpu names what computes; wait ends each stack in what it waits on; lock
# names the waiter, the object, the holder and where the holder let go.
# greenshim's frames are collapsed, except with --all-frames.
test_greenctl_profile_kinds_show_cpu_waits_and_locks() {
	name=greenctl_profile_kinds_show_cpu_waits_and_locks
	# One hub: the lock profile records the hand-overs within a hub
	# (docs/LIMITATIONS.md), and every pair below must be seen.
	GREENSHIM_HUBS=1 "$RUN" "$B/tests/tools/waiters" >"$tmp/w.out" 2>&1 &
	w=$!
	for _ in $(seq 50); do
		grep -q ready "$tmp/w.out" && break
		sleep 0.1
	done
	"$CTL" $w profile -d 2 -k all -o "$tmp/k" >"$tmp/out" 2>&1
	rc=$?
	"$CTL" $w profile -d 0.5 -k wait --all-frames -o "$tmp/raw" >>"$tmp/out" 2>&1
	rc2=$?
	kill $w
	wait $w 2>/dev/null
	if [ $rc -ne 0 ] || [ $rc2 -ne 0 ]; then
		fail $name "status $rc, $rc2: $(cat "$tmp/out")"
		return
	fi
	hex='0x[0-9a-f]+'
	for want in \
		"cpu:^holder;holder;hold_mutex;compute( |;)" \
		"wait:^piper;piper;read_pipe;read;\[wait fd [0-9]+ read\] " \
		"wait:^sleeper;sleeper;nap;sleep;\[sleep\] " \
		"wait:;main;pthread_join;\[wait join thread [0-9]+ \"piper\"\] " \
		"wait:^wanter;wanter;want_mutex;pthread_mutex_lock;\[wait mutex $hex held by thread [0-9]+ \"(holder|wanter)\"\] " \
		"wait:^semwaiter;semwaiter;want_sem;sem_wait;\[wait semaphore $hex\] " \
		"lock:^wanter;wanter;want_mutex;pthread_mutex_lock;\[mutex $hex held by thread [0-9]+ \"holder\"\];holder;hold_mutex;pthread_mutex_unlock [0-9]+$" \
		"lock:^semwaiter;semwaiter;want_sem;sem_wait;\[semaphore $hex posted by thread [0-9]+ \"poster\"\];poster;post_sem;sem_post [0-9]+$" \
		"lock:^reader;reader;want_rwlock;pthread_rwlock_rdlock;\[rwlock $hex held by thread [0-9]+ \"writer\"\];writer;hold_rwlock;pthread_rwlock_unlock [0-9]+$"; do
		kind=${want%%:*}
		re=${want#*:}
		if ! grep -q -E "$re" "$tmp/k.$kind"; then
			fail $name "$kind: no line like $re in: $(cat "$tmp/k.$kind")"
			return
		fi
	done
	if grep -q -E 'ctx_trampoline|green_main|wait_park|hub_switch|preempt_handler|_ULx86_64|mutex_lock_until' "$tmp/k.cpu" "$tmp/k.wait" "$tmp/k.lock"; then
		fail $name "greenshim's frames: $(grep -E 'ctx_trampoline|green_main|wait_park|hub_switch|preempt_handler|_ULx86_64|mutex_lock_until' "$tmp/k.cpu" "$tmp/k.wait" "$tmp/k.lock" | head -n 3)"
	elif grep -q -F '[' "$tmp/k.cpu" && grep -v -q -E ';\[greenshim\] [0-9]+$' "$tmp/k.cpu" && grep -F '[' "$tmp/k.cpu" | grep -v -q -E ';\[greenshim\] [0-9]+$'; then
		fail $name "a cpu label other than [greenshim]: $(grep -F '[' "$tmp/k.cpu")"
	elif ! grep -q -E ';ctx_trampoline;green_main;.*;read_pipe;read;.*;wait_park;.*\[wait fd [0-9]+ read\] ' "$tmp/raw"; then
		fail $name "--all-frames: greenshim's frames are missing: $(grep read_pipe "$tmp/raw")"
	elif ! grep -q -E '^process [0-9]+, 2 s: [0-9]+ on-CPU samples \([0-9.]+ s\), [0-9]+ waiting-thread samples \([0-9.]+ s waited\), [1-9][0-9]* contended lock hand-overs' "$tmp/out"; then
		fail $name "no summary: $(cat "$tmp/out")"
	elif ! check_graphs "$tmp/k.cpu.svg" compute "$tmp/k.cpu" 2>"$tmp/err" ||
		! check_graphs "$tmp/k.wait.svg" read_pipe "$tmp/k.wait" 2>>"$tmp/err" ||
		! check_graphs "$tmp/k.lock.svg" hold_mutex "$tmp/k.lock" 2>>"$tmp/err"; then
		fail $name "the graphs: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# A bad kind or frames value is refused at once, by greenctl (usage, 2)
# and by the library (an error record, 1), naming what it expects.
test_greenctl_profile_refuses_bad_kinds() {
	name=greenctl_profile_refuses_bad_kinds
	"$RUN" "$B/tests/tools/spin" >"$tmp/spin" 2>&1 &
	spin=$!
	"$CTL" $spin profile -d 1 -k cpu,disk -o "$tmp/bad" >"$tmp/out" 2>&1
	rc=$?
	for _ in $(seq 50); do
		grep -q spinning "$tmp/spin" && break
		sleep 0.1
	done
	# An hour's profile of a bad kind: answered at once, or never here.
	printf 'profile 3600 cpu,disk program\n' >"$tmp/req"
	timeout 30 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("\0greenshim-" + sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
print(s.makefile().read(), end="")' $spin "$tmp/req" >"$tmp/ans" 2>&1
	rc2=$?
	kill $spin
	wait $spin 2>/dev/null
	if [ $rc -ne 2 ] || [ -e "$tmp/bad" ] || ! grep -q "usage: greenctl" "$tmp/out"; then
		fail $name "greenctl: status $rc: $(cat "$tmp/out")"
	elif [ $rc2 -ne 0 ] || ! grep -q -E '^error	profile: kinds "cpu,disk": expected cpu, wait, lock' "$tmp/ans"; then
		fail $name "the library: status $rc2: $(cat "$tmp/ans")"
	else
		ok $name
	fi
}

# diff: the second profile's stacks, a frame whose share grew in red, one
# whose share shrank in blue, one unchanged white; the tooltip gives both.
test_greenctl_diff_colours_what_grew_and_shrank() {
	name=greenctl_diff_colours_what_grew_and_shrank
	printf 'main;grow 100\nmain;shrink 300\nmain;same 100\n' >"$tmp/before"
	printf 'main;grow 300\nmain;shrink 100\nmain;same 100\n' >"$tmp/after"
	"$CTL" diff "$tmp/before" "$tmp/after" -o "$tmp/diff.svg" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || ! python3 - "$tmp/diff.svg" <<'PY' 2>"$tmp/err"; then
import re, sys, xml.dom.minidom as m
d = m.parse(sys.argv[1])
fill = {}
for g in d.getElementsByTagName("g"):
    if g.getAttribute("class") != "f":
        continue
    t = g.getElementsByTagName("title")[0].firstChild.data
    fill[t.split(" (")[0]] = (t, g.getElementsByTagName("rect")[0].getAttribute("fill"))
rgb = lambda f: tuple(int(x) for x in re.findall(r"\d+", f))
r, g, b = rgb(fill["grow"][1]); assert r == 255 and g < 200 and b < 200, fill["grow"]
r, g, b = rgb(fill["shrink"][1]); assert b == 255 and r < 200 and g < 200, fill["shrink"]
assert rgb(fill["same"][1]) == (255, 255, 255), fill["same"]
assert "before 100 us, 20.00%" in fill["grow"][0] and "+40.00 points" in fill["grow"][0], fill["grow"][0]
PY
		fail $name "status $rc: $(cat "$tmp/out") $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# The SVG's script, run by node against the graph's own elements (a
# small stand-in for the browser's DOM): a click zooms into a frame (its
# descendants fill the width, its ancestors span it, the rest is
# hidden), a search colours the matches and gives their share, nested
# matches counted once, and the resets restore the graph.
test_flame_graph_zooms_and_searches() {
	name=flame_graph_zooms_and_searches
	if ! command -v node >/dev/null 2>&1; then
		skip $name "no node (make deps installs nodejs)"
		return
	fi
	printf 'main;a;x 100\nmain;a;y 100\nmain;b;x;x 200\n' >"$tmp/z"
	if ! "$CTL" flame "$tmp/z" -o "$tmp/z.svg" >"$tmp/out" 2>&1 ||
		! python3 - "$tmp" <<'PY' >>"$tmp/out" 2>&1; then
import json, os, sys, xml.dom.minidom as m
tmp = sys.argv[1]
d = m.parse(os.path.join(tmp, "z.svg"))
def tree(e):
    if e.nodeType != e.ELEMENT_NODE:
        return None
    return {"tag": e.tagName, "attrs": dict(e.attributes.items()),
            "text": "".join(c.data for c in e.childNodes if c.nodeType == c.TEXT_NODE),
            "children": [c for c in (tree(x) for x in e.childNodes) if c]}
json.dump(tree(d.documentElement), open(os.path.join(tmp, "z.json"), "w"))
open(os.path.join(tmp, "z.js"), "w").write(d.getElementsByTagName("script")[0].firstChild.data)
PY
		fail $name "the graph and its script: $(cat "$tmp/out")"
		return
	fi
	cat >"$tmp/dom.js" <<'JS'
const fs = require("fs");
const [,, treeFile, scriptFile] = process.argv;
function El(n, parent) {
  this.tagName = n.tag; this.attrs = Object.assign({}, n.attrs); this.parentNode = parent;
  this.style = {}; this.listeners = {};
  this.textContent = n.text;
  this.children = n.children.map(c => new El(c, this));
}
El.prototype.getAttribute = function (a) { return a in this.attrs ? this.attrs[a] : null; };
El.prototype.setAttribute = function (a, v) { this.attrs[a] = String(v); };
El.prototype.hasAttribute = function (a) { return a in this.attrs; };
El.prototype.addEventListener = function (t, f) { this.listeners[t] = f; };
El.prototype.getElementsByTagName = function (t) {
  const out = [];
  (function walk(e) { for (const c of e.children) { if (c.tagName === t) out.push(c); walk(c); } })(this);
  return out;
};
const root = new El(JSON.parse(fs.readFileSync(treeFile)), null);
function byId(id) {
  let found = null;
  (function walk(e) { if (e.attrs.id === id) found = e; e.children.forEach(walk); })(root);
  return found;
}
const titleOf = g => g.getElementsByTagName("title")[0].textContent;
global.document = { getElementById: byId, addEventListener() {} };
global.prompt = () => null; global.alert = m => { throw new Error(m); };
eval(fs.readFileSync(scriptFile, "utf8") + "\nglobal.api = { init, zoom, unzoom, search, unsearch };");
api.init();
const gs = byId("frames").getElementsByTagName("g");
const find = (name, nth = 0) => gs.filter(g => titleOf(g).startsWith(name + " ("))[nth];
const rect = g => g.getElementsByTagName("rect")[0];
const w = g => parseFloat(rect(g).getAttribute("width")), x = g => parseFloat(rect(g).getAttribute("x"));
const check = (c, m) => { if (!c) { console.log("FAIL " + m); process.exit(1); } };
const a = find("a"), main = find("main"), b = find("b");
// Click on a (half of main): a fills the width, its children split it,
// main (its parent) spans it faded, b is hidden.
byId("frames").listeners.click({ target: rect(a) });
check(Math.abs(w(a) - 1180) < 0.01 && Math.abs(x(a) - 10) < 0.01, "zoomed a: " + x(a) + " " + w(a));
check(Math.abs(w(find("y")) - 590) < 0.01, "y after zoom: " + w(find("y")));
check(main.style.opacity === "0.5" && Math.abs(w(main) - 1180) < 0.01, "main after zoom");
check(b.style.display === "none", "b after zoom");
check(byId("unzoom").style.display === "", "the reset button");
api.unzoom();
check(Math.abs(w(a) - 590) < 0.01 && b.style.display === "", "unzoom: " + w(a));
// Search x: under a (1/4) and under b, x;x nested (1/2): 3/4 matched.
const share = api.search("^x$");
check(Math.abs(share - 0.75) < 1e-6, "matched share " + share);
check(rect(find("x")).getAttribute("fill") === "rgb(230,0,230)", "x not highlighted");
check(byId("matched").textContent === "Matched: 75.0%", byId("matched").textContent);
api.unsearch();
check(rect(find("x")).getAttribute("fill") !== "rgb(230,0,230)", "unsearch");
// Hover shows the details.
byId("frames").listeners.mouseover({ target: rect(b) });
check(byId("details").textContent === titleOf(b), "details: " + byId("details").textContent);
console.log("ok");
JS
	node "$tmp/dom.js" "$tmp/z.json" "$tmp/z.js" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != ok ]; then
		fail $name "status $rc: $(cat "$tmp/out")"
	else
		ok $name
	fi
}

# --profile: the whole run as folded stacks led by the program's name,
# naming the function that computes and the calls the others wait in, and
# an SVG flame graph; the program's exit status is greenrun's. The cpu
# profile counts threads on the CPU only: the sleeper, which runs some
# microseconds a second, may be caught once as it starts, never for the
# second it sleeps (one such sample in 120 runs); greenshim's own frames
# below a thread's start never show.
test_greenrun_profile_writes_folded_stacks_and_a_flame_graph() {
	name=greenrun_profile_writes_folded_stacks_and_a_flame_graph
	spin=$(cd "$B" && pwd)/tests/tools/spin
	rm -f "$tmp/whole" "$tmp/whole.svg" "$tmp/whole.json"
	(cd "$tmp" && timeout 60 "$RUN" --profile=whole "$spin" 1 3) \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	on=$(awk '/^spin;spinner;spin_forever/ {s += $NF} END {print s + 0}' "$tmp/whole" 2>/dev/null)
	asleep=$(awk '/sleeper/ {s += $NF} END {print s + 0}' "$tmp/whole" 2>/dev/null)
	if [ $rc -ne 3 ] || [ "$on" -le 0 ] || ! grep -q spinning "$tmp/out"; then
		fail $name "status $rc, spinner on-CPU $on us: $(cat "$tmp/err") $(head -n 5 "$tmp/whole" 2>/dev/null)"
	elif [ "$asleep" -gt $((on / 20)) ] || grep -q -E 'ctx_trampoline|green_main|hub_switch' "$tmp/whole"; then
		fail $name "a waiting thread or greenshim's frames: $(cat "$tmp/whole")"
	elif ! check_graphs "$tmp/whole.svg" spin_forever "$tmp/whole" 2>"$tmp/err2"; then
		fail $name "the graphs: $(cat "$tmp/err2")"
	elif ! grep -q "greenrun: profile of .*, cpu: on-CPU [0-9.]* s; folded stacks: $tmp/whole; flame graph: $tmp/whole.svg; speedscope: $tmp/whole.json" "$tmp/err"; then
		fail $name "no summary line: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# A script that execs the program (the profile is the program's), one that
# forks it and waits (bash: dash ends with _exit, which writes nothing),
# and a program that forks a child that works and exits:
# each process appends its own stacks; nothing hangs; statuses are kept.
# A bad GREENSHIM_PROFILE stops the library as a bad value does.
test_greenrun_profile_follows_exec_and_fork() {
	name=greenrun_profile_follows_exec_and_fork
	spin=$(cd "$B" && pwd)/tests/tools/spin
	printf '#!/bin/sh\nexec "%s" 0.5 6\n' "$spin" >"$tmp/exec.sh"
	printf '#!/bin/bash\ncd /\n"%s" 0.5 0\nexit 4\n' "$spin" >"$tmp/fork.sh"
	chmod +x "$tmp/exec.sh" "$tmp/fork.sh"
	timeout 60 "$RUN" --profile="$tmp/p-exec" "$tmp/exec.sh" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 6 ] || ! grep -q '^spin;spinner;spin_forever ' "$tmp/p-exec"; then
		fail $name "exec: status $rc: $(cat "$tmp/err") $(head -n 3 "$tmp/p-exec")"
		return
	fi
	timeout 60 "$RUN" --profile="$tmp/p-fork" --profile-kinds=cpu,wait "$tmp/fork.sh" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 4 ] || ! grep -q '^spin;spinner;spin_forever ' "$tmp/p-fork.cpu" ||
		! grep -q '^bash;bash;.*\[wait child' "$tmp/p-fork.wait"; then
		fail $name "fork: status $rc: $(cat "$tmp/err") $(cut -c 1-80 "$tmp/p-fork.cpu" "$tmp/p-fork.wait" | head -n 8)"
		return
	fi
	# The child sleeps, the parent waits for it: both stacks are there,
	# each kind in its own file.
	timeout 60 "$RUN" --profile="$tmp/p-py" --profile-kinds=wait,cpu /usr/bin/python3 -c '
import os, sys, time
pid = os.fork()
if pid == 0:
    time.sleep(1)
    sys.exit(0)
os.waitpid(pid, 0)
sys.exit(7)' >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 7 ] || ! grep -q -E '^python3;python3;.*;clock_nanosleep;\[sleep\] ' "$tmp/p-py.wait" ||
		! grep -q -E '^python3;python3;.*;(wait4|waitpid);\[wait child [0-9]+\] ' "$tmp/p-py.wait" ||
		! grep -q "^python3;python3;" "$tmp/p-py.cpu" || [ -e "$tmp/p-py" ] ||
		! grep -q "greenrun: profile of /usr/bin/python3, wait: off-CPU, threads waiting .*; folded stacks: $tmp/p-py.wait; flame graph: $tmp/p-py.wait.svg" "$tmp/err"; then
		fail $name "python fork: status $rc: $(cat "$tmp/err") $(cut -c 1-200 "$tmp/p-py.wait")"
		return
	fi
	GREENSHIM_PROFILE=/nonexistent/dir/prof LD_PRELOAD=$LIB env echo ran >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 2 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
		! grep -q "^greenshim: GREENSHIM_PROFILE=/nonexistent/dir/prof: invalid value" "$tmp/err"; then
		fail $name "the library: status $rc, err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# Processes that exec while profiled (a shell running commands: a fork
# child of bash execs each) start their new program cleanly: no sample
# signal of the old one's profiler is left pending into it, where its
# default action would end it (before the exec wrappers, pyenv's shims
# died so in 22 runs of 30).
test_greenrun_profile_survives_many_execs() {
	name=greenrun_profile_survives_many_execs
	timeout 120 "$RUN" --profile="$tmp/p-many" --profile-kinds=cpu,wait bash -c '
		for i in $(seq 60); do /bin/true || exit 9; x=$(/bin/echo $i) || exit 8; done
		exit 5' >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 5 ]; then
		fail $name "status $rc: $(cat "$tmp/out" "$tmp/err")"
	elif ! grep -q '^bash;bash;' "$tmp/p-many.wait"; then
		fail $name "no profile of bash: $(head -n 3 "$tmp/p-many.wait")"
	else
		ok $name
	fi
}

# A SIGTERM sent to greenrun --profile reaches the program (which dies of
# it, writing nothing); greenrun reports 128+15 as a shell would, and says
# that no profile was written.
test_greenrun_profile_passes_on_a_signal() {
	name=greenrun_profile_passes_on_a_signal
	"$RUN" --profile="$tmp/p-sig" "$B/tests/tools/spin" >"$tmp/out" 2>"$tmp/err" &
	g=$!
	for _ in $(seq 50); do
		grep -q spinning "$tmp/out" && break
		sleep 0.1
	done
	child=$(ps -o pid= --ppid $g | tr -d ' ')
	kill -TERM $g
	for _ in $(seq 100); do
		kill -0 $g 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $g 2>/dev/null; then
		kill $child $g
		wait $g
		fail $name "greenrun still runs 10 s after SIGTERM (child $child): $(cat "$tmp/err")"
		return
	fi
	wait $g
	rc=$?
	if [ $rc -ne 143 ] || [ -z "$child" ] || kill -0 "$child" 2>/dev/null ||
		! grep -q "p-sig: no samples" "$tmp/err"; then
		fail $name "status $rc, child '$child', err: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# ---- gdb (tools/gdb/greenshim-gdb.py) ----

CROWD=$(cd "$B" && pwd)/tests/tools/crowd
# gdb_crowd OUT COMMANDS ARGS...: gdb -batch ARGS with one -ex per line
# of COMMANDS (each runs whatever the one before did). gdb may load the
# library's inline script (auto-load's safe path allows it); gdb's own
# environment never gets LD_PRELOAD (gdb --args env LD_PRELOAD=...).
gdb_crowd() {
	out=$1
	cmds=$2
	shift 2
	k=$#
	while IFS= read -r c; do
		set -- "$@" -ex "$c"
	done <<EOF
$cmds
EOF
	# The -ex options go before ARGS (which may end with --args PROGRAM).
	for _ in $(seq $k); do
		a=$1
		shift
		set -- "$@" "$a"
	done
	timeout 120 gdb -batch -nx -iex 'set auto-load safe-path /' -iex 'set startup-with-shell off' \
		"$@" </dev/null >"$out" 2>&1
}

# The id "info green" gives the thread named $2, from gdb's output $1.
green_id() {
	awk -v n="$2" '$1 ~ /^[0-9]+$/ && $3 == n { print $1 } $1 == "*" && $4 == n { print $2 }' "$1" | head -n 1
}

# Checks gdb's output $1 against the crowd (tests/tools/crowd.c): every
# thread listed with its wait and start routine, the backtraces of
# "green apply all bt", and "green ID" + "print" in a parked thread's
# frame. Prints what is wrong, nothing if all is right.
check_crowd() {
	o=$1
	rows=$(grep -c -E '^[* ] [0-9]+ +[0-9?]+ +[^ ]+ ' "$o")
	[ "$rows" -eq 101 ] || echo "info green listed $rows threads, not 101;"
	for kw in "read:waiting on fd [0-9]+ \(read\)" "write:waiting on fd [0-9]+ \(write\)" \
		"accept:waiting on fd [0-9]+ \(read\)" "poll:waiting on (fd [0-9]+ \(read\)|1 fd \(poll\))" \
		"sleep:sleeping" "mutex:waiting on mutex 0x[0-9a-f]+ held by thread 1" \
		"cond:waiting on cond 0x[0-9a-f]+" "sem:waiting on semaphore 0x[0-9a-f]+"; do
		k=${kw%%:*}
		n=$(grep -c -E "^  [0-9]+ +[0-9]+ +$k-[0-9]+ +${kw#*:}( \([0-9.]+ s left\))? +blocked_in_$k\$" "$o")
		[ "$n" -eq 11 ] || echo "$n of 11 $k threads listed with their wait;"
	done
	n=0
	for i in $(seq 0 10); do
		grep -q -E "^  [0-9]+ +[0-9]+ +join-$i +waiting for thread [0-9]+ \"read-$i\" to end \(join\) +blocked_in_join\$" "$o" &&
			n=$((n + 1))
	done
	[ "$n" -eq 11 ] || echo "$n of 11 join threads listed with the thread they join;"
	grep -q -E '^\* [0-9]+ +[0-9]+ +crasher +running +crasher$' "$o" ||
		echo "the crashing thread is not listed as running (and selected);"
	grep -q -E "^  1 +[0-9]+ +[^ ]+ +waiting for thread [0-9]+ \"crasher\" to end \(join\) +\(OS thread's own\)\$" "$o" ||
		echo "main is not listed as joining the crasher;"
	n=$(grep -c '^Green thread [0-9]' "$o")
	[ "$n" -ge 101 ] || echo "green apply all bt printed $n backtraces, not 101;"
	n=$(grep -c -E '^#[0-9]+ +0x[0-9a-f]+ in blocked_in_[a-z]+ \(arg=0x[0-9a-f]+.*\) at [^ ]*tests/tools/crowd\.c:[0-9]+$' "$o")
	[ "$n" -ge 99 ] || echo "$n of the 99 parked threads' backtraces show their start routine and source line;"
	grep -q -E '^#[0-9]+ +0x[0-9a-f]+ in main \(.*\) at [^ ]*crowd\.c:[0-9]+$' "$o" ||
		echo "main's backtrace does not reach main;"
	grep -A3 -E '^Green thread [0-9]+ "crasher"' "$o" | grep -q -E '^#0 .* in crash_here ' ||
		echo "the crasher's backtrace does not begin in crash_here;"
	grep -q -E '^#[0-9]+ .* in blocked_in_mutex \(arg=.*crowd\.c:[0-9]+$' "$o" && grep -q '^\$1 = 3$' "$o" ||
		echo "\"green ID\", \"frame function blocked_in_mutex\", \"print me\" did not give mutex-3's me;"
}

# The commands for check_crowd, mutex-3 being green thread $1.
crowd_commands() {
	printf '%s\n' "info green" "green apply all bt" "green $1" "frame function blocked_in_mutex" "print me"
}

# strace -f -k stops the thread at every signal and unwinds it, longer
# than a preemption tick: each tick then came at the first instruction of
# the handler of the one before, and the nested frames overflowed the
# stack (SIGSEGV, status 139). The program ends as it would natively.
test_strace_k_traces_a_thread_that_computes() {
	name=strace_k_traces_a_thread_that_computes
	if ! command -v strace >/dev/null 2>&1; then
		skip $name "no strace (make deps installs it)"
		return
	fi
	if ! strace -f -o /dev/null true >/dev/null 2>&1; then
		skip $name "strace cannot trace here (ptrace refused)"
		return
	fi
	for hubs in 1 2; do
		timeout 60 strace -f -k -e trace=none -o "$tmp/strace" \
			env GREENSHIM_HUBS=$hubs LD_PRELOAD="$LIB" "$B/tests/tools/spin" 2 7 >"$tmp/spin" 2>&1
		rc=$?
		if [ $rc -ne 7 ] || ! grep -q spinning "$tmp/spin"; then
			fail $name "GREENSHIM_HUBS=$hubs: status $rc (7 wanted), $(cat "$tmp/spin") $(grep -m 2 SIGSEGV "$tmp/strace")"
			return
		fi
		# The tick did come, and was traced.
		if ! grep -q "SIGRT_" "$tmp/strace"; then
			fail $name "GREENSHIM_HUBS=$hubs: strace saw no tick"
			return
		fi
	done
	ok $name
}

# 100 threads blocked in nine kinds of calls, one of which crashes: gdb
# lists and unwinds every one, at the crash in a live process, and in the
# core file the crash left.
test_gdb_shows_every_green_thread_of_a_crashed_program_live_and_in_its_core() {
	name=gdb_shows_every_green_thread_of_a_crashed_program_live_and_in_its_core
	if ! command -v gdb >/dev/null 2>&1; then
		skip $name "no gdb (make deps installs it)"
		return
	fi
	live="$tmp/gdb.live"
	# Live: run under gdb to the SIGSEGV. Twice: the first run gives
	# mutex-3's id (ids are assigned in creation order, the same each run).
	gdb_crowd "$live" "run
info green" --args env LD_PRELOAD="$LIB" "$CROWD" crash
	id=$(green_id "$live" mutex-3)
	if [ -z "$id" ]; then
		fail $name "live: no mutex-3 in info green: $(tail -n 20 "$live")"
		return
	fi
	gdb_crowd "$live" "run
$(crowd_commands "$id")" --args env LD_PRELOAD="$LIB" "$CROWD" crash
	bad=$(check_crowd "$live")
	if [ -n "$bad" ]; then
		fail $name "live (gdb output in $live.keep): $bad"
		cp "$live" "$live.keep" 2>/dev/null
		return
	fi
	# The core: the kernel's, from a scratch directory (core_pattern
	# "core"). Without one (a container's core_pattern) that part is
	# skipped: gdb's gcore does not serve, it cannot read stacks across
	# their guard pages (docs/LIMITATIONS.md).
	mkdir -p "$tmp/cores"
	(cd "$tmp/cores" && ulimit -c unlimited && LD_PRELOAD="$LIB" "$CROWD" crash; true) >/dev/null 2>&1
	core=$(ls "$tmp"/cores/core* 2>/dev/null | head -n 1)
	if [ -z "$core" ]; then
		skip $name "live part passed; no core file (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
		return
	fi
	dead="$tmp/gdb.core"
	gdb_crowd "$dead" "$(crowd_commands "$id")" "$CROWD" "$core"
	bad=$(check_crowd "$dead")
	rm -f "$core"
	if [ -n "$bad" ]; then
		fail $name "core: $bad $(grep -i -m3 -E 'error|warning|green:' "$dead")"
	else
		ok $name
	fi
}

# gdb -p: attached to a running program, the same list (the crowd without
# its crasher: main waits in pause()).
test_gdb_attached_to_a_running_program_lists_its_green_threads() {
	name=gdb_attached_to_a_running_program_lists_its_green_threads
	if ! command -v gdb >/dev/null 2>&1; then
		skip $name "no gdb (make deps installs it)"
		return
	fi
	LD_PRELOAD="$LIB" "$CROWD" >"$tmp/crowd.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q ready "$tmp/crowd.out" && break
		sleep 0.1
	done
	gdb_crowd "$tmp/gdb.attach" "info green
green apply all bt 12" -p $pid
	kill $pid
	wait $pid 2>/dev/null
	o="$tmp/gdb.attach"
	rows=$(grep -c -E '^[* ] [0-9]+ +[0-9]+ +[^ ]+ ' "$o")
	n=$(grep -c -E '^#[0-9]+ +0x[0-9a-f]+ in blocked_in_[a-z]+ \(arg=.*crowd\.c:[0-9]+$' "$o")
	if [ "$rows" -ne 100 ] || [ "$n" -ne 99 ] ||
		! grep -q -E "^  1 +1 +[^ ]+ +waiting for a signal +\(OS thread's own\)\$" "$o"; then
		fail $name "$rows threads listed (100 expected), $n start routines in their backtraces (99): $(head -c 3000 "$o")"
	else
		ok $name
	fi
}

# The copy "make install" puts under gdb's auto-load directory serves a
# library stripped as Debian strips it (no .symtab, no .debug_* sections,
# so no inline script either): gdb finds the threads through the table the
# library exports.
test_gdb_extension_installed_serves_a_stripped_library() {
	name=gdb_extension_installed_serves_a_stripped_library
	if ! command -v gdb >/dev/null 2>&1; then
		skip $name "no gdb (make deps installs it)"
		return
	fi
	pfx="$tmp/gdbinst"
	if ! make -s install B="$B" PREFIX="$pfx" >"$tmp/install.out" 2>&1; then
		fail $name "make install: $(tail -n 5 "$tmp/install.out")"
		return
	fi
	script="$pfx/share/gdb/auto-load$pfx/lib/libgreenshim.so-gdb.py"
	strip "$pfx/lib/libgreenshim.so"
	gdb_crowd "$tmp/gdb.strip" "run
info green
green apply all bt" -iex "set auto-load scripts-directory $pfx/share/gdb/auto-load" \
		--args env LD_PRELOAD="$pfx/lib/libgreenshim.so" "$CROWD" crash
	rows=$(grep -c -E '^[* ] [0-9]+ +[0-9]+ +[^ ]+ ' "$tmp/gdb.strip")
	n=$(grep -c -E '^#[0-9]+ +0x[0-9a-f]+ in blocked_in_[a-z]+ \(arg=.*crowd\.c:[0-9]+$' "$tmp/gdb.strip")
	if [ ! -f "$script" ]; then
		fail $name "no $script"
	elif readelf -S "$pfx/lib/libgreenshim.so" | grep -q -E 'debug_gdb_scripts|symtab'; then
		fail $name "strip left .symtab or .debug_gdb_scripts"
	elif [ "$rows" -ne 101 ] || [ "$n" -ne 99 ]; then
		fail $name "$rows threads listed (101 expected), $n start routines in backtraces (99): $(head -c 3000 "$tmp/gdb.strip")"
	else
		ok $name
	fi
}

# Where greenshim is not (a native program, or no process at all), the
# commands say so instead of failing obscurely.
test_gdb_extension_says_when_greenshim_is_not_there() {
	name=gdb_extension_says_when_greenshim_is_not_there
	if ! command -v gdb >/dev/null 2>&1; then
		skip $name "no gdb (make deps installs it)"
		return
	fi
	gdb_crowd "$tmp/gdb.none" "source tools/gdb/greenshim-gdb.py
info green" "$CROWD"
	gdb_crowd "$tmp/gdb.native" "source tools/gdb/greenshim-gdb.py
break blocked_in_read
run
info green
green bt 2" "$CROWD"
	if ! grep -q "greenshim: no process" "$tmp/gdb.none"; then
		fail $name "no process: $(cat "$tmp/gdb.none")"
	elif [ "$(grep -c "greenshim is not loaded in this process" "$tmp/gdb.native")" -ne 2 ]; then
		fail $name "native: $(tail -n 5 "$tmp/gdb.native")"
	else
		ok $name
	fi
}

# ---- valgrind (docs/TOOLS.md, *valgrind*) ----

VG_SUPP=$(pwd)/tools/valgrind/greenshim.supp

# vg_errors LOG: memcheck's error count, summed over the log files LOG.*
# (one per process: a forked child writes its own).
vg_errors() {
	cat "$1".* 2>/dev/null | awk '/ERROR SUMMARY:/ { n += $4; seen = 1 } END { print seen ? n : "none" }'
}

# vg_case TAG STACK_SIZE PROGRAM ARGS...: PROGRAM under memcheck natively,
# then with LD_PRELOAD (and GREENSHIM_STACK_SIZE=STACK_SIZE unless "-");
# prints what is wrong, nothing if all is right: both succeed with the
# same output, greenshim's run has no error (--error-exitcode) and no more
# than native's, and valgrind never saw a stack switch it did not know
# or an instruction it cannot run. --trace-children=no: what the programs
# exec (system's and popen's /bin/sh) is not under test; fork children
# are valgrind's anyway.
vg_case() {
	tag=$1
	ss=$2
	shift 2
	vg="valgrind --tool=memcheck --error-exitcode=99 --trace-children=no --suppressions=$VG_SUPP"
	rm -f "$tmp/vg.$tag".*
	timeout 120 $vg --log-file="$tmp/vg.$tag.n.log.%p" "$@" >"$tmp/vg.$tag.n.out" 2>&1 </dev/null
	rn=$?
	if [ "$ss" = - ]; then
		LD_PRELOAD=$LIB timeout 120 $vg --log-file="$tmp/vg.$tag.g.log.%p" "$@" \
			>"$tmp/vg.$tag.g.out" 2>&1 </dev/null
	else
		LD_PRELOAD=$LIB GREENSHIM_STACK_SIZE=$ss timeout 120 $vg --log-file="$tmp/vg.$tag.g.log.%p" \
			"$@" >"$tmp/vg.$tag.g.out" 2>&1 </dev/null
	fi
	rg=$?
	en=$(vg_errors "$tmp/vg.$tag.n.log")
	eg=$(vg_errors "$tmp/vg.$tag.g.log")
	if [ $rn -ne 0 ]; then
		echo "$tag: native under valgrind: status $rn, $en errors: $(head -c 500 "$tmp/vg.$tag.n.out");"
	elif [ $rg -ne 0 ] || [ "$eg" != 0 ]; then
		echo "$tag: status $rg, $eg errors (native $en): $(head -c 300 "$tmp/vg.$tag.g.out")" \
			"$(grep -h -m 12 -E '^==[0-9]+== +(at|by|[A-Z])' "$tmp/vg.$tag.g.log".*);"
	elif ! cmp -s "$tmp/vg.$tag.n.out" "$tmp/vg.$tag.g.out"; then
		echo "$tag: output differs: $(head -c 300 "$tmp/vg.$tag.g.out") (natively: $(head -c 300 "$tmp/vg.$tag.n.out"));"
	elif [ "$en" = none ] || [ "$eg" -gt "$en" ]; then
		echo "$tag: $eg errors under greenshim, $en natively;"
	elif grep -h -m 2 -E 'switching stacks|unhandled instruction' "$tmp/vg.$tag.g.log".*; then
		echo "$tag: valgrind's warnings above;"
	fi
}

# Threaded C programs of tests/preload and the demo's echo server (50
# connections of 100 round trips each) run under memcheck with greenshim
# preloaded: no error that the same program does not have natively under
# memcheck, the same output, and no stack switch valgrind does not know
# of (every green stack is registered, src/stack.c). 64 KiB stacks sit
# 128 KiB apart in their slab: an unregistered switch between two of them
# looks to memcheck like a frame pushed or popped, and turns the other
# thread's frames into errors. fork_from_thread makes a real thread in a
# child of a green thread (rseq, src/tls.c); big_write's 4 MiB write
# outlasts valgrind's check of it only with the tick backing off
# (src/preempt.c).
test_valgrind_memcheck_finds_no_error_greenshim_adds() {
	name=valgrind_memcheck_finds_no_error_greenshim_adds
	if ! command -v valgrind >/dev/null 2>&1; then
		skip $name "no valgrind (make deps installs it)"
		return
	fi
	P=$B/tests/preload
	bad=$(
		export GREENSHIM_LOG="$tmp/vg-reports.log" # the monitor's, off stdout and stderr
		vg_case hello - "$P/hello_threads"
		vg_case thread_api - "$P/sync_semantics" thread_api
		vg_case thread_api_64k 64k "$P/sync_semantics" thread_api
		vg_case cond_64k 64k "$P/sync_semantics" cond_timeouts
		vg_case fork_from_thread - "$P/process_semantics" fork_from_thread
		vg_case big_write - "$P/io_semantics" big_write
	)
	if [ -n "$bad" ]; then
		fail $name "$bad"
		return
	fi
	for mode in n g; do
		rm -f "$tmp/vg.demo.$mode".*
		if [ $mode = g ]; then
			LD_PRELOAD=$LIB GREENSHIM_LOG="$tmp/vg-reports.log" valgrind --tool=memcheck \
				--suppressions="$VG_SUPP" --log-file="$tmp/vg.demo.$mode.log.%p" \
				"$B/gs-echo-threads" >"$tmp/port" 2>"$tmp/vg.demo.$mode.err" &
		else
			valgrind --tool=memcheck --suppressions="$VG_SUPP" --log-file="$tmp/vg.demo.$mode.log.%p" \
				"$B/gs-echo-threads" >"$tmp/port" 2>"$tmp/vg.demo.$mode.err" &
		fi
		server=$!
		port=$(wait_port "$tmp/port")
		timeout 120 "$B/gs-echo-load" -p "${port:-1}" -c 50 -n 100 >"$tmp/vg.demo.$mode.load" 2>&1
		rc=$?
		eval "load_$mode=$rc"
		stop_server
	done
	en=$(vg_errors "$tmp/vg.demo.n.log")
	eg=$(vg_errors "$tmp/vg.demo.g.log")
	if [ "$load_n" -ne 0 ] || [ "$load_g" -ne 0 ]; then
		fail $name "demo: the load's status natively $load_n, under greenshim $load_g: $(cat "$tmp/vg.demo.g.load" "$tmp/vg.demo.g.err")"
	elif ! grep -q "errors=0" "$tmp/vg.demo.g.load"; then
		fail $name "demo: $(cat "$tmp/vg.demo.g.load")"
	elif [ "$eg" != 0 ] || [ "$en" = none ]; then
		fail $name "demo: $eg errors under greenshim, $en natively: $(grep -h -m 12 -E '^==[0-9]+== +(at|by|[A-Z])' "$tmp/vg.demo.g.log".*)"
	elif grep -h -m 2 -E 'switching stacks|unhandled instruction' "$tmp/vg.demo.g.log".*; then
		fail $name "demo: valgrind's warnings above"
	else
		ok $name
	fi
}

# ---- the Debian package (debian/) and the systemd examples (tools/systemd) ----

VERSION=$(sed -n 's/^#define GREENSHIM_VERSION_[A-Z]* \([0-9]*\)/\1/p' src/greenshim.h | paste -sd.)
debroot= # the package unpacked, once make deb built it

# debian/control's Build-Depends are tools/deps.sh's scope "build" (and
# debhelper): the package builds with what `make` is checked against.
test_debian_build_depends_are_what_make_needs() {
	name=debian_build_depends_are_what_make_needs
	want=$(sh tools/deps.sh build-depends | sort | paste -sd' ')
	got=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control | sed 's/^Build-Depends://; /^[A-Z]/d' |
		tr ',' '\n' | sed 's/^[[:space:]]*//; s/[[:space:]].*//' | grep -v '^debhelper-compat$' |
		grep . | sort | paste -sd' ')
	if [ "$want" != "$got" ]; then
		fail $name "debian/control: '$got'; tools/deps.sh build-depends: '$want'"
	else
		ok $name
	fi
}

# make deb (dpkg-buildpackage, lintian clean but for the explained
# overrides) gives build/greenshim_VERSION_amd64.deb with the library in
# the multiarch directory and nothing but greenrun and greenctl in
# /usr/bin; unpacked into a scratch root (dpkg -x), its greenrun runs a
# threaded server under its library, its greenctl sees the server's green
# threads, and pkg-config --cflags --libs greenshim builds a program
# against the API.
test_deb_package_runs_greenrun_and_builds_with_pkg_config() {
	name=deb_package_runs_greenrun_and_builds_with_pkg_config
	for t in dpkg-buildpackage dh lintian; do
		if ! command -v $t >/dev/null 2>&1; then
			skip $name "no $t (make deps)"
			return
		fi
	done
	if ! make -s deb B="$B" >"$tmp/deb.out" 2>&1; then
		fail $name "make deb: $(tail -n 8 "$tmp/deb.out")"
		return
	fi
	deb="$B/greenshim_${VERSION}_amd64.deb"
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	root="$tmp/debroot"
	bins=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep '^\./usr/bin/.' | paste -sd' ')
	if [ "$bins" != "./usr/bin/greenctl ./usr/bin/greenrun" ]; then
		fail $name "/usr/bin in the package: $bins"
		return
	fi
	dpkg -x "$deb" "$root"
	chmod 755 "$root"
	lib="$root/usr/lib/$ma/libgreenshim.so"
	"$root/usr/bin/greenrun" "$B/gs-echo-threads" >"$tmp/port" 2>"$tmp/server.err" &
	server=$!
	port=$(wait_port "$tmp/port")
	maps=$(grep -c "$lib" /proc/$server/maps 2>/dev/null)
	"$root/usr/bin/greenctl" $server ps >"$tmp/ps" 2>&1
	rc=$?
	stop_server
	flags=$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/$ma/pkgconfig" \
		pkg-config --cflags --libs greenshim 2>&1)
	if [ -z "$port" ] || [ "${maps:-0}" -lt 1 ]; then
		fail $name "greenrun from the package did not run gs-echo-threads under $lib: $(cat "$tmp/server.err")"
	elif [ $rc -ne 0 ] || ! grep -q "green threads" "$tmp/ps"; then
		fail $name "greenctl from the package: status $rc, $(cat "$tmp/ps")"
	elif ! ${CC:-cc} -o "$tmp/ping_pong_deb" tests/api/ping_pong.c $flags >"$tmp/cc.out" 2>&1; then
		fail $name "cc tests/api/ping_pong.c $flags: $(cat "$tmp/cc.out")"
	elif ! LD_LIBRARY_PATH="$root/usr/lib/$ma" "$tmp/ping_pong_deb" >"$tmp/pp.out" 2>&1 ||
	     ! cmp -s "$tmp/pp.out" tests/api/ping_pong.expected; then
		fail $name "the program built with pkg-config: $(cat "$tmp/pp.out")"
	else
		debroot=$root
		ok $name
	fi
}

# systemd-analyze verify, against the unpacked package as root directory
# (--root: greenrun must be there, the man pages named in Documentation=
# too), passes the example unit and, on Debian's own memcached.service,
# the drop-in, without a word; the drop-in's LD_PRELOAD is the library the
# package installs.
test_systemd_examples_pass_systemd_analyze_verify() {
	name=systemd_examples_pass_systemd_analyze_verify
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		skip $name "no systemd-analyze"
		return
	fi
	if [ -z "$debroot" ]; then
		skip $name "no package to verify against (deb_package_runs_greenrun_and_builds_with_pkg_config)"
		return
	fi
	mkdir -p "$debroot/lib/systemd" "$debroot/etc/systemd/system"
	cp -a /lib/systemd/system "$debroot/lib/systemd/"
	cp tools/systemd/greenshim-memcached.service "$debroot/etc/systemd/system/"
	units=greenshim-memcached.service
	if [ -f /lib/systemd/system/memcached.service ]; then
		mkdir -p "$debroot/etc/systemd/system/memcached.service.d" "$debroot/usr/share/memcached/scripts"
		cp tools/systemd/greenshim.conf "$debroot/etc/systemd/system/memcached.service.d/"
		cp /usr/share/memcached/scripts/systemd-memcached-wrapper "$debroot/usr/share/memcached/scripts/"
		units="$units memcached.service"
	fi
	preload=$(sed -n 's/^Environment=LD_PRELOAD=//p' tools/systemd/greenshim.conf)
	MANPATH="$debroot/usr/share/man:/usr/share/man" \
		systemd-analyze verify --root="$debroot" $units >"$tmp/verify" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/verify" ]; then
		fail $name "systemd-analyze verify $units: status $rc, $(cat "$tmp/verify")"
	elif [ -z "$preload" ] || [ ! -f "$debroot$preload" ]; then
		fail $name "the drop-in's LD_PRELOAD '$preload' is not in the package"
	else
		ok $name
	fi
}

# The example unit's ExecStart=, run by hand as its User= (no systemd
# runs here) with the package's greenrun: memcached's threads are green
# threads of one OS thread, and greenctl answers the service's user and
# refuses another.
test_systemd_example_runs_memcached_green_and_greenctl_reaches_it() {
	name=systemd_example_runs_memcached_green_and_greenctl_reaches_it
	user=$(sed -n 's/^User=//p' tools/systemd/greenshim-memcached.service)
	if [ -z "$debroot" ]; then
		skip $name "no package (deb_package_runs_greenrun_and_builds_with_pkg_config)"
		return
	fi
	if ! command -v memcached >/dev/null 2>&1 || ! id "$user" >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
		skip $name "needs memcached, its user $user (make deps) and root"
		return
	fi
	as_user="setpriv --reuid=$user --regid=$user --clear-groups"
	# Another port than the example's, which may be in use.
	cmd=$(sed -n 's/^ExecStart=//p' tools/systemd/greenshim-memcached.service |
		sed "s|^/usr/bin/greenrun|$debroot/usr/bin/greenrun|; s|-p 11212|-p 0|")
	$as_user $cmd >"$tmp/mc.out" 2>&1 &
	mc=$!
	for _ in $(seq 50); do
		$as_user "$debroot/usr/bin/greenctl" $mc ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	$as_user "$debroot/usr/bin/greenctl" $mc ps >"$tmp/ps" 2>&1
	rc=$?
	workers=$(grep -c "mc-worker" "$tmp/ps")
	os=$(program_threads $mc)
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$debroot/usr/bin/greenctl" $mc ps \
		>"$tmp/out" 2>"$tmp/err"
	rc2=$?
	kill $mc 2>/dev/null
	wait $mc 2>/dev/null
	if [ $rc -ne 0 ] || [ "$workers" -lt 4 ]; then
		fail $name "greenctl as $user: status $rc, $(cat "$tmp/ps") memcached: $(cat "$tmp/mc.out")"
	elif [ "$os" -ne 1 ]; then
		fail $name "memcached runs $os OS threads of its own, not 1"
	elif [ $rc2 -ne 1 ] || ! grep -q "permission denied" "$tmp/err"; then
		fail $name "greenctl as nobody: status $rc2, $(cat "$tmp/out" "$tmp/err")"
	else
		ok $name
	fi
}

test_greenrun_options_reach_the_program_environment
test_greenrun_loads_the_library_into_the_program
test_greenrun_refuses_bad_values_as_the_library_does
test_greenrun_refuses_a_static_program
test_greenrun_refuses_a_setuid_program_the_loader_would_run_natively
test_greenrun_finds_commands_as_a_shell_does
test_greenrun_help_and_verbose_name_every_variable
test_greenrun_finds_the_library_built_or_installed
test_make_install_gives_greenrun_and_pkg_config
test_debian_build_depends_are_what_make_needs
test_deb_package_runs_greenrun_and_builds_with_pkg_config
test_systemd_examples_pass_systemd_analyze_verify
test_systemd_example_runs_memcached_green_and_greenctl_reaches_it
test_greenctl_talks_only_to_the_same_user_or_root
test_greenctl_explains_a_process_not_under_greenshim
test_greenctl_reaches_a_forked_child
test_greenctl_ps_and_stacks_show_a_server_with_100_clients
test_greenctl_stats_count_what_the_server_does
test_greenctl_stats_count_threads_moved_to_an_idle_hub
test_greenctl_stats_count_threads_moved_from_a_library_loaded_later
test_greenctl_stats_count_threads_moved_as_they_return
test_a_renamed_library_moves_threads_as_the_original
test_greenctl_sees_a_thread_that_never_yields
test_greenctl_profile_writes_folded_stacks_and_a_flame_graph
test_greenctl_profile_kinds_show_cpu_waits_and_locks
test_greenctl_profile_refuses_bad_kinds
test_greenctl_diff_colours_what_grew_and_shrank
test_flame_graph_zooms_and_searches
test_greenrun_profile_writes_folded_stacks_and_a_flame_graph
test_greenrun_profile_follows_exec_and_fork
test_greenrun_profile_survives_many_execs
test_greenrun_profile_passes_on_a_signal
test_strace_k_traces_a_thread_that_computes
test_gdb_shows_every_green_thread_of_a_crashed_program_live_and_in_its_core
test_gdb_attached_to_a_running_program_lists_its_green_threads
test_gdb_extension_says_when_greenshim_is_not_there
test_gdb_extension_installed_serves_a_stripped_library
test_valgrind_memcheck_finds_no_error_greenshim_adds

summary tools
