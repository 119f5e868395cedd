"""A memcached load: CONNS threads, each with a connection of its own, set
KEYS keys each (text protocol), then get every key back with multi-key gets
and check every value; "ok N values checked" or a failure and status 1.

    memcache_load.py PORT CONNS KEYS
"""
import socket
import sys
import threading
import time

port, conns, keys = (int(a) for a in sys.argv[1:4])
errors = []
checked = [0] * conns


def connect():
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def value(c, k):
    # Sizes vary from 1 byte to about 3 KiB, so some replies span packets.
    return (b"%d-%d:" % (c, k)) * (1 + (c * 7 + k * 13) % 300)


def client(c):
    try:
        s = connect()
        f = s.makefile("rb")
        for k in range(keys):
            v = value(c, k)
            s.sendall(b"set k%d_%d %d 0 %d\r\n%s\r\n" % (c, k, k, len(v), v))
            line = f.readline()
            if line != b"STORED\r\n":
                raise ValueError("set k%d_%d: %r" % (c, k, line))
        for first in range(0, keys, 10):
            batch = range(first, min(first + 10, keys))
            s.sendall(b"get " + b" ".join(b"k%d_%d" % (c, k) for k in batch) + b"\r\n")
            for k in batch:
                v = value(c, k)
                head = f.readline()
                if head != b"VALUE k%d_%d %d %d\r\n" % (c, k, k, len(v)):
                    raise ValueError("get k%d_%d: header %r" % (c, k, head))
                body = f.read(len(v) + 2)
                if body != v + b"\r\n":
                    raise ValueError("get k%d_%d: wrong value" % (c, k))
                checked[c] += 1
            if f.readline() != b"END\r\n":
                raise ValueError("get: no END")
        s.close()
    except Exception as e:  # reported by the main thread
        errors.append("client %d: %r" % (c, e))


threads = [threading.Thread(target=client, args=(c,)) for c in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    print("\n".join(errors[:5]))
    sys.exit(1)
if sum(checked) != conns * keys:
    print("only %d of %d values checked" % (sum(checked), conns * keys))
    sys.exit(1)
print("ok %d values checked" % sum(checked))
