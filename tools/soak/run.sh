#!/bin/sh
# The soak and fault runs: each runs the same ordinary programs natively,
# then under LD_PRELOAD=libgreenshim.so, prints both side by side (bytes
# sent and verified, errors seen, the server's fds and RSS at start, during
# and at the end, from /proc/PID/fd and /proc/PID/status) and a verdict.
# Exit status 1 when a verdict fails. Not a timed test: run by hand or by
# `make soak`; docs/BENCHMARKS.md has the results.
#
#   sh tools/soak/run.sh [BUILD] NAME [SECONDS]
#
# NAME is one of: conns (15,000 connections, 600 s), rst (60 s), emfile,
# forks (30 s), signals (30 s), close (1,000 races; there SECONDS is the
# number of races), or all (each with its default, conns last: about 30
# minutes). SECONDS changes the length of the load phase.
set -u
B=${1:-build}
NAME=${2:-all}
SECS=${3:-}
LIB=$(cd "$B" && pwd)/libgreenshim.so
tmp=$(mktemp -d)
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }
field() { # field LINE KEY: the value of KEY=... in LINE, 0 if absent
	echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'
}
fail=0
verdict() { # verdict OK|FAIL WHAT
	printf "  %-4s %s\n" "$1" "$2"
	[ "$1" = ok ] || fail=1
}

# start_server MODE ARGS...: MODE native or greenshim; sets spid and port.
start_server() {
	mode=$1
	shift
	: >"$tmp/server.out"
	if [ "$mode" = greenshim ]; then
		LD_PRELOAD=$LIB "$B/gs-soak-server" "$@" >"$tmp/server.out" &
	else
		"$B/gs-soak-server" "$@" >"$tmp/server.out" &
	fi
	spid=$!
	port=
	for _ in $(seq 100); do
		port=$(awk '/^port/ { print $2 }' "$tmp/server.out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "soak: the server did not start" >&2; exit 1; }
}

# stop_server: SIGTERM, which makes the server print its counters; sets
# srv to them and the exit status. Not in a subshell: only this shell can
# wait for the server.
stop_server() {
	kill -TERM "$spid"
	wait "$spid" 2>/dev/null
	srv="server.exit=$? $(grep -v '^port' "$tmp/server.out")"
	spid=
}

# fd_list: "fd target" of each of the server's fds.
fd_list() {
	for f in /proc/$spid/fd/*; do echo "${f##*/} $(readlink "$f")"; done 2>/dev/null | sort
}

# fd_new BEFORE: of fd_list's lines on stdin, "fd:target,..." of those not
# in the file BEFORE, or "none".
fd_new() {
	comm -13 "$1" - | tr ' ' ':' | paste -sd, | sed 's/^$/none/'
}

# drain BASELINE: waits (at most 60 s) until the server is back to BASELINE fds.
drain() {
	for _ in $(seq 600); do
		[ "$(fds $spid)" -le "$1" ] && return
		sleep 0.1
	done
}

# sampler FILE INTERVAL COUNT: appends "fds rss threads" of the server
# every INTERVAL seconds, COUNT times.
sampler() {
	for _ in $(seq "$3"); do
		echo "$(fds $spid) $(rss $spid) $(threads $spid)" >>"$1"
		sleep "$2"
	done
}

# load ARGS...: runs gs-soak-load natively (the load is never preloaded),
# adds its line to $tmp/load.out; returns its status.
load() {
	"$B/gs-soak-load" -p "$port" "$@" >>"$tmp/load.out"
}

# Sums KEY over the load lines.
loadsum() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) s += kv[2] } } END { print s + 0 }' "$tmp/load.out"; }

# The figures of one server run, one "key=value" line, into $tmp/MODE.
# row MODE KEY=VALUE...
row() {
	m=$1
	shift
	echo "$*" >>"$tmp/$m"
}

# side KEY...: prints KEY, native, greenshim for each KEY.
side() {
	printf "  %-22s %16s %16s\n" "" native greenshim
	for k in "$@"; do
		printf "  %-22s %16s %16s\n" "$k" "$(get native "$k")" "$(get greenshim "$k")"
	done
}
get() { tr ' ' '\n' <"$tmp/$1" | awk -F= -v k="$2" '$1 == k { v = $2 } END { print v }'; }

