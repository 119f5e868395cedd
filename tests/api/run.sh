#!/bin/sh
# Runs the programs written against the public API (greenshim.h, linked to
# $B/libgreenshim.so) and compares their output with tests/api/*.expected.
# Last line: "api: N passed, N failed".
set -u
B=${1:-build}
. tests/lib.sh
for exp in tests/api/*.expected; do
	name=$(basename "$exp" .expected)
	out=$("$B/tests/api/$name" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ "$out" = "$(cat "$exp")" ]; then
		ok $name
	else
		fail $name "status $rc, output:
$out"
	fi
done
summary api
