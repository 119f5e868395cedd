# CPU-bound Python threads handing the GIL back and forth (Python 3.12+
# keeps the running thread's state in a __thread variable; 3.13 checks it
# at every hand-over), and threading.get_native_id() distinct per thread.
# Prints "ok", exits 0.
import sys
import threading

def work(n, out):
    s = 0
    for k in range(300_000):
        s += k % (n + 3)
    out[n] = (s, threading.get_native_id())

out = {}
ts = [threading.Thread(target=work, args=(n, out)) for n in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for n in range(4):
    assert out[n][0] == sum(k % (n + 3) for k in range(300_000)), n
ids = [out[n][1] for n in range(4)] + [threading.get_native_id()]
assert len(set(ids)) == len(ids), ids
print("ok")
