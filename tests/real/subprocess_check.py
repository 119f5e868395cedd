"""subprocess and os.fork from a threaded CPython program: prints what
happened, the same lines natively and under greenshim (tests/real/run.sh).
A ticker thread sleeping 2 ms at a time shows that the other threads run
while one waits for a child."""
import os
import subprocess
import threading
import time

from ticker import Ticker

ticker = Ticker()
time.sleep(0.01)
before = ticker.ticks
r = subprocess.run(["sh", "-c", "sleep 0.2; echo out; exit 4"], capture_output=True, text=True)
print("subprocess.run:", r.returncode, r.stdout.strip())
print("the ticker ran meanwhile:", ticker.ticks - before >= 20)

pid = os.fork()
if pid == 0:
    got = []
    c = threading.Thread(target=lambda: got.append(threading.active_count()))
    c.start()
    c.join()
    # Only this thread and c existed in the child.
    os._exit(0 if got == [2] else 1)
_, status = os.waitpid(pid, 0)
print("os.fork child:", os.waitstatus_to_exitcode(status))

outs = [None] * 20


def run(i):
    outs[i] = subprocess.run(["sh", "-c", "echo %d" % i], capture_output=True,
                             text=True).stdout.strip()


ts = [threading.Thread(target=run, args=(i,)) for i in range(20)]
for x in ts:
    x.start()
for x in ts:
    x.join()
print("20 threads, 20 subprocesses:", outs == [str(i) for i in range(20)])
ticker.stop()
