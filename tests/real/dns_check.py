"""Name lookups from CPython threads, against tests/preload/slow_dns.py
(500 ms per answer; run inside tests/preload/dns_ns.sh): prints what
happened, the same lines natively and under greenshim (tests/real/run.sh).
A ticker thread sleeping 2 ms at a time shows that the other threads run
while one waits for an answer; eight lookups at once take about one
answer's time."""
import socket
import threading
import time

from ticker import Ticker

ticker = Ticker()
time.sleep(0.01)
before = ticker.ticks
print("gethostbyname:", socket.gethostbyname("slow.greenshim.test"))
print("the ticker ran meanwhile:", ticker.ticks - before >= 50)
try:
    socket.getaddrinfo("nosuch.greenshim.test", 80)
except socket.gaierror as e:
    print("getaddrinfo(nosuch):", e.errno, e.strerror)
try:
    socket.gethostbyname_ex("nosuch.greenshim.test")
except OSError as e:
    print("gethostbyname_ex(nosuch):", type(e).__name__, e.errno, e.strerror)
print("gethostbyaddr:", socket.gethostbyaddr("10.1.2.3"))
print("getnameinfo:", socket.getnameinfo(("10.1.2.3", 80), 0))

results = []


def lookup():
    results.append(socket.getaddrinfo("slow.greenshim.test", 443, socket.AF_INET,
                                      socket.SOCK_STREAM))


t0 = time.monotonic()
threads = [threading.Thread(target=lookup) for _ in range(8)]
for th in threads:
    th.start()
for th in threads:
    th.join()
elapsed = time.monotonic() - t0
print("8 lookups:", len(results), "answers, all equal:", all(r == results[0] for r in results))
print("they overlapped:", elapsed < 8 * 0.5 / 2)
print(results[0])
ticker.stop()
