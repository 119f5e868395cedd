#!/bin/sh
# Per-thread state in every language whose runtime Debian has: ordinary
# programs (C, C++, Rust, Ruby, Perl, Java, Python, JavaScript on Node.js) that
# know nothing of greenshim, each run natively and then under
# LD_PRELOAD=$B/libgreenshim.so (thread state, exceptions, thread_local
# destructors, cancellation, OpenMP, worker threads, CPU affinity).
# A program passes when it prints "ok" and exits 0 both times. A program
# whose compiler or runtime is missing is skipped, and counted so.
# Prints "ok - NAME", "FAIL - NAME: why" or "skip - NAME: why" per test,
# then "lang: N passed, N failed, N skipped".
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

# both COMMAND...: natively, then under greenshim (the default
# configuration), each within 120 s; true if both printed "ok" last and
# exited 0, else false with the reason in $why. Outputs: $tmp/native,
# $tmp/green.
both() {
	if ! timeout -k 10 120 "$@" >"$tmp/native" 2>&1 || [ "$(tail -n 1 "$tmp/native")" != ok ]; then
		why="natively: $(tail -n 3 "$tmp/native")"
		return 1
	fi
	if ! timeout -k 10 120 env LD_PRELOAD="$LIB" "$@" >"$tmp/green" 2>"$tmp/green.err" ||
	   [ "$(tail -n 1 "$tmp/green")" != ok ]; then
		why="under greenshim: $(tail -n 3 "$tmp/green") $(tail -n 3 "$tmp/green.err")"
		return 1
	fi
}

# run_both NAME COMMAND...: ok if both runs are.
run_both() {
	name=$1
	shift
	if both "$@"; then
		ok "$name"
	else
		fail "$name" "$why"
	fi
}

test_c_thread_state_is_per_thread() {
	run_both c_thread_state_is_per_thread "$B/tests/lang/thread_state"
}

# libgomp waits with futex system calls of its own: its threads stay real
# OS threads (ids the kernel gave, not green ones) and the results are the
# serial ones.
test_openmp_reductions_and_regions_on_real_threads() {
	name=openmp_reductions_and_regions_on_real_threads
	if [ ! -x "$B/tests/lang/openmp" ]; then
		skip $name "no OpenMP (gcc -fopenmp) when the tests were built"
		return
	fi
	if ! both "$B/tests/lang/openmp"; then
		fail $name "$why"
	elif awk '/^tid/ && $2 >= 1073741824 { bad = 1 } END { exit !bad }' "$tmp/green"; then
		# 0x40000000 and up: green thread ids (docs/INTERPOSED.md).
		fail $name "a thread of libgomp's was green: $(grep '^tid' "$tmp/green" | tr '\n' ' ')"
	else
		ok $name
	fi
}

# Boehm's collector stops each thread with a signal whose handler must run
# on that thread, record where its stack ends and wait there in sigsuspend
# until the collection is over. Since 2026-12-06 the handler runs on its
# green thread (src/sigmask.c); before, it ran on the collector's own
# context, which then waited for ever (2026-12-05: such a program's
# threads were made native instead). Run with the default hubs and with
# one; its threads must be green (ids 0x40000000 and up,
# docs/INTERPOSED.md) unless GREENSHIM_THREADS=native asks for the
# kernel's.
test_c_threads_collected_by_boehm_gc() {
	name=c_threads_collected_by_boehm_gc
	if [ ! -x "$B/tests/lang/boehm_gc" ]; then
		skip $name "no libgc-dev (gc.h) when the tests were built"
		return
	fi
	if ! both "$B/tests/lang/boehm_gc"; then
		fail $name "$why"
		return
	fi
	if ! GREENSHIM_HUBS=1 both "$B/tests/lang/boehm_gc" 16 100; then
		fail $name "GREENSHIM_HUBS=1, 16 threads: $why"
		return
	fi
	green=$(LD_PRELOAD="$LIB" timeout 60 "$B/tests/lang/boehm_gc" tid 2>&1 | awk '$1 == "tid" {print $2}')
	native=$(GREENSHIM_THREADS=native LD_PRELOAD="$LIB" timeout 60 "$B/tests/lang/boehm_gc" tid 2>&1 |
		awk '$1 == "tid" {print $2}')
	if ! [ "${green:-0}" -ge 1073741824 ] 2>/dev/null; then
		fail $name "a thread of a program with libgc was not green: tid '$green'"
	elif ! [ "${native:-0}" -gt 0 ] 2>/dev/null || [ "$native" -ge 1073741824 ]; then
		fail $name "GREENSHIM_THREADS=native was not honoured: tid '$native'"
	else
		ok $name
	fi
}

