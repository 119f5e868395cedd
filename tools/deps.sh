#!/bin/sh
# Checks for, or installs, the Debian packages greenshim builds and tests
# against.
#   tools/deps.sh check [SCOPE]    exit 1 with the apt-get line to run if one is missing
#   tools/deps.sh install [SCOPE]  install what is missing (as root), else print that line
#   tools/deps.sh build-depends    the packages of scope "build", one a line
# SCOPE: build (what `make` needs: the library and the programs of tools/,
# debian/control's Build-Depends), deb (build, and what `make deb` needs),
# or all (the default: deb, and everything the tests run).
# Probes the headers and pkg-config files themselves, not the package
# database, so that what is checked is what the build needs.
set -u

scope=${2:-all}
case "$scope" in
build | deb | all) ;;
*)
	echo "tools/deps.sh: unknown scope '$scope' (build, deb or all)" >&2
	exit 2
	;;
esac

# ---- scope build: `make` (the package's Build-Depends, besides debhelper) ----
# Kept in step with debian/control by a test (tests/tools/run.sh).
build_packages="pkg-config libev-dev libunwind-dev liburing-dev binutils valgrind"
if [ "${1:-}" = build-depends ]; then
	printf '%s\n' $build_packages
	exit 0
fi

missing=""
if ! command -v pkg-config >/dev/null 2>&1; then
	missing="pkg-config"
fi
if ! printf '#include <ev.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1; then
	missing="$missing libev-dev"
fi
if ! pkg-config --exists libunwind 2>/dev/null; then
	missing="$missing libunwind-dev"
fi
# liburing's header (preload/uring.c, tests/preload/uring_waits.c).
if ! printf '#include <liburing.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1; then
	missing="$missing liburing-dev"
fi
# valgrind's client requests (src/stack.c tells it about every green
# stack): Debian ships their headers in valgrind itself, no -dev package.
# Only the build needs them; the library runs without valgrind.
if ! printf '#include <valgrind/valgrind.h>\n#include <valgrind/memcheck.h>\n' |
	${CC:-cc} -E -x c - >/dev/null 2>&1; then
	missing="$missing valgrind"
fi
# objcopy puts the gdb extension into the library (Makefile).
if ! command -v objcopy >/dev/null 2>&1; then
	missing="$missing binutils"
fi

# ---- scope deb: make deb (dpkg-buildpackage, dh, lintian) ----
if [ "$scope" != build ]; then
	if ! command -v dpkg-buildpackage >/dev/null 2>&1; then
		missing="$missing dpkg-dev"
	fi
	if ! command -v dh >/dev/null 2>&1; then
		missing="$missing debhelper"
	fi
	if ! command -v lintian >/dev/null 2>&1; then
		missing="$missing lintian"
	fi
fi