# ---- 15,000 connections, churning, every byte verified ----
# Three load processes of 5,000 connections each (the per-process cap on
# open files here is 20,000), to 127.0.0.1, .2 and .3 (each its own set of
# ephemeral ports). A connection closes after 1..2,000 round trips and a
# new one replaces it, so threads and fds come and go throughout. A 20 s
# warm-up ramp, then the drained server's fds and RSS are the baseline;
# then SECONDS of load, sampled; then the server must drain back.
run_conns() {
	secs=${SECS:-600}
	ulimit -n 20000 2>/dev/null || { echo "soak: conns needs ulimit -n 20000" >&2; exit 1; }
	echo "== conns: 15,000 connections for $secs s, churning (server stacks 64 KiB) =="
	for mode in native greenshim; do
		: >"$tmp/load.out"
		: >"$tmp/$mode"
		: >"$tmp/samples"
		start_server $mode -s 64 2>"$tmp/server.err"
		row $mode "fds.start=$(fds $spid) rss.start=$(rss $spid)"
		pids=
		for a in 1 2 3; do
			load -a 127.0.0.$a -c 5000 -d 20 -r 2000 -S $a &
			pids="$pids $!"
		done
		for p in $pids; do wait "$p" || echo "soak: the warm-up load failed" >&2; done
		mv "$tmp/load.out" "$tmp/load.warm"
		drain "$(row_fds=$(get $mode fds.start); echo $((row_fds + 16)))"
		sleep 2
		base_fds=$(fds $spid)
		base_rss=$(rss $spid)
		row $mode "fds.base=$base_fds rss.base=$base_rss"
		pids=
		for a in 1 2 3; do
			load -a 127.0.0.$a -c 5000 -d "$secs" -r 2000 -S $((a + 10)) &
			pids="$pids $!"
		done
		# Samples from 10% of the run (the ramp is over) to its last
		# tenth (the load has not started to close yet).
		sleep $((secs / 10 + 1))
		sampler "$tmp/samples" $((secs / 20 + 1)) $((secs * 8 / 10 / (secs / 20 + 1)))
		ok=0
		for p in $pids; do wait "$p" || ok=1; done
		drain "$base_fds"
		sleep 2
		row $mode "fds.end=$(fds $spid) rss.end=$(rss $spid)"
		stop_server
		row $mode "monitor.reports=$(grep -c 'without switching' "$tmp/server.err")"
		grep -v '^ *#\|without switching' "$tmp/server.err" | sed 's/^/  server stderr: /'
		row $mode "$(awk '{ if (!n || $1 < f0) f0 = $1; if ($1 > f1) f1 = $1;
			if (!n || $2 < r0) r0 = $2; if ($2 > r1) r1 = $2; if ($3 > t1) t1 = $3; n++
			if (n == 1) first = $2; last = $2 }
			END { printf "fds.during=%d-%d rss.during=%d-%d rss.first=%d rss.last=%d threads.max=%d samples=%d",
				f0, f1, r0, r1, first, last, t1, n }' "$tmp/samples")"
		row $mode "rss.samples=$(awk '{ printf "%s%d", (NR > 1 ? "," : ""), $2 / 1024 }' "$tmp/samples")"
		row $mode "load.ok=$ok conns.made=$(loadsum connects) roundtrips=$(loadsum roundtrips) sent=$(loadsum sent) verified=$(loadsum verified) mismatches=$(loadsum mismatches) errors=$(loadsum errors)"
		row $mode "$srv"
		row $mode "served.expected=$(($(loadsum connects) + $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^connects=/) { sub(/connects=/, "", $i); s += $i } } END { print s + 0 }' "$tmp/load.warm")))"
		sed -n 's/^/  load: /p' "$tmp/load.out"
		echo "  server ($mode): $srv"
	done
	side served.expected served conns.made roundtrips sent verified mismatches errors fds.start fds.base fds.during fds.end \
		rss.start rss.base rss.during rss.end threads.max monitor.reports
	echo "  verdict:"
	for m in native greenshim; do
		[ "$(get $m server.exit)" = 0 ] && verdict ok "$m: the server printed its counters and exited 0" ||
			verdict FAIL "$m: the server exited $(get $m server.exit)"
		[ "$(get $m load.ok)" = 0 ] && [ "$(get $m sent)" = "$(get $m verified)" ] &&
			[ "$(get $m errors)" = 0 ] && verdict ok "$m: every byte verified, no errors" ||
			verdict FAIL "$m: bytes lost or errors (load.ok=$(get $m load.ok))"
		[ "$(get $m served)" = "$(get $m served.expected)" ] &&
			verdict ok "$m: the server served every connection made" ||
			verdict FAIL "$m: $(get $m served.expected) connections made, $(get $m served) served"
		[ "$(get $m fds.end)" = "$(get $m fds.base)" ] && verdict ok "$m: fds back to baseline" ||
			verdict FAIL "$m: fds $(get $m fds.base) before, $(get $m fds.end) after"
		[ "$(get $m rss.last)" -le $(($(get $m rss.first) * 11 / 10 + 1024)) ] &&
			verdict ok "$m: RSS flat under load, $(get $m rss.first) KiB at the first sample, $(get $m rss.last) at the last" ||
			verdict FAIL "$m: RSS grew under load, $(get $m rss.first) KiB at the first sample, $(get $m rss.last) at the last"
		[ "$(get $m rss.end)" -le $(($(get $m rss.base) * 11 / 10 + 1024)) ] &&
			verdict ok "$m: RSS back to baseline (within 10% + 1 MiB)" ||
			echo "  note $m: drained RSS $(get $m rss.end) KiB, baseline $(get $m rss.base) KiB (what the allocator keeps after a second 15,000-thread peak; compare runs of different lengths)"
	done
	echo "  RSS samples under load, MiB: native $(get native rss.samples); greenshim $(get greenshim rss.samples)"
}