# Mono's collector stops threads the same way (before 2026-12-05 Mono
# aborted at its first collection with threads: "Cannot transition thread
# ... with FINISH_ASYNC_SUSPEND"; from then until 2026-12-06 its threads
# were made native).
test_csharp_threads_on_mono_with_collections() {
	name=csharp_threads_on_mono_with_collections
	if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
		skip $name "no mcs and mono (mono-mcs, mono-runtime)"
		return
	fi
	if ! mcs -out:"$tmp/threads.exe" tests/lang/threads.cs >"$tmp/mcs" 2>&1; then
		fail $name "mcs: $(tail -n 3 "$tmp/mcs")"
		return
	fi
	run_both $name mono "$tmp/threads.exe"
}

test_guile_threads_with_collections() {
	name=guile_threads_with_collections
	if ! command -v guile-3.0 >/dev/null 2>&1; then
		skip $name "no guile-3.0"
		return
	fi
	run_both $name guile-3.0 --no-auto-compile tests/lang/threads.scm
}

test_c_cancellation_runs_cleanup_handlers() {
	run_both c_cancellation_runs_cleanup_handlers "$B/tests/lang/cancel"
}

# One hub: the canceller runs only while the computing thread is
# preempted, and that thread ends as the tick resumes it (src/preempt.c).
test_c_cancellation_on_one_hub() {
	run_both c_cancellation_on_one_hub env GREENSHIM_HUBS=1 "$B/tests/lang/cancel"
}

test_cxx_thread_local_exceptions_futures_and_call_once() {
	name=cxx_thread_local_exceptions_futures_and_call_once
	if [ ! -x "$B/tests/lang/thread_state_cc" ]; then
		skip $name "no C++ compiler (g++) when the tests were built"
		return
	fi
	run_both $name "$B/tests/lang/thread_state_cc"
}

# compiled NAME COMPILER ARGS...: 0 once COMPILER ARGS has built the test's
# program; else the test NAME is skipped (no COMPILER) or failed (its last
# lines of output), and 1.
compiled() {
	name=$1
	cc=$2
	shift 2
	if ! command -v "$cc" >/dev/null 2>&1; then
		skip $name "no $cc"
		return 1
	fi
	if ! "$cc" "$@" >"$tmp/$cc.out" 2>&1; then
		fail $name "$cc: $(tail -n 3 "$tmp/$cc.out")"
		return 1
	fi
}

test_rust_std_threads_channels_and_500_connection_echo() {
	name=rust_std_threads_channels_and_500_connection_echo
	compiled $name rustc -O -o "$tmp/threads_rs" tests/lang/threads.rs || return 0
	if ! need_files 2048; then
		fail $name "cannot raise the open-files limit to 2048"
		return
	fi
	run_both $name "$tmp/threads_rs"
}

# gccgo's runtime: goroutines on its own threads, every signal handled on
# an alternate stack, its own handler for every signal (the preemption
# tick's among them), children forked with raw system calls. On the
# default hubs and on one (where a runtime that kept its OS thread would
# hang everything: before 2026-12-06 it did).
test_go_goroutines_http_exec_and_signals() {
	name=go_goroutines_http_exec_and_signals
	compiled $name gccgo -O2 -o "$tmp/threads_go" tests/lang/threads.go || return 0
	run_both $name "$tmp/threads_go"
	run_both ${name}_on_one_hub env GREENSHIM_HUBS=1 "$tmp/threads_go"
}

