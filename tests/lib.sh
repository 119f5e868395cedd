# Shared by the test drivers (sourced): results, limits, servers.
# Each driver sets B (build directory) and tmp (a scratch directory).

passed=0
failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1: $2"; failed=$((failed + 1)); }

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

# The OS threads of process $1 that run the program's code: every task but
# the runtime's own threads (src/osthread.c; "gs-control" serves greenctl),
# which never run a green thread.
program_threads() {
	n=0
	for t in /proc/"$1"/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		gs-control) ;;
		*) n=$((n + 1)) ;;
		esac
	done
	echo $n
}

# The driver's closing line and status.
summary() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
