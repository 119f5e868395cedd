#!/bin/sh
# Runs the programs written against the public API (greenshim.h, linked to
# $B/libgreenshim.so) and compares their output with tests/api/*.expected.
# Last line: "api: N passed, N failed".
set -u
B=${1:-build}
passed=0
failed=0
for exp in tests/api/*.expected; do
	name=$(basename "$exp" .expected)
	out=$("$B/tests/api/$name" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ "$out" = "$(cat "$exp")" ]; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "FAIL - $name: status $rc, output:"
		echo "$out"
		failed=$((failed + 1))
	fi
done
echo "api: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
