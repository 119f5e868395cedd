// Other threads' CPU time from Java's ThreadMXBean (HotSpot reads it
// through pthread_getcpuclockid): a thread that computes and one that
// sleeps, read by the main thread while they run; then what the computing
// thread read for itself against what main reads for it. Prints "ok", or
// what differed.
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.CountDownLatch;

public class CpuClocks {
    static volatile long own;

    public static void main(String[] args) throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        CountDownLatch done = new CountDownLatch(1), goOn = new CountDownLatch(1);
        StringBuilder bad = new StringBuilder();
        Thread c = new Thread(() -> {
            long end = System.nanoTime() + 600_000_000L, n = 0;
            while (System.nanoTime() < end)
                n++;
            own = mx.getCurrentThreadCpuTime();
            done.countDown();
            try {
                goOn.await();
            } catch (InterruptedException e) {
            }
        });
        Thread s = new Thread(() -> {
            try {
                Thread.sleep(600);
            } catch (InterruptedException e) {
            }
        });
        if (!mx.isThreadCpuTimeSupported() || !mx.isThreadCpuTimeEnabled())
            bad.append("thread CPU time not supported or not enabled\n");
        mx.getCurrentThreadCpuTime();
        c.start();
        s.start();
        Thread.sleep(150);
        long c1 = mx.getThreadCpuTime(c.getId()), s1 = mx.getThreadCpuTime(s.getId());
        Thread.sleep(200);
        long c2 = mx.getThreadCpuTime(c.getId()), s2 = mx.getThreadCpuTime(s.getId());
        if (c2 - c1 <= 20_000_000L)
            bad.append("the computing thread's time grew " + (c2 - c1) + " ns in 200 ms\n");
        if (s1 < 0 || s2 - s1 >= 20_000_000L)
            bad.append("the sleeper's time: " + s1 + " then " + s2 + " ns\n");
        done.await();
        long seen = mx.getThreadCpuTime(c.getId());
        if (Math.abs(seen - own) >= 5_000_000L)
            bad.append("main read " + seen + " ns, the thread " + own + " ns\n");
        goOn.countDown();
        c.join();
        s.join();
        System.out.println(bad.length() == 0 ? "ok" : bad.toString().trim());
    }
}
