#!/bin/sh
# Runs the test groups against build directory $1 (default: build).
#   tests/run.sh [BUILD] [unit|tsan|preload|api|lang|real|cpython|fuzz|tools]...
# Each group prints its own results; this prints one closing line for all:
# "tests: N passed, N failed" (", N skipped" when a group skipped some).
set -u
B=${1:-build}
shift 2>/dev/null || true
groups=${*:-unit tsan preload api lang real cpython fuzz tools}
passed=0
failed=0
skipped=0

# Adds the "N passed, N failed" of a group's last such line to the totals.
tally() {
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		return
	fi
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | cut -d' ' -f1)
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
	s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + ${s:-0}))
}

out=$(mktemp)
fails=$(mktemp)
trap 'rm -f "$out" "$fails"' EXIT
for g in $groups; do
	case $g in
	unit)
		echo "== unit tests (Check, $B/tests/unit)"
		"$B/tests/unit" >"$out" 2>&1
		rc=$?
		;;
	tsan)
		# make check builds them (make tsan-unit).
		echo "== unit tests under ThreadSanitizer ($B/tsan/tests/unit)"
		if [ -x "$B/tsan/tests/unit" ]; then
			"$B/tsan/tests/unit" >"$out" 2>&1
			rc=$?
		else
			echo "tsan: 0 passed, 0 failed, 1 skipped: $B/tsan/tests/unit is not built" >"$out"
			rc=0
		fi
		;;
	preload)
		echo "== preload tests (ordinary programs under LD_PRELOAD)"
		sh tests/preload/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	lang)
		echo "== per-thread state in every language (tests/lang)"
		sh tests/lang/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	real)
		echo "== real programs (Debian's python3 under LD_PRELOAD)"
		sh tests/real/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	cpython)
		echo "== CPython's regression tests, natively and under LD_PRELOAD"
		sh tests/cpython/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	fuzz)
		echo "== the descriptor layer, fuzzed: native against LD_PRELOAD (tests/fuzz)"
		sh tests/fuzz/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	api)
		echo "== API tests (programs linked to $B/libgreenshim.so)"
		sh tests/api/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	tools)
		echo "== tools (greenrun, greenctl)"
		sh tests/tools/run.sh "$B" >"$out" 2>&1
		rc=$?
		;;
	*)
		echo "unknown test group: $g" >&2
		exit 2
		;;
	esac
	cat "$out"
	tally "$out"
	# Each failure again at the end, where a long log's tail shows it:
	# the groups' "FAIL - name: why" and Check's "file:line:F|E:...".
	grep -E '^FAIL - |:[0-9]+:[FE]:' "$out" | sed "s/^/$g: /" >>"$fails"
	if [ $rc -ne 0 ] && ! grep -qE '[1-9][0-9]* failed' "$out"; then
		echo "group $g exited with status $rc" | tee -a "$fails"
		failed=$((failed + 1))
	fi
done
if [ -s "$fails" ]; then
	echo "== what failed"
	cat "$fails"
fi
if [ "$skipped" -eq 0 ]; then
	echo "tests: $passed passed, $failed failed"
else
	echo "tests: $passed passed, $failed failed, $skipped skipped"
fi
[ "$failed" -eq 0 ]
