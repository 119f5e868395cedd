"""signal.sigwait, sigwaitinfo, sigtimedwait and pause, and libc's popen
and pclose (through ctypes), in a threaded CPython program: prints what
happened, the same lines natively and under greenshim (tests/real/run.sh).
A ticker thread sleeping 2 ms at a time shows that the other threads run
while one waits."""
import ctypes
import os
import signal
import subprocess
import threading
import time

ticks = 0
stop = False


def ticker():
    global ticks
    while not stop:
        time.sleep(0.002)
        ticks += 1


def kill_me_later(sig, delay):
    return subprocess.Popen(["sh", "-c", "sleep %s; kill -%d %d" % (delay, sig, os.getpid())])


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
t = threading.Thread(target=ticker)
t.start()
time.sleep(0.01)

before = ticks
p = kill_me_later(signal.SIGUSR1, 0.3)
print("sigwait:", signal.sigwait({signal.SIGUSR1}) == signal.SIGUSR1)
print("the ticker ran meanwhile:", ticks - before >= 20)
p.wait()

before = ticks
print("sigtimedwait timed out:", signal.sigtimedwait({signal.SIGUSR1}, 0.3) is None)
print("the ticker ran meanwhile:", ticks - before >= 20)

os.kill(os.getpid(), signal.SIGUSR1)
si = signal.sigwaitinfo({signal.SIGUSR1})
print("sigwaitinfo:", si.si_signo == signal.SIGUSR1, si.si_pid == os.getpid(), si.si_code)

got = []
signal.signal(signal.SIGUSR2, lambda s, f: got.append(s))
before = ticks
p = kill_me_later(signal.SIGUSR2, 0.3)
signal.pause()
print("pause: handler ran", got == [signal.SIGUSR2])
print("the ticker ran meanwhile:", ticks - before >= 20)
p.wait()

libc = ctypes.CDLL(None, use_errno=True)
libc.popen.restype = ctypes.c_void_p
libc.popen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.pclose.argtypes = [ctypes.c_void_p]
fp = libc.popen(b"sleep 0.3; exit 3", b"r")
before = ticks
status = libc.pclose(fp)
print("pclose:", os.waitstatus_to_exitcode(status))
print("the ticker ran meanwhile:", ticks - before >= 20)

stop = True
t.join()