# ---- scope all: the tests ----
if [ "$scope" = all ]; then
	if ! pkg-config --exists check 2>/dev/null; then
		missing="$missing check"
	fi
	# The unit tests run under ThreadSanitizer too (group tsan): gcc's
	# runtime for it (Debian 12's gcc 12: libtsan2).
	if ! printf 'int main(void) { return 0; }\n' |
		${CC:-cc} -fsanitize=thread -x c - -o /dev/null >/dev/null 2>&1; then
		missing="$missing libtsan2"
	fi
	# The name-lookup tests bring up loopback in a network namespace.
	if ! command -v ip >/dev/null 2>&1; then
		missing="$missing iproute2"
	fi
	# The tools' tests run gdb on a live program and on its core (tools/gdb).
	if ! command -v gdb >/dev/null 2>&1; then
		missing="$missing gdb"
	fi
	# A program traced with strace -f -k (tests/tools): each tick's
	# delivery then takes longer than a tick.
	if ! command -v strace >/dev/null 2>&1; then
		missing="$missing strace"
	fi
	# The flame graph's script is run against a stand-in DOM (tests/tools).
	if ! command -v node >/dev/null 2>&1; then
		missing="$missing nodejs"
	fi
	# The tests of real programs run Debian's CPython.
	if [ ! -x /usr/bin/python3 ]; then
		missing="$missing python3"
	fi
	# CPython's own regression tests (tests/cpython), for Debian's python3.
	# (libpython3.X-stdlib already has test.libregrtest and test.support;
	# the test modules themselves are the testsuite's.)
	if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c \
		'import importlib.util as u, sys; sys.exit(u.find_spec("test.test_threading") is None)' \
		2>/dev/null; then
		missing="$missing libpython$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-testsuite"
	fi
	# The memcached test and benchmark (memcslap is in libmemcached-tools).
	if ! command -v memcached >/dev/null 2>&1; then
		missing="$missing memcached"
	fi
	if ! command -v memcslap >/dev/null 2>&1; then
		missing="$missing libmemcached-tools"
	fi
	# Programs with another malloc (tests/preload/allocators.c) and redis.
	for pair in jemalloc:libjemalloc-dev tcmalloc:libgoogle-perftools-dev mimalloc:libmimalloc-dev; do
		if [ ! -e "/usr/lib/$(uname -m)-linux-gnu/lib${pair%%:*}.so" ]; then
			missing="$missing ${pair#*:}"
		fi
	done
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
		missing="$missing redis-server redis-tools"
	fi
	# Apache httpd's event MPM (tests/real) and its load, ab and curl.
	if ! command -v apache2 >/dev/null 2>&1 && [ ! -x /usr/sbin/apache2 ]; then
		missing="$missing apache2"
	fi
	if ! command -v ab >/dev/null 2>&1; then
		missing="$missing apache2-utils"
	fi
	if ! command -v curl >/dev/null 2>&1; then
		missing="$missing curl"
	fi
	# HAProxy (tests/real): threads that share their listeners and
	# connections, a soft stop that resets every signal.
	if [ ! -x /usr/sbin/haproxy ] && ! command -v haproxy >/dev/null 2>&1; then
		missing="$missing haproxy"
	fi
	# Varnish (tests/real): a manager that forks the cache child, whose
	# workers are 200 threads.
	if ! command -v varnishd >/dev/null 2>&1 && [ ! -x /usr/sbin/varnishd ]; then
		missing="$missing varnish"
	fi
	# Knot DNS (tests/real): UDP and TCP workers, and LMDB databases with
	# robust process-shared mutexes.
	if [ ! -x /usr/sbin/knotd ] || [ ! -x /usr/sbin/knotc ]; then
		missing="$missing knot"
	fi
	# strace (tests/real): a tracer's waits for ptrace stops.
	if ! command -v strace >/dev/null 2>&1; then
		missing="$missing strace"
	fi
	# MariaDB (tests/real, tools/bench/mariadb.sh) and its load, sysbench:
	# the -core packages, the server and client programs without the
	# system service (which would start a server of its own).
	if [ ! -x /usr/sbin/mariadbd ] || ! command -v mariadb-install-db >/dev/null 2>&1; then
		missing="$missing mariadb-server-core"
	fi
	if ! command -v mariadb >/dev/null 2>&1; then
		missing="$missing mariadb-client-core"
	fi
	if ! command -v sysbench >/dev/null 2>&1; then
		missing="$missing sysbench"
	fi
	# tests/lang: per-thread state in C++, Rust, Go (gccgo and gc), Ruby and Java
	# programs.
	if ! command -v g++ >/dev/null 2>&1; then
		missing="$missing g++"
	fi
	if ! command -v rustc >/dev/null 2>&1; then
		missing="$missing rustc"
	fi
	if ! command -v ruby >/dev/null 2>&1; then
		missing="$missing ruby"
	fi
	if ! command -v gccgo >/dev/null 2>&1; then
		missing="$missing gccgo"
	fi
	# and Go's own toolchain, whose cgo-built programs make their raw
	# system calls from Go's runtime
	if ! command -v go >/dev/null 2>&1; then
		missing="$missing golang-go"
	fi
	if ! command -v javac >/dev/null 2>&1; then
		missing="$missing openjdk-17-jdk-headless"
	fi
	# tests/lang: Boehm's garbage collector from C (its header), Guile,
	# whose memory it manages, and C# on Mono.
	if ! printf '#include <gc.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1; then
		missing="$missing libgc-dev"
	fi
	if ! command -v guile-3.0 >/dev/null 2>&1; then
		missing="$missing guile-3.0"
	fi
	if ! command -v mono >/dev/null 2>&1; then
		missing="$missing mono-runtime"
	fi
	if ! command -v mcs >/dev/null 2>&1; then
		missing="$missing mono-mcs"
	fi
fi
missing=$(echo $missing)

[ -z "$missing" ] && exit 0
line="apt-get install -y --no-install-recommends $missing"

case "${1:-check}" in
install)
	if [ "$(id -u)" -ne 0 ]; then
		echo "greenshim: missing build dependencies; run as root: $line" >&2
		exit 1
	fi
	echo "greenshim: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && $line
	;;
*)
	echo "greenshim: missing build dependencies; run 'make deps' or, as root: $line" >&2
	exit 1
	;;
esac