# other_errors LINE ALLOWED: how many errors of the server's counter line
# LINE are not among ALLOWED (a regular expression on "call.ERRNO").
other_errors() {
	echo "$1" | tr ' ' '\n' | grep -E '^(accept|io|create)\.' | grep -vE "^($2)=" |
		awk -F= '{ s += $2 } END { print s + 0 }'
}

# A warm-up (echo, warm_conns connections, then a 5 s fault phase, so
# that the allocator's caches and the runtime's own fds reach what one
# round of the fault leaves: the baseline measures what accumulates over
# the long round, not what the first round builds), the drained server's
# baseline, a fault phase with a sample in
# its middle, a drain, a verified echo check, the end. Sets the figures of
# one server run; fault_phase is run_rst's or run_emfile's.
# phases MODE SERVER_ARGS...
phases() {
	mode=$1
	shift
	: >"$tmp/load.out"
	: >"$tmp/$mode"
	start_server $mode "$@" 2>"$tmp/server.err"
	start_fds=$(fds $spid)
	row $mode "fds.start=$start_fds rss.start=$(rss $spid)"
	ok=0
	load -c "$warm_conns" -d 2 -r 100 -S 1 || ok=1
	phase_secs=5
	base_fds=$((start_fds + 16))
	fault_phase || ok=1
	drain "$base_fds"
	sleep 1
	base_fds=$(fds $spid)
	fd_list >"$tmp/fds.base"
	row $mode "fds.base=$base_fds rss.base=$(rss $spid)"
	phase_secs=$secs
	fault_phase || ok=1
	drain "$base_fds"
	load -c 100 -d 2 -r 100 -S 3 || ok=1
	drain "$base_fds"
	sleep 1
	row $mode "fds.end=$(fds $spid) rss.end=$(rss $spid) fds.new=$(fd_list | fd_new "$tmp/fds.base")"
	stop_server
	row $mode "$srv"
	row $mode "load.ok=$ok served.expected=$(loadsum connects) sent=$(loadsum sent) verified=$(loadsum verified) mismatches=$(loadsum mismatches) resets=$(loadsum resets)"
	row $mode "monitor.reports=$(grep -c 'without switching' "$tmp/server.err")"
	grep -v '^ *#\|without switching' "$tmp/server.err" | sed 's/^/  server stderr: /'
	sed -n 's/^/  load: /p' "$tmp/load.out"
	echo "  server ($mode): $srv"
}