# The same program built by Go's own toolchain with cgo (threads_cgo.go):
# Go's runtime on threads from pthread_create, its signal stacks set and
# its signal handlers' returns made with its own system call instructions.
# Before 2026-12-07 it died at its first preemption on two hubs (it had
# taken greenshim's alternate stack for its own), and hung on one and two
# (the raw calls after each handler's return went uncaught to the kernel,
# and a futex wait held the hub).
test_go_cgo_goroutines_http_exec_and_signals() {
	name=go_cgo_goroutines_http_exec_and_signals
	if ! command -v go >/dev/null 2>&1; then
		skip $name "no go (make deps)"
		return
	fi
	mkdir -p "$tmp/gocache"
	if ! (cd tests/lang && GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" GOFLAGS= CGO_ENABLED=1 \
		go build -o "$tmp/threads_go_cgo" threads.go threads_cgo.go) >"$tmp/go.out" 2>&1; then
		fail $name "go build: $(tail -n 3 "$tmp/go.out")"
		return
	fi
	run_both $name "$tmp/threads_go_cgo"
	run_both ${name}_on_one_hub env GREENSHIM_HUBS=1 "$tmp/threads_go_cgo"
}

test_ruby_threads_queues_and_condition_variables() {
	name=ruby_threads_queues_and_condition_variables
	if ! command -v ruby >/dev/null 2>&1; then
		skip $name "no ruby"
		return
	fi
	run_both $name ruby tests/lang/threads.rb
}

# Perl's interpreter threads: queues, shared data under lock, and System
# V message queues and semaphores waited in by one thread for another's
# message or post (tests/lang/threads.pl), at the default hubs and on
# one. Before 2026-12-07 msgrcv and semop were libc's calls on the hub's
# OS thread, and the preemption tick ended them with EINTR, which the
# kernel never restarts: Perl's rcv and op failed.
test_perl_threads_queues_and_sysv_ipc() {
	name=perl_threads_queues_and_sysv_ipc
	if ! perl -Mthreads -MIPC::Msg -e 1 >/dev/null 2>&1; then
		skip $name "no perl with threads and IPC::Msg"
		return
	fi
	run_both $name perl tests/lang/threads.pl
	run_both ${name}_on_one_hub env GREENSHIM_HUBS=1 perl tests/lang/threads.pl
}

# java_both NAME CLASS [VAR=VALUE...]: compiles tests/lang/CLASS.java and
# runs CLASS natively and under greenshim (run_both), with the variables
# given in both runs.
java_both() {
	name=$1
	class=$2
	shift 2
	if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
		skip $name "no javac and java (openjdk-17-jdk-headless)"
		return
	fi
	if ! javac -nowarn -d "$tmp" "tests/lang/$class.java" >"$tmp/javac" 2>&1; then
		fail $name "javac: $(tail -n 3 "$tmp/javac")"
		return
	fi
	run_both $name env "$@" java -cp "$tmp" "$class"
}

test_java_threads_thread_locals_monitors_and_executor() {
	java_both java_threads_thread_locals_monitors_and_executor Threads
}

# Other threads' CPU time from ThreadMXBean (tests/lang/CpuClocks.java),
# with the default hubs and with one.
test_java_thread_cpu_time_is_per_thread() {
	java_both java_thread_cpu_time_is_per_thread CpuClocks
	java_both java_thread_cpu_time_is_per_thread_one_hub CpuClocks GREENSHIM_HUBS=1
}

# A JVM thread computing in its JIT's code leaves a sleeping thread of the
# same hub running (one hub: the two share it).
test_java_jit_loop_leaves_a_sleeper_running() {
	java_both java_jit_loop_leaves_a_sleeper_running JitLoop GREENSHIM_HUBS=1
}

# Node.js: libuv's thread pool, V8's platform threads and worker_threads
# that block in Atomics.wait, beside an HTTP server and its clients.
test_node_thread_pool_workers_atomics_and_http() {
	name=node_thread_pool_workers_atomics_and_http
	if ! command -v node >/dev/null 2>&1; then
		skip $name "no node (nodejs)"
		return
	fi
	run_both $name node tests/lang/threads.js
}

# Debian 12's CPython 3.11, and a 3.12 or 3.13 wherever one is installed
# (pyenv's, for example): those keep the thread state in a __thread
# variable.
test_python_cpu_bound_threads() {
	name=python_cpu_bound_threads_debian_python3
	run_both $name /usr/bin/python3 tests/lang/cpu_threads.py
	found=
	for py in $(command -v python3.13 python3.12 2>/dev/null) \
		  "$HOME"/.pyenv/versions/3.1[23]*/bin/python3.1[23]; do
		[ -x "$py" ] || continue
		v=$("$py" -c 'import sys; print("%d%d" % sys.version_info[:2])' 2>/dev/null) || continue
		case " $found " in *" $v "*) continue ;; esac
		found="$found $v"
		run_both "python_cpu_bound_threads_python$v" "$py" tests/lang/cpu_threads.py
	done
	if [ -z "$found" ]; then
		skip python_cpu_bound_threads_python312_or_313 "no CPython 3.12 or 3.13 on this machine"
	fi
}

