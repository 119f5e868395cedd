"""A CPU-bound thread beside an I/O thread that sleeps 10 ms at a time.

Natively the kernel preempts the CPU-bound thread and the GIL changes hands
after its 5 ms switch interval; under greenshim the preemption tick does
both (src/preempt.c). Prints what happened, the same lines natively and
under greenshim (tests/real/run.sh); with --report, the gaps between the
I/O thread's wake-ups too (tools/bench/gil.sh)."""
import sys
import threading
import time

SLEEPS = 30
stop = False
spins = 0


def cpu():
    global spins
    while not stop:
        spins += 1


gaps = []


def io():
    last = time.monotonic()
    for _ in range(SLEEPS):
        time.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


worker = threading.Thread(target=cpu)
worker.start()
time.sleep(0.05)  # the CPU-bound thread holds the GIL from here on
before = spins
sleeper = threading.Thread(target=io)
sleeper.start()
sleeper.join()
during = spins - before
stop = True
worker.join()
print("io thread: %d sleeps of 10 ms done beside a CPU-bound thread" % len(gaps))
print("cpu thread: %s while the io thread slept" % ("ran" if during > 0 else "did NOT run"))
if "--report" in sys.argv:
    gaps.sort()
    print("gap between wake-ups: median %.1f ms, max %.1f ms" %
          (gaps[len(gaps) // 2] * 1000, gaps[-1] * 1000))