# Verdicts common to rst and emfile; ALLOWED as for other_errors.
common_verdicts() {
	for m in native greenshim; do
		[ "$(get $m server.exit)" = 0 ] && verdict ok "$m: the server printed its counters and exited 0" ||
			verdict FAIL "$m: the server exited $(get $m server.exit)"
		[ "$(get $m load.ok)" = 0 ] && [ "$(get $m mismatches)" = 0 ] &&
			verdict ok "$m: every echoed byte verified, the echo checks passed" ||
			verdict FAIL "$m: a load failed or a byte came back wrong"
		[ "$(get $m served)" = "$(get $m served.expected)" ] &&
			verdict ok "$m: the server served every connection made" ||
			verdict FAIL "$m: $(get $m served.expected) connections made, $(get $m served) served"
		n=$(other_errors "$(cat "$tmp/$m")" "$1")
		[ "$n" = 0 ] && verdict ok "$m: the server saw no error but $(echo "$1" | tr -d "\\\\")" ||
			verdict FAIL "$m: the server saw $n other errors"
		server_fds_verdict $m
		[ "$(get $m rss.end)" -le $(($(get $m rss.base) * 11 / 10 + 1024)) ] &&
			verdict ok "$m: RSS back to baseline (within 10% + 1 MiB)" ||
			verdict FAIL "$m: RSS $(get $m rss.base) KiB before, $(get $m rss.end) KiB after"
	done
}

# server_fds_verdict MODE: as fds_verdict, for the server, whose fds the
# run lists from outside: the runtime's own are its /proc fd, the hub's
# eventfd and epoll fd, and libunwind's pipe once the monitor reported.
server_fds_verdict() {
	if [ "$(get $1 fds.end)" = "$(get $1 fds.base)" ]; then
		verdict ok "$1: fds back to baseline ($(get $1 fds.base))"
	elif [ "$(get $1 fds.end)" -gt "$(get $1 fds.base)" ] &&
		get $1 fds.new | tr ',' '\n' | awk -F: -v reports="$(get $1 monitor.reports)" '
		$2 ~ /^\/proc\/[0-9]+\/task\/[0-9]+\/syscall$/ || $2 == "anon_inode" { next }
		$2 == "pipe" && reports > 0 { pipes[$3]++; n++; next }
		{ bad = 1 }
		END { for (p in pipes) if (pipes[p] != 2) bad = 1; exit bad || n > 2 }'; then
		verdict ok "$1: fds back to baseline but for the runtime's own, opened on the way: $(get $1 fds.new)"
	else
		verdict FAIL "$1: fds $(get $1 fds.base) before, $(get $1 fds.end) after: $(get $1 fds.new)"
	fi
}

# ---- RST storms: clients reset connections in the middle of writing ----
# 500 connections each send 64 KiB..1 MiB without reading (the server's
# echo fills their receive buffers, so its threads block in write) and
# reset at a random point past half; a new one takes its place.
rst_phase() {
	load -m rst -c 500 -d "$phase_secs" -S 2 &
	lp=$!
	sleep $((phase_secs / 2))
	row $mode "fds.during=$(fds $spid) rss.during=$(rss $spid) threads.during=$(threads $spid)"
	wait $lp
}
run_rst() {
	secs=${SECS:-60}
	echo "== rst: 500 connections resetting mid-write for $secs s, echo checks before and after =="
	fault_phase() { rst_phase; }
	warm_conns=500
	for mode in native greenshim; do phases $mode; done
	side served.expected served resets sent verified io.ECONNRESET io.EPIPE fds.start fds.base \
		fds.during fds.end rss.start rss.base rss.during rss.end threads.during monitor.reports
	echo "  verdict:"
	for m in native greenshim; do
		[ "$(get $m io.ECONNRESET)" -gt 0 ] && verdict ok "$m: the server saw the resets (ECONNRESET)" ||
			verdict FAIL "$m: the server saw no reset"
	done
	common_verdicts 'io\.ECONNRESET|io\.EPIPE'
}

