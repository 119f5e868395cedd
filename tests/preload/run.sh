#!/bin/sh
# Runs ordinary programs (built from tests/preload/*.c, never linked to
# greenshim) under LD_PRELOAD=$B/libgreenshim.so and checks what they do.
# Prints "ok - NAME" or "FAIL - NAME: why" per test, then
# "preload: N passed, N failed".
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

# The blocking monitor's reports (a thread that computes past
# GREENSHIM_MAX_BLOCKING_MS, as the 10,000-thread case's main does) go to
# stderr, which the comparisons with native runs read: here they go to a
# file. The monitor's and the deadlock report's own tests set GREENSHIM_LOG.
export GREENSHIM_LOG="$tmp/reports.log"

# The library exports the gs_* API and the libc symbols it interposes,
# nothing else (no runtime internals, no libev symbols).
test_exports_only_the_api_and_interposed_symbols() {
	name=exports_only_the_api_and_interposed_symbols
	nm -D --defined-only "$LIB" | awk '$2 ~ /[TWDBV]/ {print $3}' | sort >"$tmp/exports"
	unexpected=$(grep -v -E '^gs_[a-z_]+$' "$tmp/exports" | grep -v -x -F -f tests/preload/interposed.txt)
	undocumented=$(while read -r sym; do
		grep -q "\`$sym\`" docs/INTERPOSED.md || echo "$sym"
	done <tests/preload/interposed.txt)
	if [ -n "$unexpected" ]; then
		fail $name "unexpected exports: $(echo $unexpected)"
	elif ! grep -q -x gs_spawn "$tmp/exports"; then
		fail $name "gs_spawn missing"
	elif [ -n "$undocumented" ]; then
		fail $name "not named in docs/INTERPOSED.md: $(echo $undocumented)"
	else
		ok $name
	fi
}

