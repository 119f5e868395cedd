#!/bin/sh
# Checks for, or installs, the Debian packages greenshim builds and tests
# against.
#   tools/deps.sh check    exit 1 with the apt-get line to run if one is missing
#   tools/deps.sh install  install what is missing (as root), else print that line
# Probes the headers and pkg-config files themselves, not the package
# database, so that what is checked is what the build needs.
set -u

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
if ! pkg-config --exists check 2>/dev/null; then
	missing="$missing check"
fi
# The name-lookup tests bring up loopback in a network namespace.
if ! command -v ip >/dev/null 2>&1; then
	missing="$missing iproute2"
fi
# objcopy puts the gdb extension into the library (Makefile); the tools'
# tests run gdb on a live program and on its core (tools/gdb).
if ! command -v objcopy >/dev/null 2>&1; then
	missing="$missing binutils"
fi
if ! command -v gdb >/dev/null 2>&1; then
	missing="$missing gdb"
fi
# The tests of real programs run Debian's CPython.
if [ ! -x /usr/bin/python3 ]; then
	missing="$missing python3"
fi
# CPython's own regression tests (tests/cpython), for Debian's python3.
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import test.libregrtest' 2>/dev/null; then
	missing="$missing libpython$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-testsuite"
fi
# The memcached test and benchmark (memcslap is in libmemcached-tools).
if ! command -v memcached >/dev/null 2>&1; then
	missing="$missing memcached"
fi
if ! command -v memcslap >/dev/null 2>&1; then
	missing="$missing libmemcached-tools"
fi
# liburing's header (preload/uring.c, tests/preload/uring_waits.c).
if ! printf '#include <liburing.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1; then
	missing="$missing liburing-dev"
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
# tests/lang: per-thread state in C++, Rust, Ruby and Java programs.
if ! command -v g++ >/dev/null 2>&1; then
	missing="$missing g++"
fi
if ! command -v rustc >/dev/null 2>&1; then
	missing="$missing rustc"
fi
if ! command -v ruby >/dev/null 2>&1; then
	missing="$missing ruby"
fi
if ! command -v javac >/dev/null 2>&1; then
	missing="$missing openjdk-17-jdk-headless"
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
