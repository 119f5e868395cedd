# Shared by the test drivers (sourced): results, limits, servers.
# Each driver sets B (build directory) and tmp (a scratch directory).

passed=0
failed=0
skipped=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }
# A test that cannot run here (a compiler or runtime missing): neither.
skip() { echo "skip - $1: $2"; skipped=$((skipped + 1)); }

# Raises the open-files soft limit to at least $1; fails if it cannot.
need_files() {
	[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$1" ] || ulimit -n "$1" 2>/dev/null
}

# Waits up to 10 s for a "port N" line in file $1; prints N.
wait_port() {
	for _ in $(seq 100); do
		p=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n 1)
		if [ -n "$p" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# program_threads PID: the OS threads of process PID that are the
# program's, i.e. not the runtime's own (named gs-*: the blocking monitor,
# the worker pool; see docs/ARCHITECTURE.md, "Helper threads"). The main
# thread is the program's whatever its name (gs-echo-threads...).
program_threads() {
	n=0
	for t in /proc/"$1"/task/*; do
		case ${t##*/}:$(cat "$t/comm" 2>/dev/null) in
		"$1":*) n=$((n + 1)) ;;
		*:gs-*) ;;
		*) n=$((n + 1)) ;;
		esac
	done
	echo $n
}

# The driver's closing line and status.
summary() {
	if [ "$skipped" -eq 0 ]; then
		echo "$1: $passed passed, $failed failed"
	else
		echo "$1: $passed passed, $failed failed, $skipped skipped"
	fi
	[ "$failed" -eq 0 ]
}