# ---- EMFILE at accept, then recovery ----
# The server lowers its RLIMIT_NOFILE to 64 once listening; 2,000
# connections arrive at once (all fit in the backlog), each one round trip
# of 1,000 bytes. accept fails with EMFILE until connections close; the
# server sleeps 1 ms and tries again. Twice, so the second round shows the
# recovery.
emfile_phase() {
	load -m once -c 2000 -d 60 -S 2 &
	lp=$!
	sleep 0.5
	row $mode "fds.during=$(fds $spid) rss.during=$(rss $spid) threads.during=$(threads $spid)"
	wait $lp || return 1
	drain "$base_fds"
	load -m once -c 2000 -d 60 -S 4
}
run_emfile() {
	secs=0
	echo "== emfile: RLIMIT_NOFILE 64, 2 x 2,000 connections at once, echo checks before and after =="
	fault_phase() { emfile_phase; }
	warm_conns=100
	for mode in native greenshim; do phases $mode -n 64; done
	side served.expected served verified accept.EMFILE fds.start fds.base fds.during fds.end \
		rss.start rss.base rss.during rss.end threads.during monitor.reports
	echo "  verdict:"
	for m in native greenshim; do
		[ "$(get $m accept.EMFILE)" -gt 0 ] && verdict ok "$m: accept failed with EMFILE" ||
			verdict FAIL "$m: accept never failed with EMFILE"
	done
	common_verdicts 'accept\.EMFILE'
}

# fds_verdict MODE: fds.end against fds.start of a program that measured
# itself. New fds that the program cannot use (":hidden": the hub's, made
# at the first thread, the blocking monitor's /proc fd) are the runtime's
# own, and so is one pipe (libunwind's, made at the monitor's first
# report) when the monitor reported: docs/LIMITATIONS.md. They are listed.
fds_verdict() {
	if [ "$(get $1 fds.end)" = "$(get $1 fds.start)" ]; then
		verdict ok "$1: fds back to baseline ($(get $1 fds.start))"
	elif [ "$(get $1 fds.end)" -lt "$(get $1 fds.start)" ]; then
		verdict FAIL "$1: fewer fds at the end ($(get $1 fds.end)) than at the start ($(get $1 fds.start))"
	elif get $1 fds.new | tr ',' '\n' | awk -F: -v reports="$(get $1 monitor.reports)" '
		$NF == "hidden" { next }
		$2 == "pipe" && reports > 0 { pipes[$3]++; n++; next }
		{ bad = 1 }
		END { for (p in pipes) if (pipes[p] != 2) bad = 1; exit bad || n > 2 }'; then
		verdict ok "$1: fds back to baseline but for the runtime's own, opened on the way: $(get $1 fds.new)"
	else
		verdict FAIL "$1: fds $(get $1 fds.start) at the start, $(get $1 fds.end) at the end: $(get $1 fds.new)"
	fi
}

# rss_verdict MODE BEFORE: rss.end within 10% + 1 MiB of BEFORE.
rss_verdict() {
	[ "$(get $1 rss.end)" -le $(($(get $1 "$2") * 11 / 10 + 1024)) ] &&
		verdict ok "$1: RSS $(get $1 rss.end) KiB at the end, $2 $(get $1 "$2") KiB" ||
		verdict FAIL "$1: RSS $(get $1 rss.end) KiB at the end, $2 $(get $1 "$2") KiB"
}

# start_prog MODE PROGRAM ARGS...: sets spid; output in $tmp/prog.out,
# stderr in $tmp/prog.err.
start_prog() {
	m=$1
	p=$2
	shift 2
	if [ "$m" = greenshim ]; then
		LD_PRELOAD=$LIB "$B/$p" "$@" >"$tmp/prog.out" 2>"$tmp/prog.err" &
	else
		"$B/$p" "$@" >"$tmp/prog.out" 2>"$tmp/prog.err" &
	fi
	spid=$!
}

