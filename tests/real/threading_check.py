"""threading's primitives, with and without timeouts: prints one line per
check and "all ok" at the end. Run natively and under greenshim, the output
must be the same (tests/real/run.sh)."""
import queue
import threading
import time


def timed(what, fn, low, high):
    t0 = time.monotonic()
    result = fn()
    took = time.monotonic() - t0
    ok = low <= took < high
    print("%s -> %r, %s" % (what, result, "on time" if ok else "took %.3f s" % took))
    return ok


checks = []
lock = threading.Lock()
lock.acquire()
checks.append(timed("Lock.acquire(timeout=0.05) on a held lock",
                    lambda: lock.acquire(timeout=0.05), 0.049, 0.5))
rlock = threading.RLock()
print("RLock twice:", rlock.acquire(), rlock.acquire())
rlock.release()
rlock.release()

event = threading.Event()
checks.append(timed("Event.wait(0.05), never set", lambda: event.wait(0.05), 0.049, 0.5))
# The timer starts inside the timed call: started before it, its 0.03 s
# began before the clock did, and a wait took 0.027 s natively (1 CI run).
checks.append(timed("Event.wait(5), set after 0.03 s",
                    lambda: threading.Timer(0.03, event.set).start() or event.wait(5),
                    0.029, 1.0))

cond = threading.Condition()
with cond:
    checks.append(timed("Condition.wait(0.05), no notify", lambda: cond.wait(0.05), 0.049, 0.5))

sem = threading.Semaphore(0)
checks.append(timed("Semaphore.acquire(timeout=0.05)", lambda: sem.acquire(timeout=0.05), 0.049, 0.5))

q = queue.Queue()
try:
    q.get(timeout=0.05)
except queue.Empty:
    print("Queue.get(timeout=0.05) -> Empty")

# producers and consumers through a Queue, with a barrier at the end
results = []
def produce(n):
    for i in range(100):
        q.put(n * 1000 + i)
def consume():
    while True:
        item = q.get()
        if item is None:
            break
        results.append(item)
producers = [threading.Thread(target=produce, args=(n,)) for n in range(10)]
consumers = [threading.Thread(target=consume) for _ in range(5)]
for t in producers + consumers:
    t.start()
for t in producers:
    t.join()
for _ in consumers:
    q.put(None)
for t in consumers:
    t.join()
print("queue: %d items, all distinct: %s" % (len(results), len(set(results)) == 1000))

print("all ok" if all(checks) and len(results) == 1000 else "some checks failed")
