// Java threads (HotSpot keeps Thread::current in a thread-local): start,
// ThreadLocal, synchronized, wait/notify, an ExecutorService, join.
// Prints "ok", exits 0.
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

public class Threads {
    static final ThreadLocal<Integer> mine = ThreadLocal.withInitial(() -> -1);
    static int shared = 0;

    public static void main(String[] args) throws Exception {
        AtomicInteger bad = new AtomicInteger();
        Thread[] ts = new Thread[8];
        for (int i = 0; i < ts.length; i++) {
            final int n = i;
            ts[i] = new Thread(() -> {
                if (mine.get() != -1) bad.incrementAndGet();
                mine.set(n);
                for (int k = 0; k < 10000; k++) {
                    synchronized (Threads.class) { shared++; }
                    if (k % 1000 == 0) Thread.yield();
                }
                try { Thread.sleep(2); } catch (InterruptedException e) { bad.incrementAndGet(); }
                if (mine.get() != n) bad.incrementAndGet();
                if (!Thread.currentThread().getName().equals("worker-" + n)) bad.incrementAndGet();
            }, "worker-" + i);
            ts[i].start();
        }
        for (Thread t : ts) t.join();
        if (shared != 80000) bad.incrementAndGet();

        Object lock = new Object();
        boolean[] flag = { false };
        Thread waiter = new Thread(() -> {
            synchronized (lock) {
                while (!flag[0]) {
                    try { lock.wait(); } catch (InterruptedException e) { return; }
                }
            }
        });
        waiter.start();
        Thread.sleep(5);
        synchronized (lock) { flag[0] = true; lock.notifyAll(); }
        waiter.join();

        ExecutorService pool = Executors.newFixedThreadPool(4);
        Future<Long>[] fs = new Future[16];
        for (int i = 0; i < fs.length; i++) {
            final long n = i;
            fs[i] = pool.submit(() -> { long s = 0; for (long k = 0; k <= n * 1000; k++) s += k; return s; });
        }
        for (int i = 0; i < fs.length; i++) {
            long n = i * 1000L;
            if (fs[i].get() != n * (n + 1) / 2) bad.incrementAndGet();
        }
        pool.shutdown();
        if (!pool.awaitTermination(10, TimeUnit.SECONDS)) bad.incrementAndGet();
        if (bad.get() != 0) { System.out.println("bad " + bad.get()); System.exit(1); }
        System.out.println("ok");
    }
}