# ---- a fork storm while 1,000 threads wait ----
run_forks() {
	secs=${SECS:-30}
	echo "== forks: 1,000 threads waiting (cond, pipe, sleep), one thread forking for $secs s =="
	for mode in native greenshim; do
		: >"$tmp/$mode"
		start_prog $mode gs-soak-forks -t 1000 -d "$secs"
		sleep $((secs / 2 + 1))
		row $mode "fds.during=$(fds $spid) rss.during=$(rss $spid) threads.during=$(threads $spid)"
		wait $spid
		row $mode "exit=$?"
		spid=
		row $mode "$(cat "$tmp/prog.out")"
		row $mode "monitor.reports=$(grep -c 'without switching' "$tmp/prog.err")"
		grep -v '^ *#\|without switching' "$tmp/prog.err" | sed 's/^/  stderr: /'
		echo "  $mode: $(cat "$tmp/prog.out")"
	done
	side forks forks_per_s children.ok children.bad waiters.ok exit fds.start fds.waiting fds.during \
		fds.end rss.start rss.waiting rss.during rss.end threads.during monitor.reports
	echo "  verdict:"
	for m in native greenshim; do
		[ "$(get $m exit)" = 0 ] && [ "$(get $m children.ok)" = "$(get $m forks)" ] &&
			[ "$(get $m waiters.ok)" = 1000 ] &&
			verdict ok "$m: every child's status right, all 1,000 waiters woke right" ||
			verdict FAIL "$m: $(get $m children.bad) children wrong, $(get $m waiters.ok) of 1,000 waiters right"
		fds_verdict $m
		rss_verdict $m rss.waiting
	done
}

# ---- SIGUSR1 at 10 kHz into a server with 1,000 blocked threads ----
run_signals() {
	secs=${SECS:-30}
	echo "== signals: SIGUSR1 at 10 kHz (and SIGRTMIN at 1 kHz) for $secs s, 1,000 blocked threads =="
	for mode in native greenshim; do
		: >"$tmp/$mode"
		start_prog $mode gs-soak-sigtarget -t 1000
		for _ in $(seq 300); do grep -q ready "$tmp/prog.out" && break; sleep 0.1; done
		"$B/gs-soak-sigsend" -p $spid -r 10000 -d "$secs" >"$tmp/send.out" &
		sp=$!
		sleep $((secs / 2))
		row $mode "fds.during=$(fds $spid) rss.during=$(rss $spid) threads.during=$(threads $spid)"
		wait $sp
		row $mode "$(cat "$tmp/send.out")"
		kill -USR2 $spid
		wait $spid
		row $mode "exit=$?"
		spid=
		row $mode "$(grep -v ready "$tmp/prog.out")"
		row $mode "monitor.reports=$(grep -c 'without switching' "$tmp/prog.err")"
		grep -v '^ *#\|without switching' "$tmp/prog.err" | sed 's/^/  stderr: /'
		echo "  $mode: $(cat "$tmp/send.out") $(grep -v ready "$tmp/prog.out")"
	done
	side rate usr1.sent usr1.handled rt.sent rt.eagain rt.handled eintr.read eintr.recv eintr.accept \
		eintr.cond eintr.sem eintr.poll waiters.ok busy.roundtrips busy.bad exit fds.start \
		fds.waiting fds.during fds.end rss.start rss.waiting rss.during rss.end threads.during \
		monitor.reports
	echo "  verdict:"
	for m in native greenshim; do
		[ "$(get $m exit)" = 0 ] && [ "$(get $m waiters.ok)" = 1000 ] && [ "$(get $m busy.bad)" = 0 ] &&
			verdict ok "$m: all 1,000 waiters woke right, every busy message right" ||
			verdict FAIL "$m: $(get $m waiters.ok) of 1,000 waiters right, $(get $m busy.bad) busy errors"
		[ "$(get $m rt.handled)" = "$(get $m rt.sent)" ] &&
			verdict ok "$m: every queued SIGRTMIN handled ($(get $m rt.sent))" ||
			verdict FAIL "$m: $(get $m rt.sent) SIGRTMIN sent, $(get $m rt.handled) handled"
		[ "$(get $m usr1.handled)" -gt 0 ] && [ "$(get $m usr1.handled)" -le "$(get $m usr1.sent)" ] &&
			verdict ok "$m: SIGUSR1 handled $(get $m usr1.handled) times of $(get $m usr1.sent) sent (pending ones merge)" ||
			verdict FAIL "$m: SIGUSR1 handled $(get $m usr1.handled) times of $(get $m usr1.sent) sent"
		fds_verdict $m
		rss_verdict $m rss.waiting
	done
	for k in read recv accept cond sem; do
		[ "$(get native eintr.$k)" != 0 ] || [ "$(get greenshim eintr.$k)" = 0 ] &&
			verdict ok "greenshim: EINTR in $k $(get greenshim eintr.$k) times, native $(get native eintr.$k)" ||
			verdict FAIL "greenshim: EINTR in $k $(get greenshim eintr.$k) times, native never"
	done
	echo "  note: poll is never restarted (signal(7)); EINTR in poll: native $(get native eintr.poll), greenshim $(get greenshim eintr.poll)"
}

