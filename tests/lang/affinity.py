# CPU affinity per thread from Python (os.sched_setaffinity and
# os.sched_getaffinity, by 0 and by a thread's native id): each thread
# reads back its own mask, the main thread's stays the whole set, a thread
# started by a pinned thread inherits its mask, and threads started after
# the main thread pinned itself inherit the main thread's, as
# len(os.sched_getaffinity(0)) (what programs take for their CPU count)
# shows. Prints "ok", exits 0.
import os
import threading

ALL = os.sched_getaffinity(0)
FIRST, LAST = min(ALL), max(ALL)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def own():
    mine = os.sched_getaffinity(0)
    check(os.sched_getaffinity(threading.get_native_id()) == mine,
          "by 0 and by native id disagree")
    return mine


def pins(cpu, barrier):
    os.sched_setaffinity(0, {cpu})
    barrier.wait()
    check(own() == {cpu}, "a thread's own mask is not what it set")
    inherited = []
    t = threading.Thread(target=lambda: inherited.append(own()))
    t.start()
    t.join()
    check(inherited == [{cpu}], "a new thread did not inherit its creator's mask")
    barrier.wait()


barrier = threading.Barrier(3)
threads = [threading.Thread(target=pins, args=(cpu, barrier)) for cpu in (FIRST, LAST)]
for t in threads:
    t.start()
barrier.wait()
check(own() == ALL, "pinning other threads changed the main thread's mask")
barrier.wait()
for t in threads:
    t.join()

os.sched_setaffinity(0, {LAST})
counts = []
later = [threading.Thread(target=lambda: counts.append(len(own()))) for _ in range(4)]
for t in later:
    t.start()
for t in later:
    t.join()
check(counts == [1, 1, 1, 1], "threads started after the main thread pinned itself: %s" % counts)
print("\n".join(failures) if failures else "ok")
