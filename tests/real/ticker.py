"""The test scripts' ticker: a thread that sleeps 2 ms at a time and counts
its wake-ups, the proof that the other threads of the program run while one
waits or computes (natively they run side by side; under greenshim on one
hub, only if the waiting or computing thread lets them)."""
import threading
import time


class Ticker:
    def __init__(self):
        self.ticks = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self):
        while not self._stop:
            time.sleep(0.002)
            self.ticks += 1

    def stop(self):
        self._stop = True
        self._thread.join()
