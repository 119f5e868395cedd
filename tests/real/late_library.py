"""A thread hashes 256 MiB with hashlib's SHA-256, in OpenSSL's libcrypto
(which CPython loads with dlopen when _hashlib is imported, long after the
start) and with the GIL released, while another thread counts 2 ms sleeps.
Natively the two run side by side; under greenshim on one hub the counter
runs only if the hashing thread is preempted inside libcrypto
(src/preempt.c, late code). Prints the same line natively and under
greenshim (tests/real/run.sh)."""
import hashlib
import time

from ticker import Ticker

ticker = Ticker()
time.sleep(0.05)
data = bytes(256 << 20)  # zero pages: no long memset in libc first
before = ticker.ticks
start = time.monotonic()
digest = hashlib.sha256(data).hexdigest()
ms = (time.monotonic() - start) * 1000
ran = ticker.ticks - before
ticker.stop()
chunked = hashlib.sha256()
for _ in range(256):
    chunked.update(bytes(1 << 20))
print("digest", "right" if digest == chunked.hexdigest() else "wrong")
# A thread that is never preempted there leaves the counter at 0 or 1.
print("the counter ran while the hash was computed:", ran >= 10 or f"{ran} times in {ms:.0f} ms")