# CPU affinity per thread from Debian's Python (tests/lang/affinity.py),
# with the default hubs and with one.
test_python_affinity_is_per_thread() {
	run_both python_affinity_is_per_thread /usr/bin/python3 tests/lang/affinity.py
	run_both python_affinity_is_per_thread_one_hub env GREENSHIM_HUBS=1 /usr/bin/python3 \
		tests/lang/affinity.py
}

# Other threads' CPU clocks from Debian's Python (tests/lang/cpu_clocks.py),
# with the default hubs and with one.
test_python_other_threads_cpu_clocks() {
	run_both python_other_threads_cpu_clocks /usr/bin/python3 tests/lang/cpu_clocks.py
	run_both python_other_threads_cpu_clocks_one_hub env GREENSHIM_HUBS=1 /usr/bin/python3 \
		tests/lang/cpu_clocks.py
}

# Each way of loading a green thread's thread pointer (GREENSHIM_TLS_LOAD),
# whichever one auto picks on this machine: the C programs (thread state,
# cancellation) and the C++ one. A way this kernel does not offer stops
# the program at start with one line and status 2: skipped, and counted so.
test_thread_state_with_each_way_of_loading_the_thread_pointer() {
	for way in wrfsbase ldt syscall; do
		name=thread_state_with_tls_load_$way
		env GREENSHIM_TLS_LOAD=$way LD_PRELOAD="$LIB" "$B/tests/lang/thread_state" \
			>"$tmp/way" 2>&1
		if [ $? -eq 2 ] && grep -q "^greenshim: GREENSHIM_TLS_LOAD=$way: " "$tmp/way"; then
			skip $name "$(head -n 1 "$tmp/way")"
			continue
		fi
		export GREENSHIM_TLS_LOAD=$way
		why=
		for prog in thread_state cancel thread_state_cc; do
			[ -x "$B/tests/lang/$prog" ] || continue
			if ! both "$B/tests/lang/$prog"; then
				why="$prog: $why"
				break
			fi
		done
		unset GREENSHIM_TLS_LOAD
		if [ -n "$why" ]; then
			fail $name "$why"
		else
			ok $name
		fi
	done
}

test_c_thread_state_is_per_thread
test_thread_state_with_each_way_of_loading_the_thread_pointer
test_c_cancellation_runs_cleanup_handlers
test_c_cancellation_on_one_hub
test_cxx_thread_local_exceptions_futures_and_call_once
test_openmp_reductions_and_regions_on_real_threads
test_rust_std_threads_channels_and_500_connection_echo
test_go_goroutines_http_exec_and_signals
test_go_cgo_goroutines_http_exec_and_signals
test_ruby_threads_queues_and_condition_variables
test_perl_threads_queues_and_sysv_ipc
test_c_threads_collected_by_boehm_gc
test_guile_threads_with_collections
test_csharp_threads_on_mono_with_collections
test_java_threads_thread_locals_monitors_and_executor
test_java_thread_cpu_time_is_per_thread
test_java_jit_loop_leaves_a_sleeper_running
test_node_thread_pool_workers_atomics_and_http
test_python_cpu_bound_threads
test_python_affinity_is_per_thread
test_python_other_threads_cpu_clocks
summary lang