test_a_program_runs_unchanged_under_the_preload() {
	name=a_program_runs_unchanged_under_the_preload
	out=$(LD_PRELOAD=$LIB "$B/tests/preload/hello_threads" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ "$out" != "hello from main
hello from a thread" ]; then
		fail $name "status $rc, output: $out"
	else
		ok $name
	fi
}

# refused VAR VALUE EXPECTED: hello_threads with VAR=VALUE stops before
# main with status 2 and one line, "greenshim: VAR=VALUE: invalid value;
# expected EXPECTED..."; else prints what happened and fails.
refused() {
	LD_PRELOAD=$LIB env "$1=$2" "$B/tests/preload/hello_threads" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 2 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
		! grep -q "^greenshim: $1=$2: invalid value; expected $3" "$tmp/err"; then
		echo "$1=$2: status $rc, stderr: $(cat "$tmp/err")"
		return 1
	fi
}

# accepted VAR VALUE: hello_threads runs with VAR=VALUE; else prints its
# output and fails.
accepted() {
	if ! out=$(LD_PRELOAD=$LIB env "$1=$2" "$B/tests/preload/hello_threads" 2>&1); then
		echo "$1=$2 was refused: $out"
		return 1
	fi
}

# as_native NAME PROGRAM [ARGS...]: ok if PROGRAM succeeds natively and
# prints the same under greenshim, within 30 s each.
as_native() {
	name=$1
	shift
	if ! native=$(timeout 30 "$@" 2>&1); then
		fail $name "natively: $native"
	elif ! out=$(timeout 30 env LD_PRELOAD=$LIB "$@" 2>&1) || [ "$out" != "$native" ]; then
		fail $name "under greenshim: $out (natively: $native)"
	else
		ok $name
	fi
}

# as_native_and_on_one_hub NAME PROGRAM ARGS...: as_native with the default
# hubs, then as NAME_on_one_hub with GREENSHIM_HUBS=1.
as_native_and_on_one_hub() {
	both_name=$1
	shift
	as_native "$both_name" "$@"
	as_native "${both_name}_on_one_hub" env GREENSHIM_HUBS=1 "$@"
}

test_a_bad_greenshim_value_stops_the_program_before_main() {
	name=a_bad_greenshim_value_stops_the_program_before_main
	for v in banana -1 1000 0 16x; do
		LD_PRELOAD=$LIB GREENSHIM_STACK_SIZE=$v "$B/tests/preload/hello_threads" \
			>"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 2 ]; then
			fail $name "GREENSHIM_STACK_SIZE=$v: status $rc, want 2"
			return
		fi
		if [ -s "$tmp/out" ]; then
			fail $name "GREENSHIM_STACK_SIZE=$v: main ran: $(cat "$tmp/out")"
			return
		fi
		if [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
			! grep -q "^greenshim: GREENSHIM_STACK_SIZE=$v: invalid value; expected .*k/K or m/M" "$tmp/err"; then
			fail $name "GREENSHIM_STACK_SIZE=$v: stderr: $(cat "$tmp/err")"
			return
		fi
	done
	out=$(LD_PRELOAD=$LIB GREENSHIM_STACK_SIZE=256k "$B/tests/preload/hello_threads" 2>&1)
	if [ $? -ne 0 ]; then
		fail $name "a valid value (256k) was refused: $out"
		return
	fi
	for v in banana Native 1 yes; do
		why=$(refused GREENSHIM_THREADS "$v" 'green (the default) or native$') ||
			{ fail $name "$why"; return; }
	done
	for v in green native; do
		why=$(accepted GREENSHIM_THREADS "$v") || { fail $name "$why"; return; }
	done
	for v in banana Green 1 own; do
		why=$(refused GREENSHIM_TLS "$v" 'green (the default) or shared$') ||
			{ fail $name "$why"; return; }
	done
	for v in green shared; do
		why=$(accepted GREENSHIM_TLS "$v") || { fail $name "$why"; return; }
	done
	for v in banana LDT fast arch_prctl 1; do
		why=$(refused GREENSHIM_TLS_LOAD "$v" 'auto (the default), wrfsbase, ldt or syscall$') ||
			{ fail $name "$why"; return; }
	done
	for v in auto syscall; do
		why=$(accepted GREENSHIM_TLS_LOAD "$v") || { fail $name "$why"; return; }
	done
	for v in : libfoo.so: a::b /usr/lib/libfoo.so "lib foo.so"; do
		why=$(refused GREENSHIM_NATIVE_LIBS "$v" 'library names separated by colons') ||
			{ fail $name "$why"; return; }
	done
	why=$(accepted GREENSHIM_NATIVE_LIBS libfoo.so:libbar.so.2) || { fail $name "$why"; return; }
	for v in banana Trap on 1; do
		why=$(refused GREENSHIM_SYSCALLS "$v" 'trap (the default) or off$') ||
			{ fail $name "$why"; return; }
	done
	for v in trap off; do
		why=$(accepted GREENSHIM_SYSCALLS "$v") || { fail $name "$why"; return; }
	done
	for v in -1 1001 2ms 1.5 banana " 2"; do
		why=$(refused GREENSHIM_PREEMPT_MS "$v" 'milliseconds from 0') ||
			{ fail $name "$why"; return; }
	done
	for v in 0 1 2 1000; do
		why=$(accepted GREENSHIM_PREEMPT_MS "$v") || { fail $name "$why"; return; }
	done
	ok $name
}

# One case of io_semantics: its output, natively or (with $2) preloaded.
# stdin_pipe gets five lines, 20 ms apart, on a pipe.
io_case() {
	if [ "$1" = stdin_pipe ]; then
		(for i in 1 2 3 4 5; do echo "line $i"; sleep 0.02; done) |
			timeout 30 env ${2:+LD_PRELOAD=$2} "$B/tests/preload/io_semantics" "$1" 2>&1
	else
		timeout 30 env ${2:+LD_PRELOAD=$2} "$B/tests/preload/io_semantics" "$1" 2>&1 </dev/null
	fi
}

# Each case must print the same "ok" line natively and under greenshim.
# Two run preloaded only: close_wakes is greenshim's deliberate difference
# (Linux keeps a read blocked on an fd another thread closes), and
# zero_timeout checks that no other green thread runs, which native
# threads, running in parallel, do (threads of other hubs do as well: it
# runs on one hub).
test_io_semantics_match_native() {
	for c in timeouts rcvtimeo connect_refused nonblock_view stdin_pipe accepters big_write \
		sleeps eintr cpu_bound handoffs eventfd poll_closed_nval poll_unasked \
		queued_after_idle close_wakes zero_timeout uncounted_writes; do
		name=io_${c}_as_native
		if [ $c != close_wakes ] && [ $c != zero_timeout ]; then
			native=$(io_case $c)
			if [ "$native" != "ok $c" ]; then
				fail $name "native run: $native"
				continue
			fi
		fi
		if [ $c = zero_timeout ]; then
			# The calls themselves must not switch; the preemption
			# tick would, after 2 ms of this spinning, by design.
			green=$(GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 io_case $c "$LIB")
		else
			green=$(io_case $c "$LIB")
		fi
		if [ "$green" != "ok $c" ]; then
			fail $name "under greenshim: $green"
		else
			ok $name
		fi
	done
}

# On one hub as well: there a read that waits before it tries is found
# readable only by the hub's own poll when no green write counted the
# bytes (io_semantics.c, case_uncounted_writes).
test_uncounted_writes_one_hub() {
	for c in uncounted_writes handoffs; do
		out=$(GREENSHIM_HUBS=1 io_case $c "$LIB")
		if [ "$out" = "ok $c" ]; then ok io_${c}_one_hub; else fail io_${c}_one_hub "$out"; fi
	done
}

# The knob is real: with GREENSHIM_PREEMPT_MS=0 the computing thread keeps
# the ticker from running at all (pure cooperation, as in gevent), on one
# hub (on two, the other hub runs the ticker).
test_preemption_off_is_cooperative() {
	name=preempt_ms_0_is_cooperative
	out=$(GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 io_case cpu_bound "$LIB")
	if echo "$out" | grep -q "the ticker ran 0 times in 300 ms"; then
		ok $name
	else
		fail $name "expected the ticker starved, got: $out"
	fi
}

# cases_match_native PROGRAM PREFIX CASE...: each case of a case program
# prints the same "ok CASE" line natively and under greenshim.
cases_match_native() {
	prog=$1
	prefix=$2
	shift 2
	for c in "$@"; do
		case_matches "${prefix}_${c}_as_native" "$prog" "$c"
	done
}

# output_matches_native NAME PROGRAM CASE: ok if the case prints the same
# lines, ending with "ok CASE", natively, under greenshim and with
# GREENSHIM_THREADS=native.
output_matches_native() {
	name=$1
	native=$(timeout 60 "$B/tests/preload/$2" $3 2>&1)
	green=$(LD_PRELOAD="$LIB" timeout 60 "$B/tests/preload/$2" $3 2>&1)
	nthreads=$(GREENSHIM_THREADS=native LD_PRELOAD="$LIB" timeout 60 "$B/tests/preload/$2" $3 2>&1)
	if [ "$(echo "$native" | tail -n 1)" != "ok $3" ]; then
		fail $name "native run: $native"
	elif [ "$green" != "$native" ]; then
		fail $name "under greenshim: $(echo "$native" >"$tmp/out.n"; echo "$green" | diff "$tmp/out.n" -)"
	elif [ "$nthreads" != "$native" ]; then
		fail $name "with GREENSHIM_THREADS=native: $(echo "$native" >"$tmp/out.n"; echo "$nthreads" | diff "$tmp/out.n" -)"
	else
		ok $name
	fi
}

# case_matches NAME PROGRAM CASE [VAR=VALUE...]: ok if the case prints
# "ok CASE" natively and under greenshim, with the variables given there.
case_matches() {
	name=$1
	prog=$2
	c=$3
	shift 3
	native=$(timeout 60 "$B/tests/preload/$prog" $c 2>&1)
	green=$(timeout 60 env "$@" LD_PRELOAD="$LIB" "$B/tests/preload/$prog" $c 2>&1)
	if [ "$native" != "ok $c" ]; then
		fail $name "native run: $native"
	elif [ "$green" != "ok $c" ]; then
		fail $name "under greenshim${*:+ with $*}: $green"
	else
		ok $name
	fi
}

# Code not known at start: a loop in a library loaded with dlopen, and in
# code the program wrote into memory itself (a JIT's), on a thread and on
# the main thread, is preempted as the program's own is: on one hub, the
# ticker runs meanwhile as it does natively.
test_late_code_is_preempted() {
	for c in dlopen_loop made_code_loop made_code_main; do
		case_matches late_${c}_as_native late_code $c GREENSHIM_HUBS=1
	done
}

# Eight threads computing 100 frames deep in code the program made (a
# JIT's: frame pointers, no unwinding tables), on every hub at the default
# settings: a tick that stops one there reads its frames with libunwind,
# whose lock another hub's tick may hold meanwhile. Until 2026-12-06 the
# tick that waited for it slept in nanosleep's wrapper, which parked its
# thread on the OS thread's alternate signal stack, where the next tick's
# frame overwrote it: this program died of SIGSEGV in 5 runs of 5, and
# Node.js now and then under load. Each thread checks afterwards that it
# is still itself.
test_ticks_reading_deep_made_code_on_every_hub_keep_their_threads() {
	case_matches ticks_reading_deep_made_code_on_every_hub_as_native late_code made_code_deep
}

# ... but not in a library's constructor, which runs under the loader's
# lock (natively the ticker runs meanwhile: preloaded only).
test_a_constructor_in_dlopen_is_not_preempted() {
	name=a_constructor_in_dlopen_is_not_preempted
	out=$(GREENSHIM_HUBS=1 GREENSHIM_MAX_BLOCKING_MS=0 LD_PRELOAD="$LIB" timeout 60 \
		"$B/tests/preload/late_code" constructor 2>&1)
	if [ "$out" = "ok constructor" ]; then
		ok $name
	else
		fail $name "$out"
	fi
}

# fork, the wait family, system(), popen() and pclose().
test_process_semantics_match_native() {
	cases_match_native process_semantics process fork_parked fork_from_thread fork_mutex \
		waits two_waiters waits_keep_no_fd wait_eintr system popen_read popen_write popen_modes \
		popen_closes_other_streams pclose_waits pclose_after_reap ptrace
}

# sigwait, sigwaitinfo, sigtimedwait, pause, sigsuspend, and EINTR from the
# other blocking calls.
test_signal_waits_match_native() {
	cases_match_native signal_waits signal sigwait_from_process sigwait_pthread_kill \
		sigwait_keeps_no_fd main_sigwait_beside_open_threads sigtimedwait_results \
		sigwait_eintr sigwait_every_signal pause sigsuspend sigsuspend_same_mask \
		sigpause_forms pending_for_a_thread eintr_where_native \
		reset_every_signal sigqueue_a_thread sent_before_a_flag cancel_before_a_flag \
		stop_the_world siginterrupt_forms rt_queue_from_process sigpipe_is_the_writers \
		process_signal_on_main siglongjmp_out_of_a_wait own_handler_for_every_signal
}

# A process's signal runs its handler on the thread it is for (the main
# thread first), a write's SIGPIPE on the writer, and a handler may leave
# an interrupted wait with siglongjmp: on one hub, which has other threads
# to run meanwhile, and with GREENSHIM_THREADS=native.
test_signals_on_their_thread() {
	for c in sigpipe_is_the_writers process_signal_on_main siglongjmp_out_of_a_wait \
		own_handler_for_every_signal sigwait_keeps_no_fd main_sigwait_beside_open_threads; do
		case_matches signal_${c}_one_hub signal_waits $c GREENSHIM_HUBS=1
		case_matches signal_${c}_native_threads signal_waits $c GREENSHIM_THREADS=native
	done
}

# sem_wait, sem_timedwait, sem_clockwait interrupted by a handler, with and
# without SA_RESTART: each call's result, errno and the semaphore's value
# afterwards print the same natively, under greenshim and with
# GREENSHIM_THREADS=native (the case itself checks signal(7)'s rules); on
# a private semaphore, and on a process-shared one that the process's only
# thread waits for (before 2026-12-04 that wait polled, and a signal did
# not end it).
test_sem_waits_are_interrupted_as_native() {
	for c in sem_eintr sem_shared_alone; do
		output_matches_native ${c}_as_native signal_waits $c
	done
}

# While a thread waits in sigwait for a signal that main lets in, main's
# forked child, a program it execs and one run by system() start on main's
# own mask, as natively (greenshim blocks the waited signal on every hub,
# not in what a child inherits): the same SigBlk lines natively, under
# greenshim with the default hubs, one hub, two, and native threads.
test_children_start_on_their_own_mask_beside_a_sigwait() {
	output_matches_native children_beside_a_sigwait_as_native signal_waits \
		children_beside_a_sigwait
	native=$(timeout 60 "$B/tests/preload/signal_waits" children_beside_a_sigwait 2>&1)
	green=$(GREENSHIM_HUBS=1 LD_PRELOAD="$LIB" timeout 60 \
		"$B/tests/preload/signal_waits" children_beside_a_sigwait 2>&1)
	if [ "$green" != "$native" ]; then
		fail children_beside_a_sigwait_on_one_hub "$(echo "$native" >"$tmp/one.n"
			echo "$green" | diff "$tmp/one.n" -)"
	else
		ok children_beside_a_sigwait_on_one_hub
	fi
}

test_sync_semantics_match_native() {
	cases_match_native sync_semantics sync mutex_kinds producer_consumer cond_timeouts \
		semaphores keys_and_once ten_thousand spinlock rwlock rwlock_readers_first barrier c11 \
		futex futex_shared shared_mutexes thread_api stale_handles sigmask
}

# Sixteen threads share every pthread object at once; 400 threads are
# joined or detached; 2,000 threads hammer a mutex of each kind, an rwlock,
# a semaphore, a bounded queue on condition variables, a spinlock and a
# raw futex for 200 rounds each; threads that only compute keep their
# per-thread state as they are preempted and moved between hubs; a
# signal sent to a computing thread just before it is told to end is
# handled before it ends; threads of either hub named by their kernel id
# take tgkill's and tkill's signals; threads sent SIGUSR1 in a loop still
# compute (tests/preload/hubs.c).
test_hubs_cases_match_native() {
	cases_match_native hubs hubs objects join_detach stress computing bursts kill_then_end \
		kill_computing tgkill kill_storm
}

# CPU affinity is per thread (tests/preload/affinity.c): a thread's mask,
# set by itself, by another thread or by its creation attribute, or
# inherited, is its own, with one hub and with two; a main thread that
# pins itself before making threads confines them; the kernel's errors;
# a pinned thread's fork child, and the programs it execs or spawns, have
# its mask; a signal handler reads masks while the main thread sets its
# own. Also with GREENSHIM_THREADS=native, where the calls are glibc's.
test_affinity_is_per_thread() {
	for c in own_mask main_pins confine errors fork exec spawn handler; do
		case_matches affinity_${c}_as_native affinity $c
		case_matches affinity_${c}_one_hub affinity $c GREENSHIM_HUBS=1
		case_matches affinity_${c}_two_hubs affinity $c GREENSHIM_HUBS=2
		case_matches affinity_${c}_native_threads affinity $c GREENSHIM_THREADS=native
	done
}

# A signal another hub's thread sends reaches a thread that computes
# without ever waiting, at once, where it computes (the kick to its hub's
# OS thread: src/preempt.c): with no ticks its hub would never look at
# what was posted to it, and the thread would compute for ever. Also with
# the blocking monitor off, the other user of the runtime's signal.
test_a_signal_reaches_a_thread_computing_on_another_hub_without_ticks() {
	case_matches kill_computing_two_hubs_no_ticks hubs kill_computing GREENSHIM_HUBS=2 \
		GREENSHIM_PREEMPT_MS=0
	case_matches kill_computing_two_hubs_no_ticks_no_monitor hubs kill_computing \
		GREENSHIM_HUBS=2 GREENSHIM_PREEMPT_MS=0 GREENSHIM_MAX_BLOCKING_MS=0
}

# two_hubs PROG CASE...: each case prints "ok CASE" natively and with
# GREENSHIM_HUBS=2, its threads on two OS threads at once.
two_hubs() {
	prog=$1
	shift
	for c in "$@"; do
		case_matches "two_hubs_${prog%_semantics}_$c" "$prog" "$c" GREENSHIM_HUBS=2 </dev/null
	done
}

# two_hubs_output PROGRAM CASE...: each case prints exactly what it prints
# natively (all of it, not only its "ok" line) with GREENSHIM_HUBS=2.
two_hubs_output() {
	prog=$1
	shift
	for c in "$@"; do
		name=two_hubs_$(echo "${prog%_semantics}_$c" | tr ' ' _)
		native=$(timeout 60 "$B/tests/preload/$prog" $c 2>&1 </dev/null)
		green=$(GREENSHIM_HUBS=2 LD_PRELOAD="$LIB" timeout 60 "$B/tests/preload/$prog" $c 2>&1 </dev/null)
		if [ "$green" != "$native" ]; then
			fail $name "with GREENSHIM_HUBS=2: $(echo "$native" >"$tmp/two.n"; echo "$green" | diff "$tmp/two.n" -)"
		else
			ok $name
		fi
	done
}

# GREENSHIM_HUBS=2: what holds with one hub holds with two for the
# objects, threads, processes, I/O, signals (a thread's own, the
# process's, sigwait, EINTR, masks, raw rt_sigprocmask and rt_sigaction,
# the runtime's own signals sent by the program), cancellation and a FILE
# written by threads of both hubs. Not for one hub's cooperative timing
# (io zero_timeout, GREENSHIM_PREEMPT_MS=0): docs/LIMITATIONS.md.
test_two_hubs_match_native() {
	two_hubs hubs objects join_detach stress computing bursts kill_then_end kill_computing tgkill \
		kill_storm
	two_hubs sync_semantics mutex_kinds producer_consumer cond_timeouts semaphores \
		keys_and_once ten_thousand spinlock rwlock rwlock_readers_first barrier c11 futex \
		shared_mutexes shared_cond_checked thread_api stale_handles
	two_hubs process_semantics fork_parked fork_from_thread fork_mutex waits two_waiters \
		waits_keep_no_fd wait_eintr system popen_read pclose_waits ptrace
	two_hubs io_semantics timeouts rcvtimeo connect_refused nonblock_view accepters \
		big_write sleeps eintr cpu_bound handoffs eventfd poll_closed_nval poll_unasked \
		queued_after_idle
	two_hubs own_malloc threads_allocate
	two_hubs signal_waits sigwait_from_process sigwait_pthread_kill sigwait_keeps_no_fd \
		main_sigwait_beside_open_threads sigtimedwait_results \
		sigwait_eintr sigwait_every_signal pause sigsuspend sigsuspend_same_mask \
		sigpause_forms pending_for_a_thread eintr_where_native reset_every_signal \
		sigqueue_a_thread sent_before_a_flag cancel_before_a_flag stop_the_world \
		siginterrupt_forms rt_queue_from_process sigpipe_is_the_writers \
		process_signal_on_main siglongjmp_out_of_a_wait
	two_hubs_output signal_waits sem_eintr children_beside_a_sigwait
	two_hubs_output raw_syscalls sigmask sigaction
	two_hubs_output stdio_semantics shared_file file_locks shared_regular_file locked_sections
	for sig in segv sys rtmax1; do
		for how in raise pthread_kill sigqueue kill; do
			two_hubs_output sent_signals "$sig $how handled"
		done
	done
}

# The FILE lock between green threads of one hub, whose OS thread glibc
# takes for the owner of both: flockfile and ftrylockfile keep a FILE to
# one thread (failed before: the second thread took it), lines two
# threads write through one FILE stay whole, and a section written under
# flockfile stays whole while another thread's fputc, putc... take the
# lock themselves (failed before: preempted, or parked, the holder let
# them in).
test_file_locks_on_one_hub() {
	for c in file_locks shared_regular_file locked_sections; do
		name=stdio_${c}_on_one_hub
		native=$(stdio_case $c)
		green=$(GREENSHIM_HUBS=1 stdio_case $c "$LIB")
		if [ "$green" != "$native" ]; then
			fail $name "$(echo "$native" >"$tmp/one.n"; echo "$green" | diff "$tmp/one.n" -)"
		else
			ok $name
		fi
	done
}

# GREENSHIM_HUBS takes a number of hubs or auto; anything else stops the
# program with one line.
test_hubs_values() {
	name=hubs_values
	for v in 0 65 -1 2x two; do
		why=$(refused GREENSHIM_HUBS "$v" 'a number of hubs from 1 to 64, or auto') ||
			{ fail $name "$why"; return; }
	done
	for v in 1 2 auto; do
		why=$(accepted GREENSHIM_HUBS "$v") || { fail $name "$why"; return; }
	done
	ok $name
}

# A program with a malloc of its own that locks a pthread mutex, sets a
# pthread key and calls syscall() (as jemalloc does: redis-server) starts
# and allocates from four threads (it crashed in endless recursion: making
# the hub, resolving libc's functions and growing the key table all
# allocate).
test_own_malloc_matches_native() {
	cases_match_native own_malloc own_malloc threads_allocate
}

# Cancellation of a green thread is refused, documented in LIMITATIONS.md
# (natively it succeeds: this case runs preloaded only).
# With a TLS per green thread, cancellation works (tests/lang/cancel.c);
# with a shared one it is refused.
test_cancel_with_a_shared_tls_is_refused() {
	name=cancel_with_a_shared_tls_is_refused
	out=$(LD_PRELOAD="$LIB" GREENSHIM_TLS=shared timeout 30 "$B/tests/preload/sync_semantics" cancel_refused 2>&1)
	if [ "$out" = "ok cancel_refused" ]; then ok $name; else fail $name "$out"; fi
}

# GREENSHIM_THREADS=native: real threads, each with a hub for its own I/O.
# The same cases print the same lines (close_wakes is left out: another
# OS thread's close does not end a wait, as with Linux itself).
test_native_threads_mode_matches_native() {
	for c in timeouts rcvtimeo connect_refused nonblock_view stdin_pipe accepters big_write \
		sleeps eintr handoffs uncounted_writes; do
		name=native_threads_io_$c
		out=$(GREENSHIM_THREADS=native io_case $c "$LIB")
		if [ "$out" = "ok $c" ]; then ok $name; else fail $name "$out"; fi
	done
	for c in sigwait_from_process sigwait_pthread_kill sigtimedwait_results sigwait_eintr \
		pause sigsuspend pending_for_a_thread eintr_where_native reset_every_signal; do
		name=native_threads_signal_$c
		out=$(GREENSHIM_THREADS=native LD_PRELOAD="$LIB" timeout 60 \
			"$B/tests/preload/signal_waits" $c 2>&1)
		if [ "$out" = "ok $c" ]; then ok $name; else fail $name "$out"; fi
	done
	for c in mutex_kinds producer_consumer cond_timeouts semaphores keys_and_once spinlock \
		rwlock barrier c11 futex thread_api; do
		name=native_threads_sync_$c
		out=$(GREENSHIM_THREADS=native LD_PRELOAD="$LIB" timeout 60 \
			"$B/tests/preload/sync_semantics" $c 2>&1)
		if [ "$out" = "ok $c" ]; then ok $name; else fail $name "$out"; fi
	done
}

# With native threads, a thread's hub goes when the thread ends: a server
# making a thread per connection keeps the same fds, and its mappings do
# not grow.
test_native_threads_leave_no_hub_behind() {
	name=native_threads_leave_no_hub_behind
	GREENSHIM_THREADS=native LD_PRELOAD=$LIB "$B/gs-echo-threads" >"$tmp/port" 2>&1 &
	server=$!
	if ! port=$(wait_port "$tmp/port"); then
		fail $name "the server did not start"
		kill $server
		return
	fi
	# Twelve rounds, the first compared with none: it fills glibc's cache
	# of thread stacks and malloc's arenas. After it, the placement of a
	# cached stack can merge two mappings or not, so the count moves by one
	# either way from round to round (seen as 93/94/93/94 on a loaded
	# machine), and the cache may hold one stack more or fewer, a guard
	# page and a stack, two mappings (seen as 94/96/94 in 1 CI run of
	# about 20, when the bound was one): the counts of rounds 2-12 may
	# spread by three. A hub left per thread would add 200 fds and
	# hundreds of mappings a round; a leak of one mapping a round spreads
	# them by ten, of one every two rounds by five.
	counts=
	for round in 1 2 3 4 5 6 7 8 9 10 11 12; do
		if ! "$B/gs-echo-load" -p "$port" -c 100 -n 10 >"$tmp/load" 2>&1; then
			fail $name "load: $(cat "$tmp/load")"
			kill $server
			return
		fi
		# The connections' threads are gone (up to 10 s on a loaded
		# machine) before the server's fds and mappings are counted.
		for _ in $(seq 100); do
			[ "$(program_threads $server)" -le 1 ] && break
			sleep 0.1
		done
		sleep 0.1
		counts="$counts $(ls "/proc/$server/fd" | wc -l)/$(wc -l <"/proc/$server/maps")"
	done
	kill $server
	wait $server 2>/dev/null
	set -- $counts
	shift
	# After round 1: the fds stay the same, the mappings within three.
	fds=${1%/*} lo=${1#*/} hi=${1#*/} same=yes
	for c in "$@"; do
		[ "${c%/*}" = "$fds" ] || same=no
		[ "${c#*/}" -lt "$lo" ] && lo=${c#*/}
		[ "${c#*/}" -gt "$hi" ] && hi=${c#*/}
	done
	if [ $same = no ] || [ $((hi - lo)) -gt 3 ]; then
		fail $name "fds/mappings after each round of 100 threads: $counts"
	else
		ok $name
	fi
}

# The thread-per-connection echo server with 1,000 concurrent clients,
# every byte checked by the load, on one OS thread.
test_echo_server_serves_1000_clients_on_one_os_thread() {
	name=echo_server_serves_1000_clients_on_one_os_thread
	# 1,000 connections need more than the usual 1,024 open files.
	if ! need_files 2100; then
		fail $name "cannot raise the open-files limit to 2100 (ulimit -n: $(ulimit -n))"
		return
	fi
	LD_PRELOAD=$LIB "$B/gs-echo-threads" -a 8 >"$tmp/port" 2>"$tmp/server.err" &
	server=$!
	if ! port=$(wait_port "$tmp/port"); then
		fail $name "the server did not start: $(cat "$tmp/server.err")"
		kill $server
		return
	fi
	"$B/gs-echo-load" -p "$port" -c 1000 -d 3 >"$tmp/load" 2>&1 &
	load=$!
	sleep 2
	tasks=$(program_threads "$server")
	conns=$(ls -l "/proc/$server/fd" 2>/dev/null | grep -c socket)
	wait $load
	rc=$?
	kill $server
	wait $server 2>/dev/null
	if [ $rc -ne 0 ] || ! grep -q 'errors=0' "$tmp/load"; then
		fail $name "load: $(cat "$tmp/load") server: $(cat "$tmp/server.err")"
	elif [ "$tasks" -ne 1 ]; then
		fail $name "the server ran $tasks OS threads"
	elif [ "$conns" -lt 1000 ]; then
		fail $name "only $conns sockets open in the server mid-run"
	else
		ok $name
	fi
}

# 100,000 threads one after another under greenshim (10,000 natively, where
# each costs a clone): what glibc keeps per thread is given back or reused,
# so the resident set stays flat.
test_short_lived_threads_leave_no_memory_behind() {
	name=short_lived_threads_leave_no_memory_behind
	if ! out=$(timeout 120 "$B/tests/preload/short_lived_threads" 10000 2>&1); then
		fail $name "natively: $out"
	elif ! out=$(timeout 120 env LD_PRELOAD=$LIB "$B/tests/preload/short_lived_threads" 100000 2>&1); then
		fail $name "under greenshim: $out"
	else
		ok $name
	fi
}

# More threads alive at once than the LDT has slots (8,192), with
# GREENSHIM_TLS_LOAD=ldt: those past the last slot load their thread
# pointer with arch_prctl, and every one keeps its own __thread values and
# errno across waits (tests/preload/many_tls.c). Skipped where this kernel
# refuses modify_ldt (the run then stops at start with one line, status 2).
# Without the blocking monitor: main's creation loop writes 8,192 slots
# (some 50 us each with two hubs), which it rightly reports.
test_more_threads_than_ldt_slots_keep_their_own_tls() {
	name=more_threads_than_ldt_slots_keep_their_own_tls
	prog="$B/tests/preload/many_tls"
	if ! native=$(timeout 120 "$prog" 9000 2>&1); then
		fail $name "natively: $native"
		return
	fi
	out=$(timeout 120 env GREENSHIM_TLS_LOAD=ldt GREENSHIM_MAX_BLOCKING_MS=0 \
		LD_PRELOAD=$LIB "$prog" 9000 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && echo "$out" | grep -q "^greenshim: GREENSHIM_TLS_LOAD=ldt: "; then
		skip $name "$out"
	elif [ $rc -ne 0 ] || [ "$out" != "$native" ]; then
		fail $name "under greenshim (status $rc): $out (natively: $native)"
	else
		ok $name
	fi
}

# A thread waits for io_uring completions through liburing (a file, a
# timeout, a pipe another thread fills after ticking): the same results,
# and the other thread runs meanwhile (before, liburing's own io_uring_enter
# held the OS thread and ended with EINTR at a preemption tick).
test_liburing_waits_leave_other_threads_running() {
	as_native liburing_waits_leave_other_threads_running "$B/tests/preload/uring_waits"
}

# Each thread's own CPU clock (CLOCK_THREAD_CPUTIME_ID,
# tests/preload/thread_cpu_clock.c): a sleeper's stays still while two
# threads compute, theirs grow, a forked child's starts at 0. Before
# 2026-12-06 every green thread read its OS thread's.
test_thread_cpu_clocks_are_per_thread() {
	as_native_and_on_one_hub thread_cpu_clocks_are_per_thread "$B/tests/preload/thread_cpu_clock"
}

# Other threads' CPU clocks, through pthread_getcpuclockid (Java's
# ThreadMXBean, Python's time.pthread_getcpuclockid; tests/preload/
# other_cpu_clocks.c): a computing thread's clock grows while main reads
# it, a sleeper's does not, each reads what the thread reads for itself,
# main's is main's own, a joined thread's is EINVAL. With one hub and with
# two. Before 2026-12-07 a green thread's clock was its OS thread's.
# getrusage(RUSAGE_THREAD) is each thread's own (tests/preload/thread_rusage.c):
# a computing thread's CPU time, a sleeping one's voluntary switches, main's
# next to nothing while it waits, as natively, with the default hubs and
# with one. The library before 2026-12-07 gave a green thread its hub's OS
# thread's usage.
test_thread_rusage_is_per_thread() {
	as_native_and_on_one_hub thread_rusage_is_per_thread "$B/tests/preload/thread_rusage"
}

# A loop on its own CPU clock is preempted (tests/preload/cpu_clock_spin.c):
# a sleeper beside it wakes on time, with one hub too. Before 2026-12-07 the
# clock's wrapper did not preempt at its return, and on one hub the sleeper
# woke some 5 times in 300 ms.
test_a_loop_on_its_cpu_clock_is_preempted() {
	as_native_and_on_one_hub a_loop_on_its_cpu_clock_is_preempted "$B/tests/preload/cpu_clock_spin"
}

# The tick's frame of a thread that runs on a small stack of the program's
# goes to the alternate stack it set, never below that stack pointer, also
# where the main thread set its own before it had a hub (one hub), as
# Erlang's BEAM does (tests/preload/foreign_stack_tick.c): the data below
# the small stack is untouched, as natively. Before 2026-12-07, on one hub,
# the frame went into it and Erlang/OTP crashed.
test_a_tick_on_a_small_stack_spares_what_lies_below() {
	as_native_and_on_one_hub a_tick_on_a_small_stack_spares_what_lies_below \
		"$B/tests/preload/foreign_stack_tick"
}

# The same with raw system calls made on the small stack, which greenshim
# catches with SIGSYS (Go's runtime makes its futex calls so, on a
# goroutine's 2 KiB stack): that frame goes to the alternate stack the
# thread set too. Before 2026-12-07 it went below the stack pointer: the
# data was overwritten, and a Go program built with cgo died in its first
# garbage collection.
test_a_trapped_call_on_a_small_stack_spares_what_lies_below() {
	as_native_and_on_one_hub a_trapped_call_on_a_small_stack_spares_what_lies_below \
		"$B/tests/preload/foreign_stack_tick" raw
}

# errno is zero at main's start (ISO C) and at a new thread's, as natively;
# the library before 2026-12-07 left ENOTTY from its constructor.
test_errno_is_zero_at_start() {
	as_native errno_is_zero_at_start "$B/tests/preload/errno_at_start"
}

test_other_threads_cpu_clocks_are_theirs() {
	as_native_and_on_one_hub other_threads_cpu_clocks_are_theirs "$B/tests/preload/other_cpu_clocks"
}


# libc (tests/preload/raw_syscalls.c): each case waits in one for what
# another thread does after it, and everything it prints is the native
# run's: results, errors, the signal mask and dispositions, each thread's
# alternate signal stack, a raw fork and wait4, liburing's own
# io_uring_enter; and the same waits made through libc's syscall() (as the
# trapped ones). Caught by Syscall User Dispatch (src/trap.c); with
# GREENSHIM_SYSCALLS=off the futex, poll, sigmask, sigaction, sigaltstack
# and uring cases differ from native.
test_raw_syscalls_match_native() {
	for c in pipe futex pingpong poll results sigmask sigaction sigaltstack fork uring uring_defer \
		uring_syscall libc_syscall; do
		as_native raw_syscalls_$c "$B/tests/preload/raw_syscalls" $c
	done
	# Before the second thread (Go's first thread), on two hubs, whose
	# first hub is made before main: until 2026-12-07 the kernel's answer
	# was greenshim's own stack, which Go's runtime then took for its
	# signals, and every cgo-built Go program on two hubs died at once.
	as_native raw_syscalls_sigaltstack_first env GREENSHIM_HUBS=2 \
		"$B/tests/preload/raw_syscalls" sigaltstack_first
}

# A single-threaded program enters a new user namespace, which needs a
# process of one thread: under greenshim too (the control thread ends
# around the call), with the native results after it (a thread, setns into
# its own namespace: EINVAL); and greenctl's thread is back afterwards.
# Skipped where the kernel refuses user namespaces to this user natively.
test_a_single_threaded_program_enters_a_user_namespace() {
	name=a_single_threaded_program_enters_a_user_namespace
	prog="$B/tests/preload/user_namespace"
	native=$(timeout 30 "$prog" 2>&1)
	if [ "$(echo "$native" | head -n 1)" != "unshare(CLONE_NEWUSER) = 0" ]; then
		skip $name "natively: $(echo "$native" | head -n 1)"
		return
	fi
	out=$(timeout 30 env LD_PRELOAD=$LIB "$prog" 2>&1)
	if [ "$out" != "$native" ]; then
		fail $name "under greenshim: $out (natively: $native)"
		return
	fi
	# greenctl's thread again: a program that sleeps after the call.
	LD_PRELOAD=$LIB unshare -r sleep 2 &
	pid=$!
	sleep 0.5
	names=$(cat /proc/$pid/task/*/comm 2>/dev/null | sort | tr '\n' ' ')
	wait $pid
	if [ "$names" != "gs-control sleep " ]; then
		fail $name "threads of unshare -r sleep under greenshim: $names"
	else
		ok $name
	fi
}

# greenshim's own fds (the hub's epoll fd and eventfd, the control socket)
# stay out of the program's way: its opens get the native numbers, fstat
# and fcntl find nothing of ours, a closed standard fd is taken again, and
# a child that rearranges its fds and execs finds only its own
# (tests/preload/own_fds.c).
test_own_fds_stay_out_of_the_programs_way() {
	as_native own_fds_stay_out_of_the_programs_way "$B/tests/preload/own_fds"
}

# A program that closes an fd and opens again while its other threads
# compute, in five fresh children: the number it closed stays closed and
# its opens get the same lowest number each time, as natively; the
# runtime makes no fd of its own, even for a moment, while the program
# runs (tests/preload/fd_reuse.c; the library before 2026-12-07 opened the
# monitor's files at its first sample, and failed within ten runs).
test_fd_numbers_stay_the_programs_while_threads_run() {
	as_native fd_numbers_stay_the_programs_while_threads_run \
		env GREENSHIM_HUBS=2 "$B/tests/preload/fd_reuse" 5
	as_native fd_numbers_stay_the_programs_while_threads_run_on_one_hub \
		env GREENSHIM_HUBS=1 "$B/tests/preload/fd_reuse" 5
}

# A program that dup2s and dup3s over the numbers greenshim keeps its own
# fds at (1023 down to 990) while its threads hand bytes through pipes,
# sleep and look up a name: each number is what the program put there, as
# natively, and the runtime goes on with its fds moved (the hub's epoll fd
# and wake-up eventfd, the monitor's, the control socket's), with green
# threads and with native ones (a hub per OS thread: moves across hubs);
# then closefrom(3) closes the program's fds as natively and none of the
# runtime's, whose threads still hand a byte over a new pipe
# (tests/preload/dup_over.c).
test_dup2_over_the_runtimes_fds_moves_them() {
	as_native dup2_over_the_runtimes_fds_moves_them "$B/tests/preload/dup_over"
	as_native dup2_over_the_runtimes_fds_moves_them_native_threads \
		env GREENSHIM_THREADS=native "$B/tests/preload/dup_over"
}

# ... and greenctl still reaches the process afterwards, its control
# socket moved.
test_greenctl_answers_after_dup2_over_its_socket() {
	name=greenctl_answers_after_dup2_over_its_socket
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	LD_PRELOAD=$LIB "$B/tests/preload/dup_over" --wait <"$tmp/in" >"$tmp/out" 2>&1 &
	pid=$!
	exec 3>"$tmp/in"
	for _ in $(seq 100); do
		grep -q '^ready' "$tmp/out" && break
		sleep 0.1
	done
	ps_out=$(timeout 10 "$B/greenctl" $pid ps 2>&1)
	exec 3>&-
	wait $pid
	rc=$?
	if ! grep -q '^ready' "$tmp/out" || [ $rc -ne 0 ]; then
		fail $name "status $rc: $(cat "$tmp/out")"
	elif ! echo "$ps_out" | grep -q "hub of OS thread $pid"; then
		fail $name "greenctl ps: $ps_out"
	else
		ok $name
	fi
}

# The signals greenshim takes for itself (SIGSEGV: stack overflows; SIGSYS:
# raw system calls; SIGRTMAX-1: preemption and samples), sent by raise,
# pthread_kill, sigqueue or kill from another process, with a second
# thread alive: an unhandled one ends the process with the native status
# (139, 159, 191), a handled one runs the program's handler once
# (tests/preload/sent_signals.c); and so while the second thread makes raw
# system calls, which greenshim catches with SIGSYS (before 2026-12-07,
# a SIGSYS sent while that handler ran was dropped, sys kill raw 32 of 40).
test_sent_signals_get_their_native_action() {
	for sig in segv sys rtmax1; do
		name=sent_signals_get_their_native_action_$sig
		why=
		for how in raise pthread_kill sigqueue kill; do
			for handled in "" handled "handled raw" raw; do
				native=$(timeout 20 "$B/tests/preload/sent_signals" $sig $how $handled 2>&1)
				native="$native status $?"
				out=$(timeout 20 env LD_PRELOAD=$LIB "$B/tests/preload/sent_signals" $sig $how $handled 2>&1)
				out="$out status $?"
				if [ "$out" != "$native" ]; then
					why="$why $how $handled: \"$out\" (natively \"$native\");"
				fi
			done
		done
		if [ -n "$why" ]; then fail $name "$why"; else ok $name; fi
	done
}

# modes_match_native_on_1_and_2_hubs NAME PROG MODE...: for each mode, the
# test NAME_MODE passes when tests/preload/PROG MODE prints the same output
# and ends with the same status under greenshim, on one hub and on two, as
# natively.
modes_match_native_on_1_and_2_hubs() {
	prefix=$1
	prog=$2
	shift 2
	for mode in "$@"; do
		name=${prefix}_$mode
		native=$(timeout 30 "$B/tests/preload/$prog" $mode 2>/dev/null; echo "status $?")
		why=
		for hubs in 1 2; do
			out=$(GREENSHIM_HUBS=$hubs timeout 30 env LD_PRELOAD="$LIB" \
				"$B/tests/preload/$prog" $mode 2>"$tmp/modes.err"; echo "status $?")
			[ "$out" = "$native" ] ||
				why="$why hubs $hubs: \"$out\" (stderr: $(head -c 600 "$tmp/modes.err"));"
		done
		if [ -n "$why" ]; then
			fail $name "$why natively \"$native\""
		else
			ok $name
		fi
	done
}

# A thread overflows its stack with a SIGSEGV handler of the program's
# own (tests/preload/overflow_handled.c): with SA_ONSTACK and an alternate
# stack of the thread's, the handler takes the fault and the thread goes
# on, also when another thread's alternate stack was unmapped since;
# without SA_ONSTACK the process ends with SIGSEGV. Output and status as
# natively, on one hub and on two.
test_overflow_goes_to_the_programs_handler() {
	modes_match_native_on_1_and_2_hubs overflow_goes_to_the_programs_handler overflow_handled \
		onstack plain freed
}

# Handlers with SA_ONSTACK (tests/preload/signal_stacks.c): each runs on
# its own thread's alternate stack (or its own stack, for a thread without
# one), also when handlers of several threads wait inside at once (a
# collector's stop handlers do), with sigaltstack saying so and refusing a
# change there, and unwinding into the thread's code (also from a handler
# that greenshim raised on the thread: its raw system calls are ordinary
# calls to the unwinder); the interrupted FPU state comes back; a fault
# handler's changes to the frame take effect. Output and status as natively, on one hub and on two.
test_signal_handlers_run_on_their_threads_alternate_stacks() {
	modes_match_native_on_1_and_2_hubs signal_handlers_run_on_their_threads_alternate_stacks \
		signal_stacks wait fpu fault
}

# Threads that compute on small stacks of their own, with an alternate
# stack each (tests/preload/small_stack.c, as Erlang's JIT): the
# preemption tick writes nothing there. Output and status as natively.
test_the_tick_leaves_a_programs_small_stacks_alone() {
	modes_match_native_on_1_and_2_hubs the_tick_leaves_a_programs_small_stacks_alone small_stack \
		16384 2048
}

# A handler stops every other thread with pthread_kill and waits there
# until each has stopped in its own handler, then resumes them, as a
# collector does (tests/preload/stop_world.c): each stop runs on its own
# thread, while the threads sleep or compute. Output and status as
# natively, on one hub and on two.
test_a_handler_stops_and_resumes_every_thread() {
	modes_match_native_on_1_and_2_hubs a_handler_stops_and_resumes_every_thread stop_world \
		wait compute
}

# The same stop from main's own context, as a D program's collector does,
# while three workers compute together on one hub (tests/preload/
# stop_batch.c): every stop is taken, 200 times. Until 2026-12-07 the
# stops of a hub's workers came as one batch, taken on the context of the
# worker running there; its handler ran inside the batch and waited in
# sigsuspend with the others' stops still in it (two hubs: every run lost
# two stops in the first collection; a D program's collector hung).
test_stops_sent_together_all_arrive() {
	as_native_and_on_one_hub stops_sent_together_all_arrive "$B/tests/preload/stop_batch" 200
}

# set*id calls with threads about, and vfork with pthread_atfork handlers
# (tests/preload/ids_and_vfork.c). Output and status as natively.
test_setxid_and_vfork_as_native() {
	modes_match_native_on_1_and_2_hubs setxid_and_vfork_as_native ids_and_vfork setxid vfork
}

# Sixteen threads allocating with jemalloc, tcmalloc and mimalloc (and
# jemalloc and tcmalloc linked into the executable), five runs each: every block intact, no crash, no hang (each allocator starts
# by calling wrappers from inside itself, and keeps per-thread caches).
test_other_mallocs_serve_many_green_threads() {
	# static-*: the allocator linked into the executable, where the
	# preemption tick may stop a thread inside it (docs/LIMITATIONS.md).
	for a in jemalloc tcmalloc mimalloc static-jemalloc static-tcmalloc_minimal; do
		name=other_mallocs_serve_many_green_threads_$a
		if [ ! -x "$B/tests/preload/allocators-$a" ]; then
			fail $name "not built: lib${a#static-}.so or .a missing (make deps)"
			continue
		fi
		why=
		for run in 1 2 3 4 5; do
			if ! out=$(timeout 60 "$B/tests/preload/allocators-$a" 2>&1); then
				why="natively, run $run: $out"
				break
			fi
			out=$(timeout 60 env LD_PRELOAD=$LIB "$B/tests/preload/allocators-$a" 2>&1)
			rc=$?
			if [ $rc -ne 0 ] || [ "$out" != ok ]; then
				why="under greenshim, run $run (status $rc): $out"
				break
			fi
		done
		if [ -n "$why" ]; then
			fail $name "$why"
		else
			ok $name
		fi
	done
}

# pthread_exit from main: same output and status natively, greened and
# with GREENSHIM_THREADS=native (where, before 2026-12-04, the runtime's
# own threads kept the process alive once the program's had ended, and a
# SIGTERM stayed pending: they block every signal).
test_main_can_exit_before_its_threads() {
	name=main_can_exit_before_its_threads
	want="main leaves
thread 1 done
thread 2 done
thread 3 done"
	for how in native green nthreads; do
		case $how in
		native) set -- ;;
		green) set -- LD_PRELOAD="$LIB" ;;
		nthreads) set -- LD_PRELOAD="$LIB" GREENSHIM_THREADS=native ;;
		esac
		out=$(timeout -k 1 10 env "$@" "$B/tests/preload/main_exits_first" 2>&1)
		rc=$?
		if [ $rc -ne 0 ] || [ "$out" != "$want" ]; then
			fail $name "$how: status $rc, output: $out"
			return
		fi
	done
	ok $name
}

# Name lookups against a DNS server the test owns (tests/preload/slow_dns.py
# on 127.0.0.1:53, in user, mount and network namespaces of their own:
# tests/preload/dns_ns.sh). "results" prints every call's outcome (results,
# EAI_* codes, h_errno, resolver answers) and must print the same natively,
# under greenshim and with GREENSHIM_THREADS=native; the other cases prove
# the caller's _res is used, a ticker runs during a 500 ms lookup, eight
# lookups overlap and a forked child looks names up.
test_dns_lookups_match_native() {
	if ! unshare -rmn true 2>"$tmp/unshare.err"; then
		fail dns_lookups_as_native "needs user and network namespaces (unshare -rmn): $(cat "$tmp/unshare.err")"
		return
	fi
	dns() { # DELAY PRELOAD THREADS CASE
		timeout 120 unshare -rmn sh tests/preload/dns_ns.sh "$tmp" "$1" \
			env ${2:+LD_PRELOAD=$2} ${3:+GREENSHIM_THREADS=$3} \
			"$B/tests/preload/dns_semantics" "$4" 2>&1
	}
	name=dns_results_as_native
	dns 0.05 "" "" results >"$tmp/dns.native"
	dns 0.05 "$LIB" "" results >"$tmp/dns.green"
	dns 0.05 "$LIB" native results >"$tmp/dns.nthreads"
	if [ "$(tail -n 1 "$tmp/dns.native")" != "ok results" ]; then
		fail $name "native run: $(cat "$tmp/dns.native")"
	elif ! cmp -s "$tmp/dns.native" "$tmp/dns.green"; then
		fail $name "under greenshim: $(diff "$tmp/dns.native" "$tmp/dns.green")"
	elif ! cmp -s "$tmp/dns.native" "$tmp/dns.nthreads"; then
		fail $name "with GREENSHIM_THREADS=native: $(diff "$tmp/dns.native" "$tmp/dns.nthreads")"
	else
		ok $name
	fi
	for c in res_state ticker overlap fork; do
		name=dns_${c}_as_native
		native=$(dns 0.5 "" "" $c)
		green=$(dns 0.5 "$LIB" "" $c)
		if [ "$native" != "ok $c" ]; then
			fail $name "native run: $native"
		elif [ "$green" != "ok $c" ]; then
			fail $name "under greenshim: $green"
		else
			ok $name
		fi
	done
}

# one_hub_case NAME CASE LINE: $prog's CASE, under greenshim with one hub
# and no preemption, prints LINE and then "ok CASE".
one_hub_case() {
	got=$(GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 LD_PRELOAD=$LIB timeout 30 "$prog" "$2" 2>&1)
	if [ "$got" != "$3
ok $2" ]; then
		fail "$1" "$got"
	else
		ok "$1"
	fi
}

# GREENSHIM_FILE_IO: every file call's outcome (results, errno, data read
# back, /proc/thread-self being the caller's) is the same natively, with
# `pool` and with `direct`, with and without another thread (whose
# presence sends flushes, and writes beside them, to the pool with
# `direct`); with `pool` a worker thread (gs-pool) appears after the first
# file read, and none with the default when the program's only thread
# reads, writes and flushes; a thread waiting in open() for a FIFO's
# writer leaves the others running, and so do, with `direct`, one that
# flushes a file and one that writes it while it is flushed, but not one
# that writes it afterwards (a plain call), one that flushes with
# sync_file_range, syncfs, sync or msync, and one that writes a file
# opened with O_DSYNC or O_SYNC.
test_file_io_pool_matches_native() {
	prog="$B/tests/preload/file_semantics"
	name=file_io_calls_as_native
	why=
	for c in calls calls_beside_a_thread; do
		native=$(timeout 30 "$prog" $c 2>&1)
		pool=$(GREENSHIM_FILE_IO=pool LD_PRELOAD=$LIB timeout 30 "$prog" $c 2>&1)
		direct=$(LD_PRELOAD=$LIB timeout 30 "$prog" $c 2>&1)
		one=$(GREENSHIM_HUBS=1 LD_PRELOAD=$LIB timeout 30 "$prog" $c 2>&1)
		echo "$native" >"$tmp/f.n"
		if [ "$(echo "$native" | tail -n 1)" != "ok $c" ]; then
			why="$c: native run: $native"
		elif [ "$pool" != "$native" ]; then
			why="$c: GREENSHIM_FILE_IO=pool: $(echo "$pool" | diff "$tmp/f.n" -)"
		elif [ "$direct" != "$native" ]; then
			why="$c: GREENSHIM_FILE_IO=direct: $(echo "$direct" | diff "$tmp/f.n" -)"
		elif [ "$one" != "$native" ]; then
			why="$c: GREENSHIM_HUBS=1: $(echo "$one" | diff "$tmp/f.n" -)"
		fi
		[ -n "$why" ] && break
	done
	if [ -n "$why" ]; then
		fail $name "$why"
	else
		ok $name
	fi
	# One hub, no preemption: the other thread runs only when the
	# flushing one waits; the same for the other flushes (sync_file_range,
	# syncfs, sync, msync MS_SYNC) and the writes to a file opened with
	# O_DSYNC or O_SYNC.
	one_hub_case file_io_direct_flush_leaves_others_running flush_beside_a_thread \
		"the other thread ran during 20 of 20 flushes, 20 of 20 writes beside a flush and 0 of 20 writes after"
	one_hub_case file_io_direct_syncs_leave_others_running sync_beside_a_thread \
		"the other thread ran during 20 of 20 sync_file_range, 20 of 20 syncfs, 20 of 20 sync and 20 of 20 msync"
	one_hub_case file_io_direct_dsync_writes_leave_others_running dsync_beside_a_thread \
		"the other thread ran during 20 of 20 writes and 20 of 20 pwrites with O_DSYNC, 20 of 20 writevs with O_SYNC"
	name=file_io_pool_runs_file_calls_on_a_worker
	pool=$(GREENSHIM_FILE_IO=pool LD_PRELOAD=$LIB timeout 30 "$prog" threads 2>&1)
	direct=$(LD_PRELOAD=$LIB timeout 30 "$prog" threads 2>&1)
	if ! echo "$pool" | grep -q "^threads: .*gs-pool"; then
		fail $name "no gs-pool thread with GREENSHIM_FILE_IO=pool: $pool"
	elif echo "$direct" | grep -q "gs-pool" || ! echo "$direct" | grep -q "^ok threads"; then
		fail $name "by default: $direct"
	else
		ok $name
	fi
	name=file_io_pool_fifo_open_leaves_others_running
	native=$(timeout 30 "$prog" fifo_open 2>&1)
	pool=$(GREENSHIM_FILE_IO=pool LD_PRELOAD=$LIB timeout 30 "$prog" fifo_open 2>&1)
	if [ "$native" != "ok fifo_open" ]; then
		fail $name "native run: $native"
	elif [ "$pool" != "ok fifo_open" ]; then
		fail $name "GREENSHIM_FILE_IO=pool: $pool"
	else
		ok $name
	fi
}

# User, group and service lookups: every call's outcome (fields, return
# values, errno, ERANGE with a tiny buffer, the non-_r forms' one static
# struct) is the same natively, under greenshim and with
# GREENSHIM_THREADS=native; under greenshim a worker thread (gs-pool)
# exists after the first getpwnam, and none natively or with native threads.
test_nss_lookups_match_native_and_run_on_the_pool() {
	prog="$B/tests/preload/nss_semantics"
	output_matches_native nss_lookups_as_native nss_semantics results
	name=nss_lookup_runs_on_a_pool_worker
	green=$(LD_PRELOAD=$LIB timeout 30 "$prog" threads 2>&1)
	native=$(timeout 30 "$prog" threads 2>&1)
	if ! echo "$green" | grep -q "^threads: .*gs-pool"; then
		fail $name "no gs-pool thread after getpwnam: $green"
	elif echo "$native" | grep -q "gs-pool" || ! echo "$native" | grep -q "^ok threads"; then
		fail $name "native run: $native"
	else
		ok $name
	fi
}

# One case of stdio_semantics, natively or (with $2) preloaded; $3 may
# set GREENSHIM_THREADS. stdin gets its pieces 100 ms apart on a pipe.
stdio_case() {
	if [ "$1" = stdin ]; then
		(printf 'line one\n'; sleep 0.1; printf Z; sleep 0.1; printf 12; sleep 0.1
			printf '34 '; sleep 0.1; printf abcdefghij; sleep 0.1; printf 'klmnopqrstuvwxyz\n') |
			timeout 30 env ${3:+GREENSHIM_THREADS=$3} ${2:+LD_PRELOAD=$2} \
				"$B/tests/preload/stdio_semantics" "$1" 2>&1
	else
		timeout 30 env ${3:+GREENSHIM_THREADS=$3} ${2:+LD_PRELOAD=$2} \
			"$B/tests/preload/stdio_semantics" "$1" 2>&1 </dev/null
	fi
}

# stdio on pipes, sockets and stdin: every value, feof, ferror and errno
# the case prints is the same natively and under greenshim (green threads,
# and GREENSHIM_THREADS=native), and the ticker ran while stdio waited.
test_stdio_semantics_match_native() {
	for c in pipe_reads pipe_scanf socket_file pipe_writes shared_file close_while_reading errors \
		stdin tty_prompt checked_and_unlocked file_locks shared_regular_file locked_sections; do
		name=stdio_${c}_as_native
		native=$(stdio_case $c)
		echo "$native" >"$tmp/native"
		if [ "$(echo "$native" | tail -n 1)" != "ok $c" ]; then
			fail $name "native run: $native"
			continue
		fi
		for mode in "" native; do
			green=$(stdio_case $c "$LIB" $mode)
			if [ "$green" != "$native" ]; then
				fail $name "under greenshim${mode:+ (GREENSHIM_THREADS=$mode)}: $(echo "$green" | diff "$tmp/native" - | head -n 6)"
				continue 2
			fi
		done
		ok $name
	done
}

# The blocking monitor (GREENSHIM_MAX_BLOCKING_MS, 100 ms by default): a
# thread that computes for 500 ms while another exists (preemption off,
# which would otherwise move it aside) gets exactly one report (the next
# would come a second later), naming it and showing, unwound on its own
# stack, the program's function it computes in. On one hub, whose other
# two threads the report counts.
test_blocking_monitor_reports_a_thread_computing_500ms_once() {
	name=blocking_monitor_reports_a_thread_computing_500ms_once
	GREENSHIM_HUBS=1 GREENSHIM_LOG= GREENSHIM_PREEMPT_MS=0 LD_PRELOAD=$LIB timeout 20 \
		"$B/tests/preload/busy_thread" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	reports=$(grep -c '^greenshim: ' "$tmp/err")
	if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != done ]; then
		fail $name "status $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
	elif [ "$reports" -ne 1 ]; then
		fail $name "$reports reports: $(cat "$tmp/err")"
	elif ! grep -q -E '^greenshim: thread [0-9]+ "spinner" has kept OS thread [0-9]+ for (at least )?0\.[0-9]+ s without switching \(GREENSHIM_MAX_BLOCKING_MS=100\); the other 2 green threads there cannot run meanwhile\. Its stack:$' "$tmp/err"; then
		fail $name "report: $(cat "$tmp/err")"
	elif ! grep -q -E '^    #[0-9]+ +0x[0-9a-f]+ compute_without_waiting[.a-z0-9]*\+0x[0-9a-f]+ \(.*busy_thread\)$' "$tmp/err" ||
		! grep -q -E '^    #[0-9]+ +0x[0-9a-f]+ spinner\+0x[0-9a-f]+ \(.*busy_thread\)$' "$tmp/err"; then
		fail $name "the program's functions are not in the stack: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# Two threads that wait 300 ms for the clock by reading it over and over
# (tests/preload/busy_thread clock), on one hub: the second starts within
# 50 ms of the first, as natively. The ticks fall in the vDSO, where they
# may not preempt; the thread is preempted at clock_gettime's return
# (preempt_at_return). Before 2026-12-06 the second started once the first
# was done.
test_a_thread_reading_the_clock_is_preempted() {
	as_native a_thread_reading_the_clock_is_preempted env GREENSHIM_HUBS=1 \
		"$B/tests/preload/busy_thread" clock
}

# A thread that writes to a socket and reads it back, never waiting
# (busy_thread io), beside main, which sleeps 10 ms at a time, on one hub:
# no sleep takes 50 ms, as natively. The ticks find the thread in the
# kernel; it is preempted as its read or write returns, and the hub polls
# its timers then. Before 2026-12-06 such a preemption was a yield, and the
# hub, with no other thread ready, ran the same one again and polled once
# in 64 yields: a sleep took 70 ms to 130 ms.
test_a_thread_that_never_waits_in_io_is_preempted() {
	as_native a_thread_that_never_waits_in_io_is_preempted env GREENSHIM_HUBS=1 \
		"$B/tests/preload/busy_thread" io
}

# The same beside a thread whose timed waits on a condition variable end
# at once, their deadline long past (busy_thread timedwait). Each such wait
# reads the clock (libev's, for the deadline) through the clock_gettime
# wrapper, whose return to libev took the preemption owed and dropped it;
# so did the inner wrapper that pthread_cond_timedwait calls. Before
# 2026-12-06 a 10 ms sleep beside it took 150 ms.
# The same beside a thread that opens /dev/null and closes it over and
# over (busy_thread files): the ticks find it in the kernel or libc, and
# it is preempted as its open or close returns. Before 2026-12-07 only a
# tick that happened to land in its own loop switched: a helper's program
# of this shape drew 20 to 42 blocking-monitor reports a run.
test_a_thread_that_opens_and_closes_files_is_preempted() {
	as_native a_thread_that_opens_and_closes_files_is_preempted env GREENSHIM_HUBS=1 \
		"$B/tests/preload/busy_thread" files
}

# A 3 ms sleep beside a thread that computes without waiting, on one hub
# with a 20 ms tick (busy_thread sleeps): the median of 21 sleeps is under
# 10 ms, as natively, for the tick comes when a sleep is to end
# (preempt_tick_by), not at its regular time; and at the default settings.
# Before 2026-12-07 each sleep ended at the next regular tick: 20 ms, 3
# runs of 3 (with the default 2 ms tick, up to 2 ms late).
test_a_sleep_beside_a_computing_thread_ends_on_time() {
	as_native a_sleep_beside_a_computing_thread_ends_on_time env GREENSHIM_HUBS=1 \
		GREENSHIM_PREEMPT_MS=20 "$B/tests/preload/busy_thread" sleeps
	as_native a_sleep_beside_a_computing_thread_ends_on_time_by_default \
		"$B/tests/preload/busy_thread" sleeps
}

# main makes 3,000 threads that sleep 100 ms (busy_thread spawns), with the
# blocking monitor's limit at 20 ms, at the default hubs and on one: no
# report, for main is preempted as pthread_create returns (its loop is
# nearly all inside pthread_create, where ticks find no safe point).
# Before 2026-12-07 one report a run, 8 runs of 8 (a helper's program drew
# one at the default 100 ms, 2 runs in 3).
test_a_thread_that_makes_threads_in_a_loop_is_preempted() {
	name=a_thread_that_makes_threads_in_a_loop_is_preempted
	for hubs in auto 1; do
		out=$(GREENSHIM_HUBS=$hubs GREENSHIM_MAX_BLOCKING_MS=20 LD_PRELOAD=$LIB timeout 30 \
			"$B/tests/preload/busy_thread" spawns 2>"$tmp/err")
		if [ "$out" != done ] || grep -q '^greenshim: ' "$tmp/err"; then
			fail $name "hubs $hubs: $out $(head -n 3 "$tmp/err")"
			return
		fi
	done
	ok $name
}

test_a_thread_whose_timed_waits_end_at_once_is_preempted() {
	as_native a_thread_whose_timed_waits_end_at_once_is_preempted env GREENSHIM_HUBS=1 \
		"$B/tests/preload/busy_thread" timedwait
}

# A thread that computes 500 ms alone on its hub (main, which joins it,
# is on the other) keeps no one waiting, as a native thread would not:
# no report on stderr. On one hub, main is there: one report.
test_blocking_monitor_leaves_a_thread_alone_on_its_hub() {
	name=blocking_monitor_leaves_a_thread_alone_on_its_hub
	for hubs in 2 1; do
		GREENSHIM_HUBS=$hubs GREENSHIM_LOG= GREENSHIM_PREEMPT_MS=0 LD_PRELOAD=$LIB timeout 20 \
			"$B/tests/preload/busy_thread" alone >"$tmp/out" 2>"$tmp/err"
		rc=$?
		reports=$(grep -c '^greenshim: ' "$tmp/err")
		want=$((2 - hubs))
		if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != done ]; then
			fail $name "GREENSHIM_HUBS=$hubs: status $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
			return
		elif [ "$reports" -ne $want ]; then
			fail $name "GREENSHIM_HUBS=$hubs: $reports reports, $want wanted: $(cat "$tmp/err")"
			return
		fi
	done
	ok $name
}

# ended_unreported NAME STATUS: ok if the program ended with STATUS 0 and
# printed "done" ($tmp/out), and greenshim reported nothing ($tmp/err).
ended_unreported() {
	if [ "$2" -ne 0 ] || [ "$(cat "$tmp/out")" != done ]; then
		fail $1 "status $2, output: $(cat "$tmp/out") $(cat "$tmp/err")"
	elif grep -q '^greenshim: ' "$tmp/err"; then
		fail $1 "reported: $(head -n 3 "$tmp/err")"
	else
		ok $1
	fi
}

# A hub's OS thread that something else keeps off the CPU (here a tracer
# stops it for 0.8 s with PTRACE_INTERRUPT, as a loaded machine or a
# descheduled vCPU may) while a green thread runs there is not reported:
# the thread blocked no one; it did not run (busy_thread bursts: main
# computes in 5 ms bursts beside a thread that sleeps). The library before
# reported "kept OS thread ... for at least 0.300 s" (in 2 runs of 3: the
# stop may land while the hub waits, which it never reported). Skipped
# where the tracer may not attach.
test_blocking_monitor_leaves_an_os_thread_kept_off_the_cpu_alone() {
	name=blocking_monitor_leaves_an_os_thread_kept_off_the_cpu_alone
	GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 GREENSHIM_MAX_BLOCKING_MS=300 GREENSHIM_LOG= \
		LD_PRELOAD=$LIB timeout 30 "$B/tests/preload/busy_thread" bursts >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	sleep 0.5
	prog=$(pgrep -P $pid) # the program, timeout's child
	stopped=$(python3 - "${prog:-0}" <<-'EOF'
		import ctypes, os, sys, time
		libc = ctypes.CDLL(None, use_errno=True)
		SEIZE, INTERRUPT, DETACH = 0x4206, 0x4207, 17
		tid = int(sys.argv[1])
		if libc.ptrace(SEIZE, tid, 0, 0) != 0:
		    print("no: ptrace: " + os.strerror(ctypes.get_errno()))
		    sys.exit(0)
		libc.ptrace(INTERRUPT, tid, 0, 0)
		os.waitpid(tid, 0x40000000)  # __WALL: the main thread alone stops
		time.sleep(0.8)
		libc.ptrace(DETACH, tid, 0, 0)
		print("yes")
	EOF
	)
	wait $pid
	rc=$?
	case $stopped in
	yes) ;;
	*)
		skip $name "the main thread could not be stopped: $stopped"
		return
		;;
	esac
	ended_unreported $name $rc
}

# A hub's OS thread that shares its CPU with two busy loops (all three
# pinned to CPU 0) while main computes 40 ms of CPU time at a time
# (busy_thread cpu_bursts 40, preemption off) beside a thread that sleeps: a
# burst takes some 120 ms, two thirds of them waiting for the CPU, which
# is the machine's doing, not the thread's (the kernel's schedstat): no
# report. Before 2026-12-06 each such burst past 100 ms was reported.
test_blocking_monitor_leaves_a_thread_waiting_for_its_cpu_alone() {
	name=blocking_monitor_leaves_a_thread_waiting_for_its_cpu_alone
	if [ ! -r /proc/self/schedstat ]; then
		skip $name "this kernel has no schedstat"
		return
	fi
	loops=
	for _ in 1 2; do
		taskset -c 0 sh -c 'while :; do :; done' &
		loops="$loops $!"
	done
	GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 GREENSHIM_LOG= LD_PRELOAD=$LIB timeout 60 \
		taskset -c 0 "$B/tests/preload/busy_thread" cpu_bursts 40 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	kill $loops
	wait $loops 2>/dev/null
	ended_unreported $name $rc
}

# A thread that sits 600 ms in a raw read (GREENSHIM_SYSCALLS=off: not
# caught), while the preemption tick keeps interrupting it and the hub
# keeps switching: one report naming the call, with the thread's stack.
# Caught (the default), the read parks the thread: no report.
test_blocking_monitor_names_a_call_in_the_kernel() {
	name=blocking_monitor_names_a_call_in_the_kernel
	GREENSHIM_LOG= GREENSHIM_SYSCALLS=off LD_PRELOAD=$LIB timeout 20 \
		"$B/tests/preload/raw_syscalls" kernelwait >"$tmp/out" 2>"$tmp/err"
	rc=$?
	reports=$(grep -c '^greenshim: ' "$tmp/err")
	if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != 'read 4 "late"' ]; then
		fail $name "status $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
	elif [ "$reports" -ne 1 ]; then
		fail $name "$reports reports: $(cat "$tmp/err")"
	elif ! grep -q -E '^greenshim: thread [0-9]+ has kept OS thread [0-9]+ in the kernel, in read, for at least 0\.[0-9]+ s \(GREENSHIM_MAX_BLOCKING_MS=100\)' "$tmp/err"; then
		fail $name "report: $(cat "$tmp/err")"
	elif ! grep -q -E '^    #[0-9]+ +0x[0-9a-f]+ kernelwait_read[.a-z0-9]*\+0x[0-9a-f]+ \(.*raw_syscalls\)$' "$tmp/err"; then
		fail $name "the program's function is not in the stack: $(cat "$tmp/err")"
	else
		GREENSHIM_LOG= LD_PRELOAD=$LIB timeout 20 \
			"$B/tests/preload/raw_syscalls" kernelwait >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != 'read 4 "late"' ] || [ -s "$tmp/err" ]; then
			fail $name "caught: status $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
		else
			ok $name
		fi
	fi
}

# GREENSHIM_LOG: the report is appended to that file, stderr stays the
# program's.
test_blocking_monitor_writes_to_greenshim_log() {
	name=blocking_monitor_writes_to_greenshim_log
	echo "kept" >"$tmp/monitor.log"
	GREENSHIM_LOG="$tmp/monitor.log" GREENSHIM_PREEMPT_MS=0 LD_PRELOAD=$LIB timeout 20 \
		"$B/tests/preload/busy_thread" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
		fail $name "status $rc, stderr: $(cat "$tmp/err")"
	elif [ "$(head -n 1 "$tmp/monitor.log")" != kept ] ||
		[ "$(grep -c '^greenshim: thread [0-9]* "spinner" has kept OS thread' "$tmp/monitor.log")" -ne 1 ]; then
		fail $name "log: $(cat "$tmp/monitor.log")"
	else
		ok $name
	fi
}

# names_while_running ENV...: runs busy_thread with the environment given,
# prints the names of its OS threads 0.25 s in (while it computes), then
# its stderr.
names_while_running() {
	env GREENSHIM_HUBS=1 "$@" GREENSHIM_LOG= GREENSHIM_PREEMPT_MS=0 LD_PRELOAD="$LIB" \
		"$B/tests/preload/busy_thread" >/dev/null 2>"$tmp/names.err" &
	pid=$!
	sleep 0.25
	# gs-control (greenctl's socket) is there from the start, monitor or not.
	cat /proc/$pid/task/*/comm 2>/dev/null | grep -v -x gs-control | sort | tr '\n' ' '
	wait $pid
	cat "$tmp/names.err"
}

# GREENSHIM_MAX_BLOCKING_MS=0: no report and no monitor thread; by default
# the monitor thread is there, named gs-monitor (one hub: no gs-hub-N).
test_blocking_monitor_off_reports_nothing_and_has_no_thread() {
	name=blocking_monitor_off_reports_nothing_and_has_no_thread
	on=$(names_while_running GREENSHIM_MAX_BLOCKING_MS=100)
	off=$(names_while_running GREENSHIM_MAX_BLOCKING_MS=0)
	case $on in
	*gs-monitor*) ;;
	*)
		fail $name "no gs-monitor thread with the monitor on: $on"
		return
		;;
	esac
	if [ "$off" != "busy_thread " ]; then
		fail $name "with GREENSHIM_MAX_BLOCKING_MS=0: threads and stderr: $off"
	else
		ok $name
	fi
}

# A program that never makes a second thread cannot starve anyone: it gets
# no monitor thread.
test_a_single_threaded_program_gets_no_monitor_thread() {
	name=a_single_threaded_program_gets_no_monitor_thread
	LD_PRELOAD=$LIB sleep 0.5 &
	pid=$!
	sleep 0.25
	names=$(cat /proc/$pid/task/*/comm 2>/dev/null | grep -v -x gs-control | tr '\n' ' ')
	wait $pid
	if [ "$names" != "sleep " ]; then
		fail $name "threads: $names"
	else
		ok $name
	fi
}

# fork: the child has no monitor thread (only the forking thread exists
# there); it starts one when it gets its second thread, and reports.
test_blocking_monitor_is_rebuilt_in_a_fork_child() {
	name=blocking_monitor_is_rebuilt_in_a_fork_child
	GREENSHIM_LOG= GREENSHIM_PREEMPT_MS=0 LD_PRELOAD=$LIB timeout 20 \
		"$B/tests/preload/busy_thread" fork >"$tmp/out" 2>"$tmp/err"
	rc=$?
	child=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$tmp/out")
	if [ $rc -ne 0 ] || [ -z "$child" ] || [ "$(tail -n 1 "$tmp/out")" != done ]; then
		fail $name "status $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
	elif [ "$(grep -c '^greenshim: ' "$tmp/err")" -ne 1 ] ||
		! grep -q "^greenshim: thread [0-9]* \"spinner\" has kept OS thread $child for " "$tmp/err"; then
		fail $name "child $child, reports: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# The monitor's worst case: with a 1 ms limit, a thread that keeps its OS
# thread 3 ms at a time in library code is reported after each run (a
# hundred or so reports), each unwound in a signal handler while
# preemption ticks come; the other thread's 5 ms condition waits must stay
# green waits meanwhile (a tick that preempted the unwinding once left the
# wrappers off: the next thread's waits went to glibc, returned at once by
# the hundred thousand, or hung).
test_blocking_monitor_reports_leave_the_other_threads_waits_green() {
	name=blocking_monitor_reports_leave_the_other_threads_waits_green
	# One hub: the waiting thread shares it with the one that keeps it
	# (with two, each has its own, and a thread alone is not reported).
	GREENSHIM_HUBS=1 GREENSHIM_MAX_BLOCKING_MS=1 GREENSHIM_LOG="$tmp/stress.log" \
		LD_PRELOAD=$LIB timeout 30 "$B/tests/preload/monitor_stress" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	waits=$(sed -n 's/^ok \([0-9]*\)$/\1/p' "$tmp/out")
	reports=$(grep -c '^greenshim: thread' "$tmp/stress.log" 2>/dev/null)
	if [ $rc -ne 0 ] || [ -z "$waits" ]; then
		fail $name "status $rc, output: $(cat "$tmp/out" "$tmp/err")"
	elif [ "$waits" -gt 600 ]; then
		# 1.5 s of 5 ms timed waits: 300 at most, with no early returns
		fail $name "$waits condition waits in 1.5 s: they did not wait"
	elif [ "${reports:-0}" -lt 10 ]; then
		fail $name "only ${reports:-0} reports: $(head -n 3 "$tmp/stress.log" 2>/dev/null)"
	else
		ok $name
	fi
}

# Every thread waits for ever (two threads each hold the mutex the other
# wants; main joins one): one report, naming each thread, what it waits on,
# the thread that holds it, and the stacks; then the process hangs as it
# does natively (timeout ends it).
test_deadlock_report_names_each_thread_its_mutex_owner_and_stack() {
	for hubs in 1 2; do
		deadlock_report_with_hubs $hubs
	done
}

# deadlock_report_with_hubs N: the report with GREENSHIM_HUBS=N (with two,
# the threads are on both hubs, every hub stuck, the report names both OS
# threads). The time a thread has waited follows its line when its hub
# knows it.
deadlock_report_with_hubs() {
	name=deadlock_report_names_each_thread_its_mutex_owner_and_stack_hubs_$1
	if [ "$1" = 1 ]; then
		oses='OS thread [0-9]+'
	else
		oses='OS threads [0-9]+ and [0-9]+'
	fi
	since='(, for [0-9]+\.[0-9]+ s)?'
	GREENSHIM_HUBS=$1 GREENSHIM_LOG= LD_PRELOAD=$LIB timeout 5 "$B/tests/preload/mutex_deadlock" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	first=$(sed -n 's/^first \(0x[0-9a-f]*\) second .*/\1/p' "$tmp/out")
	second=$(sed -n 's/^first .* second \(0x[0-9a-f]*\)$/\1/p' "$tmp/out")
	left=$(sed -n 's/^  thread \([0-9]*\) "left": .*/\1/p' "$tmp/err")
	right=$(sed -n 's/^  thread \([0-9]*\) "right": .*/\1/p' "$tmp/err")
	if [ $rc -ne 124 ] || [ "$(tail -n 1 "$tmp/out")" != locked ]; then
		fail $name "status $rc (want 124: it hangs), output: $(cat "$tmp/out") $(cat "$tmp/err")"
	elif [ "$(grep -c -E "^greenshim: deadlock: all 3 threads of $oses wait, and nothing can wake any of them: this would block forever\$" "$tmp/err")" -ne 1 ] ||
		[ -z "$left" ] || [ -z "$right" ]; then
		fail $name "report: $(cat "$tmp/err")"
	elif ! grep -q -x -E "  thread $left \"left\": waiting on mutex $second held by thread $right \"right\"$since" "$tmp/err" ||
		! grep -q -x -E "  thread $right \"right\": waiting on mutex $first held by thread $left \"left\"$since" "$tmp/err" ||
		! grep -q -x -E "  thread [0-9]+ \(main\): waiting for thread $left \"left\" to end \(join\)$since" "$tmp/err"; then
		fail $name "first $first second $second, report: $(cat "$tmp/err")"
	elif [ "$(grep -c -E '^    #[0-9]+ +0x[0-9a-f]+ lock_one_then_the_other\+0x[0-9a-f]+ \(.*mutex_deadlock\)$' "$tmp/err")" -ne 2 ] ||
		! grep -q -E ' left\+0x[0-9a-f]+ ' "$tmp/err" || ! grep -q -E ' right\+0x[0-9a-f]+ ' "$tmp/err" ||
		! grep -q -E ' main\+0x[0-9a-f]+ ' "$tmp/err"; then
		fail $name "stacks: $(cat "$tmp/err")"
	else
		ok $name
	fi
}

# Every thread waits, but one waits for a signal (poll with no fd, the
# pause() idiom) and a signal comes: no deadlock report; the handler ends
# the program with status 0, as natively.
test_a_thread_waiting_for_a_signal_is_no_deadlock() {
	name=a_thread_waiting_for_a_signal_is_no_deadlock
	for pre in "" "$LIB"; do
		GREENSHIM_LOG= timeout 10 env ${pre:+LD_PRELOAD=$pre} "$B/tests/preload/waits_for_signal" \
			>"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != waiting ] || [ -s "$tmp/err" ]; then
			fail $name "${pre:+under greenshim: }status $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
			return
		fi
	done
	ok $name
}

# Worker threads name themselves with prctl(PR_SET_NAME), as rsyslogd's
# do (tests/preload/prctl_names.c): the process keeps its name, each
# worker reads back its own, main's renames the process, as natively, with
# one hub and with two. Before 2026-12-07 a worker renamed its hub's OS
# thread, the process itself on the main thread's hub.
test_prctl_names_name_the_calling_thread() {
	as_native_and_on_one_hub prctl_names_name_the_calling_thread "$B/tests/preload/prctl_names"
}

# Threads that wait for file locks (flock, F_SETLKW, F_OFD_SETLKW, lockf)
# held by another thread or a child, while a ticker sleeps in 1 ms steps;
# then alarm() with and without SA_RESTART, pthread_cancel, EDEADLK and
# errors (tests/preload/file_locks.c): the native output, with one hub and
# two. Before 2026-12-07 the lock call held the hub's OS thread: on one hub
# the first wait, for a lock another thread held, never ended.
test_file_locks_wait_green() {
	as_native_and_on_one_hub file_locks_wait_green "$B/tests/preload/file_locks"
}

# Threads that wait in the kernel's message queues and semaphores (POSIX
# mq_receive, mq_send and their timed forms; System V's msgrcv, msgsnd,
# semop, semtimedop) for another thread's message or post, while a ticker
# sleeps in 1 ms steps; then time limits, SIGALRM with and without
# SA_RESTART (POSIX queues go on, System V's end with EINTR),
# pthread_cancel, and the errors that come at once
# (tests/preload/ipc_waits.c): the native output, at the default hubs and
# on one, and on one without the preemption tick (the waits must not
# need it). Before 2026-12-07 these were libc's calls, which held the
# hub's OS thread: the first wait never ended, on one hub and on two.
# Threads that wait in POSIX AIO's aio_suspend (tests/preload/aio_waits.c):
# for a write into a pipe another thread drains, for a read another
# thread's write completes, until a timeout beside a computing thread,
# until SIGALRM without SA_RESTART and past one with it, and until
# pthread_cancel: the native output, at the default hubs, on one, and on
# one without ticks. Before 2026-12-07 glibc's wait held the hub's OS
# thread: on one hub the first never ended, and the tick ended the
# timeout's with EINTR.
test_aio_waits_green() {
	as_native_and_on_one_hub aio_waits_green "$B/tests/preload/aio_waits"
	as_native aio_waits_green_without_ticks env GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 \
		"$B/tests/preload/aio_waits"
}

test_ipc_waits_green() {
	as_native_and_on_one_hub ipc_waits_green "$B/tests/preload/ipc_waits"
	as_native ipc_waits_green_without_ticks env GREENSHIM_HUBS=1 GREENSHIM_PREEMPT_MS=0 \
		"$B/tests/preload/ipc_waits"
}

# SIG_IGN and SIG_DFL set with SA_SIGINFO, as Go's runtime sets SIG_DFL
# before it raises a signal to die of it (tests/preload/dfl_siginfo.c):
# ignored, then the default action, one hub and two, as natively. Before
# 2026-12-07 SA_SIGINFO counted as a handler, and the trampoline jumped to
# address 0: every cgo-built Go server killed by SIGTERM ended with 139.
test_default_dispositions_with_siginfo() {
	modes_match_native_on_1_and_2_hubs default_dispositions_with_siginfo dfl_siginfo raise
}

# Threads with stacks of 1 GiB, 64 GiB and 1 TiB (tests/preload/huge_stack.c):
# made or refused (EAGAIN) as natively, one hub and two. Before 2026-12-07
# every one was made (greenshim's stacks are not charged).
test_huge_stacks_as_native() {
	as_native_and_on_one_hub huge_stacks_as_native "$B/tests/preload/huge_stack"
}

# A signal every thread blocks, sent to the process just after the first
# pthread_create (which starts the extra hubs), reaches the sigwait of the
# new thread, as natively (tests/preload/blocked_at_start.c), ten runs on
# two hubs. Before 2026-12-07 an extra hub's first loop let every signal
# in, and about half the runs were killed by it.
test_a_signal_blocked_everywhere_at_the_first_thread_waits() {
	name=a_signal_blocked_everywhere_at_the_first_thread_waits
	why=
	for i in 1 2 3 4 5 6 7 8 9 10; do
		out=$(GREENSHIM_HUBS=2 timeout -k 5 20 env LD_PRELOAD="$LIB" \
			"$B/tests/preload/blocked_at_start" 2>&1; echo "status $?")
		[ "$out" = "sigwait got 10
status 0" ] || why="$why run $i: \"$out\";"
	done
	if [ -n "$why" ]; then fail $name "$why"; else ok $name; fi
}

# The BSD and System V mask and disposition calls (sigsetmask, sigblock,
# siggetmask, sighold, sigrelse, sigset, sigignore: glibc makes them
# through its internal sigprocmask and sigaction), read back through the
# POSIX calls, then dash's wait: all blocked around a fork, sigsetmask(0),
# and a sigsuspend with the mask from before (tests/preload/bsd_masks.c);
# and dash itself waiting for a killed background job. Before 2026-12-07
# greenshim never saw the BSD calls: its green mask stayed "all", the
# sigsuspend blocked every signal, and both hung (SIGTERM blocked too:
# hence timeout's -k).
test_bsd_and_sysv_mask_calls_as_native() {
	name=bsd_and_sysv_mask_calls_as_native
	native=$(timeout -k 5 30 "$B/tests/preload/bsd_masks" 2>&1; echo "status $?")
	why=
	for hubs in 1 2; do
		out=$(GREENSHIM_HUBS=$hubs timeout -k 5 30 env LD_PRELOAD="$LIB" \
			"$B/tests/preload/bsd_masks" 2>&1; echo "status $?")
		[ "$out" = "$native" ] || why="$why hubs $hubs: \"$out\";"
	done
	script='sleep 5 & p=$!; sleep 0.2; kill -TERM $p; wait $p; echo rc=$?'
	if command -v dash >/dev/null 2>&1; then
		for i in 1 2 3 4 5; do
			out=$(timeout -k 5 20 env LD_PRELOAD="$LIB" dash -c "$script" 2>/dev/null)
			[ "$out" = "rc=143" ] || why="$why dash run $i: \"$out\";"
		done
	fi
	if [ -n "$why" ]; then fail $name "$why natively \"$native\""; else ok $name; fi
}

# One-shot handlers (SA_RESETHAND), as GHC's runtime installs for SIGINT
# (tests/preload/oneshot.c): the first SIGUSR1, from another process or
# another thread, runs the handler; the disposition is SIG_DFL after it,
# and a second signal ends the process, one hub and two, as natively.
# Before 2026-12-07 the kernel reset its disposition at the trampoline,
# and greenshim's own sending of the signal on to its thread met the
# default action: the first signal killed the process.
test_one_shot_handlers_run_once() {
	modes_match_native_on_1_and_2_hubs one_shot_handlers_run_once oneshot kill thread
}

# kill, syscall(SYS_kill) and sigqueue with a live thread's id signal the
# process, as natively (tests/preload/kill_tid.c); an ended thread's id is
# ESRCH. Before 2026-12-07 every green thread's id was ESRCH.
test_kill_by_thread_id_signals_the_process() {
	as_native_and_on_one_hub kill_by_thread_id_signals_the_process "$B/tests/preload/kill_tid"
}

# Scheduling and priorities by a thread's own id (tests/preload/sched_tid.c),
# as GLib copies its creator's settings into each thread it makes: the
# native answers, raw, through syscall() and libc, one hub and two. Before
# 2026-12-07 the kernel got the green id and said ESRCH.
test_scheduling_by_thread_id_is_the_threads() {
	as_native_and_on_one_hub scheduling_by_thread_id_is_the_threads "$B/tests/preload/sched_tid"
}

# A signal every thread blocks but for the main thread's pselect, ppoll,
# epoll_pwait and epoll_pwait2 masks, as rsyslogd's main loop has SIGTERM
# (tests/preload/masked_waits.c): each wait ends with EINTR after the
# handler ran, and the old mask is back after, as natively, with one hub
# and with two. Before 2026-12-07 the masks were not applied, the waits
# ran to their timeouts and rsyslogd never ended on SIGTERM.
test_masked_waits_let_their_signals_in() {
	as_native_and_on_one_hub masked_waits_let_their_signals_in "$B/tests/preload/masked_waits"
}

# Every thread waits while a signal is on its way: one thread kills the
# process and waits on a semaphore that the handler posts, main waits for
# the end (tests/preload/signal_in_flight.c). No deadlock report, with one
# hub or two (with two the kernel gives the signal to the main thread's hub
# while the sender's waits; before 2026-12-07 some 70 of 2,000 rounds were
# reported), the same output and status as natively.
test_a_signal_on_its_way_is_no_deadlock() {
	name=a_signal_on_its_way_is_no_deadlock
	for how in native 1 2; do
		if [ $how = native ]; then pre=; else pre=$LIB; fi
		GREENSHIM_HUBS=${how#native} GREENSHIM_LOG= timeout 60 env ${pre:+LD_PRELOAD=$pre} \
			"$B/tests/preload/signal_in_flight" 2000 >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "rounds 2000" ] || [ -s "$tmp/err" ]; then
			fail $name "$how: status $rc, output: $(cat "$tmp/out") $(head -c 600 "$tmp/err")"
			return
		fi
	done
	ok $name
}

# GREENSHIM_LOG names a file that cannot be opened for appending: the
# program stops before main, one line naming the variable, status 2.
test_an_unusable_greenshim_log_stops_the_program_before_main() {
	name=an_unusable_greenshim_log_stops_the_program_before_main
	for v in /nonexistent-greenshim-dir/log /; do
		GREENSHIM_LOG=$v LD_PRELOAD=$LIB "$B/tests/preload/hello_threads" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -ne 2 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
			! grep -q "^greenshim: GREENSHIM_LOG=$v: invalid value; expected a file that can be opened for appending (" "$tmp/err"; then
			fail $name "GREENSHIM_LOG=$v: status $rc, stdout $(cat "$tmp/out"), stderr: $(cat "$tmp/err")"
			return
		fi
	done
	ok $name
}

test_exports_only_the_api_and_interposed_symbols
test_a_program_runs_unchanged_under_the_preload
test_main_can_exit_before_its_threads
test_short_lived_threads_leave_no_memory_behind
test_more_threads_than_ldt_slots_keep_their_own_tls
test_other_mallocs_serve_many_green_threads
test_liburing_waits_leave_other_threads_running
test_raw_syscalls_match_native
test_errno_is_zero_at_start
test_thread_rusage_is_per_thread
test_a_loop_on_its_cpu_clock_is_preempted
test_a_tick_on_a_small_stack_spares_what_lies_below
test_a_trapped_call_on_a_small_stack_spares_what_lies_below
test_thread_cpu_clocks_are_per_thread
test_other_threads_cpu_clocks_are_theirs
test_a_thread_reading_the_clock_is_preempted
test_a_thread_that_never_waits_in_io_is_preempted
test_a_thread_that_opens_and_closes_files_is_preempted
test_a_thread_whose_timed_waits_end_at_once_is_preempted
test_a_sleep_beside_a_computing_thread_ends_on_time
test_a_thread_that_makes_threads_in_a_loop_is_preempted
test_a_single_threaded_program_enters_a_user_namespace
test_sent_signals_get_their_native_action
test_overflow_goes_to_the_programs_handler
test_signal_handlers_run_on_their_threads_alternate_stacks
test_the_tick_leaves_a_programs_small_stacks_alone
test_a_handler_stops_and_resumes_every_thread
test_stops_sent_together_all_arrive
test_setxid_and_vfork_as_native
test_own_fds_stay_out_of_the_programs_way
test_fd_numbers_stay_the_programs_while_threads_run
test_dup2_over_the_runtimes_fds_moves_them
test_greenctl_answers_after_dup2_over_its_socket
test_a_bad_greenshim_value_stops_the_program_before_main
test_io_semantics_match_native
test_uncounted_writes_one_hub
test_preemption_off_is_cooperative
test_late_code_is_preempted
test_ticks_reading_deep_made_code_on_every_hub_keep_their_threads
test_a_constructor_in_dlopen_is_not_preempted
test_sync_semantics_match_native
test_hubs_cases_match_native
test_affinity_is_per_thread
test_a_signal_reaches_a_thread_computing_on_another_hub_without_ticks
test_two_hubs_match_native
test_hubs_values
test_process_semantics_match_native
test_signal_waits_match_native
test_children_start_on_their_own_mask_beside_a_sigwait
test_signals_on_their_thread
test_sem_waits_are_interrupted_as_native
test_stdio_semantics_match_native
test_file_locks_on_one_hub
test_own_malloc_matches_native
test_cancel_with_a_shared_tls_is_refused
test_native_threads_mode_matches_native
test_native_threads_leave_no_hub_behind
test_echo_server_serves_1000_clients_on_one_os_thread
test_dns_lookups_match_native
test_file_io_pool_matches_native
test_nss_lookups_match_native_and_run_on_the_pool
test_blocking_monitor_reports_a_thread_computing_500ms_once
test_blocking_monitor_leaves_a_thread_alone_on_its_hub
test_blocking_monitor_leaves_an_os_thread_kept_off_the_cpu_alone
test_blocking_monitor_leaves_a_thread_waiting_for_its_cpu_alone
test_blocking_monitor_writes_to_greenshim_log
test_blocking_monitor_names_a_call_in_the_kernel
test_blocking_monitor_off_reports_nothing_and_has_no_thread
test_a_single_threaded_program_gets_no_monitor_thread
test_blocking_monitor_is_rebuilt_in_a_fork_child
test_blocking_monitor_reports_leave_the_other_threads_waits_green
test_deadlock_report_names_each_thread_its_mutex_owner_and_stack
test_a_thread_waiting_for_a_signal_is_no_deadlock
test_a_signal_on_its_way_is_no_deadlock
test_masked_waits_let_their_signals_in
test_prctl_names_name_the_calling_thread
test_file_locks_wait_green
test_ipc_waits_green
test_aio_waits_green
test_scheduling_by_thread_id_is_the_threads
test_kill_by_thread_id_signals_the_process
test_one_shot_handlers_run_once
test_bsd_and_sysv_mask_calls_as_native
test_a_signal_blocked_everywhere_at_the_first_thread_waits
test_huge_stacks_as_native
test_default_dispositions_with_siginfo
test_an_unusable_greenshim_log_stops_the_program_before_main

summary preload
