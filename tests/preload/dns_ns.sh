#!/bin/sh
# Runs a command where name lookups reach a slow DNS server the test owns:
#   unshare -rmn sh tests/preload/dns_ns.sh SCRATCH DELAY CMD...
# Inside new user, mount and network namespaces (root there, loopback
# only), /etc/resolv.conf is replaced by one naming 127.0.0.1, where
# tests/preload/slow_dns.py answers every query after DELAY seconds.
# Exits with CMD's status; 90-92 when the namespace cannot be set up.
set -u
scratch=$1
delay=$2
shift 2
ip link set lo up || exit 90
printf 'nameserver 127.0.0.1\nsearch greenshim.test\noptions timeout:5 attempts:1\n' \
	>"$scratch/resolv.conf"
mount --bind "$scratch/resolv.conf" /etc/resolv.conf || exit 91
/usr/bin/python3 tests/preload/slow_dns.py "$delay" >"$scratch/dns.log" 2>&1 &
server=$!
for _ in $(seq 100); do
	grep -q ready "$scratch/dns.log" 2>/dev/null && break
	sleep 0.05
done
if ! grep -q ready "$scratch/dns.log"; then
	kill $server 2>/dev/null
	exit 92
fi
"$@"
rc=$?
kill $server
wait $server 2>/dev/null
exit $rc
