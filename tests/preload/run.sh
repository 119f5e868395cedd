#!/bin/sh
# Runs ordinary programs (built from tests/preload/*.c, never linked to
# greenshim) under LD_PRELOAD=$B/libgreenshim.so and checks what they do.
# Prints "ok - NAME" or "FAIL - NAME: why" per test, then
# "preload: N passed, N failed".
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)/libgreenshim.so
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }

# The library exports the gs_* API and the libc symbols it interposes,
# nothing else (no runtime internals, no libev symbols).
test_exports_only_the_api_and_interposed_symbols() {
	name=exports_only_the_api_and_interposed_symbols
	nm -D --defined-only "$LIB" | awk '$2 ~ /[TWDBV]/ {print $3}' | sort >"$tmp/exports"
	unexpected=$(grep -v -E '^gs_[a-z_]+$' "$tmp/exports" | grep -v -x -F -f tests/preload/interposed.txt)
	if [ -n "$unexpected" ]; then
		fail $name "unexpected exports: $(echo $unexpected)"
	elif ! grep -q -x gs_spawn "$tmp/exports"; then
		fail $name "gs_spawn missing"
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
	ok $name
}

test_exports_only_the_api_and_interposed_symbols
test_a_program_runs_unchanged_under_the_preload
test_a_bad_greenshim_value_stops_the_program_before_main

echo "preload: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