# ---- close while waiting ----
# outcome MODE CASE WHEN: what the case's call had done by then.
outcome() {
	awk -v c="$2" '$1 == c' "$tmp/$1" | tr ' ' '\n' | awk -v w="$3" 'index($0, w "=") == 1 { print substr($0, length(w) + 2) }'
}
run_close() {
	n=${SECS:-1000}
	echo "== close: threads blocked in read/recv/poll/accept when another closes the fd; $n races with reuse =="
	for mode in native greenshim; do
		start_prog $mode gs-soak-closewait -n "$n"
		wait $spid
		echo "exit=$?" >>"$tmp/prog.out"
		spid=
		cp "$tmp/prog.out" "$tmp/$mode"
		grep -v '^ *#\|without switching' "$tmp/prog.err" | sed 's/^/  stderr: /'
	done
	printf "  %-10s %-11s %-22s %-22s\n" case "" native greenshim
	for c in read_tcp recv_tcp poll_tcp accept read_pipe; do
		for w in at_close after_wake; do
			printf "  %-10s %-11s %-22s %-22s\n" "$c" "$w" "$(outcome native $c $w)" "$(outcome greenshim $c $w)"
		done
	done
	for m in native greenshim; do grep '^races' "$tmp/$m" >"$tmp/$m.races"; done
	for m in native greenshim; do tr ' ' '\n' <"$tmp/$m.races" >>"$tmp/$m"; done
	side races race.old race.new race.ebadf race.other race.hang newfd.ok newfd.bad exit fds.start \
		fds.after_cases fds.end rss.start rss.end
	echo "  verdict:"
	for m in native greenshim; do
		[ "$(get $m exit)" = 0 ] && [ "$(get $m race.hang)" = 0 ] && [ "$(get $m newfd.bad)" = 0 ] &&
			verdict ok "$m: no hang, the fd's new file always worked, no byte of it went to the old reader" ||
			verdict FAIL "$m: $(get $m race.hang) hangs, $(get $m newfd.bad) broken new files"
		fds_verdict $m
		rss_verdict $m rss.start
	done
	for c in read_tcp recv_tcp poll_tcp accept read_pipe; do
		nat=$(awk -v c=$c '$1 == c' "$tmp/native")
		grn=$(awk -v c=$c '$1 == c' "$tmp/greenshim")
		if [ "${nat#* }" = "${grn#* }" ]; then
			verdict ok "$c: as native"
		elif echo "$grn" | grep -q 'at_close=-1/EBADF'; then
			verdict ok "$c: differs from native as documented (close wakes the waiters with EBADF)"
		elif [ $c = poll_tcp ] && echo "$grn" | grep -q 'at_close=1/revents=NVAL'; then
			verdict ok "$c: differs from native as documented (close wakes poll: POLLNVAL at once)"
		else
			verdict FAIL "$c: native ${nat#* }, greenshim ${grn#* }"
		fi
	done
}

case $NAME in
conns) run_conns ;;
forks) run_forks ;;
signals) run_signals ;;
close) run_close ;;
all)
	for n in rst emfile forks signals close conns; do
		sh "$0" "$B" $n || fail=1
		echo
	done
	;;
rst) run_rst ;;
emfile) run_emfile ;;
*)
	echo "usage: tools/soak/run.sh [BUILD] conns|rst|forks|signals|emfile|close|all [SECONDS]" >&2
	exit 2
	;;
esac
exit $fail
