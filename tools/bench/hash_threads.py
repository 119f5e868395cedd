# THREADS threads each hash ROUNDS x 64 MiB with SHA-256 through hashlib:
# OpenSSL's libcrypto, which the _hashlib extension loads when it is
# imported (code loaded after the start: greenshim's "late code"), the GIL
# released while it hashes. Prints "wall_s S" and whether every thread got
# the same digest. The load of tools/bench/late.sh.
#   python3 hash_threads.py [THREADS] [ROUNDS]  (default 3 20)
import hashlib
import sys
import threading
import time

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 3
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
data = b"x" * (64 << 20)
out = [None] * threads


def work(i):
    h = hashlib.sha256()
    for _ in range(rounds):
        h.update(data)
    out[i] = h.hexdigest()


t0 = time.monotonic()
ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("wall_s %.2f %s" % (time.monotonic() - t0, "same" if len(set(out)) == 1 else "DIFFERENT"))
