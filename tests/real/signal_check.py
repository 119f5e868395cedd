"""signal.sigwait, sigwaitinfo, sigtimedwait and pause, and libc's popen
and pclose (through ctypes), in a threaded CPython program: prints what
happened, the same lines natively and under greenshim (tests/real/run.sh).
A ticker thread sleeping 2 ms at a time shows that the other threads run
while one waits."""
import ctypes
import os
import signal
import subprocess
import time

from ticker import Ticker


def kill_me_later(sig, delay):
    return subprocess.Popen(["sh", "-c", "sleep %s; kill -%d %d" % (delay, sig, os.getpid())])


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
ticker = Ticker()
time.sleep(0.01)

before = ticker.ticks
p = kill_me_later(signal.SIGUSR1, 0.3)
print("sigwait:", signal.sigwait({signal.SIGUSR1}) == signal.SIGUSR1)
print("the ticker ran meanwhile:", ticker.ticks - before >= 20)
p.wait()

before = ticker.ticks
print("sigtimedwait timed out:", signal.sigtimedwait({signal.SIGUSR1}, 0.3) is None)
print("the ticker ran meanwhile:", ticker.ticks - before >= 20)

os.kill(os.getpid(), signal.SIGUSR1)
si = signal.sigwaitinfo({signal.SIGUSR1})
print("sigwaitinfo:", si.si_signo == signal.SIGUSR1, si.si_pid == os.getpid(), si.si_code)

got = []
signal.signal(signal.SIGUSR2, lambda s, f: got.append(s))
before = ticker.ticks
p = kill_me_later(signal.SIGUSR2, 0.3)
signal.pause()
print("pause: handler ran", got == [signal.SIGUSR2])
print("the ticker ran meanwhile:", ticker.ticks - before >= 20)
p.wait()

libc = ctypes.CDLL(None, use_errno=True)
libc.popen.restype = ctypes.c_void_p
libc.popen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.pclose.argtypes = [ctypes.c_void_p]
fp = libc.popen(b"sleep 0.3; exit 3", b"r")
before = ticker.ticks
status = libc.pclose(fp)
print("pclose:", os.waitstatus_to_exitcode(status))
print("the ticker ran meanwhile:", ticker.ticks - before >= 20)

ticker.stop()
