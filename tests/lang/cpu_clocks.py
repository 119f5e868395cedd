# Other threads' CPU clocks from Python (time.pthread_getcpuclockid, as
# profilers and monitoring code use it): a thread that computes and one
# that sleeps, their clocks read by the main thread; then what the
# computing thread read for itself against what main reads for it. Prints
# "ok", or what differed.
import threading
import time

done = threading.Event()
go_on = threading.Event()
own = {}


def spin(sec):
    end = time.monotonic() + sec
    while time.monotonic() < end:
        pass
    own["end"] = time.thread_time()
    done.set()
    go_on.wait()


def main():
    bad = []
    c = threading.Thread(target=spin, args=(0.5,))
    s = threading.Thread(target=time.sleep, args=(0.5,))
    c.start()
    s.start()
    cc = time.pthread_getcpuclockid(c.ident)
    sc = time.pthread_getcpuclockid(s.ident)
    time.sleep(0.1)
    c1, s1 = time.clock_gettime(cc), time.clock_gettime(sc)
    time.sleep(0.2)
    c2, s2 = time.clock_gettime(cc), time.clock_gettime(sc)
    if not c2 - c1 > 0.04:
        bad.append("the computing thread's clock grew %.3f s in 0.2 s" % (c2 - c1))
    if not s2 - s1 < 0.02:
        bad.append("the sleeper's clock grew %.3f s" % (s2 - s1))
    done.wait()
    seen = time.clock_gettime(cc)
    if abs(seen - own["end"]) > 0.005:
        bad.append("main read %.4f s, the thread %.4f s" % (seen, own["end"]))
    mine = time.clock_gettime(time.pthread_getcpuclockid(threading.get_ident()))
    if abs(mine - time.thread_time()) > 0.005:
        bad.append("main's clock %.4f s, its thread_time %.4f s" % (mine, time.thread_time()))
    go_on.set()
    c.join()
    s.join()
    print("\n".join(bad) if bad else "ok")


main()
