// The main thread computes for 500 ms in a loop the JIT compiles (code in
// memory the JVM wrote, not in any file), while another thread counts its
// 2 ms sleeps. Natively the two run side by side; under greenshim on one
// hub the sleeper runs only if the computing thread is preempted in the
// JIT's code (src/preempt.c, late code). Prints "ok" if the sleeper ran
// at least 20 times meanwhile.
public class JitLoop {
	static volatile int ticks;
	static volatile boolean stop;

	public static void main(String[] args) throws Exception {
		Thread sleeper = new Thread(() -> {
			while (!stop) {
				try {
					Thread.sleep(2);
				} catch (InterruptedException e) {
					return;
				}
				ticks++;
			}
		});
		sleeper.start();
		Thread.sleep(50);
		long x = 0;
		int before = ticks;
		long t0 = System.nanoTime();
		while (System.nanoTime() - t0 < 500_000_000L)
			for (int i = 0; i < 100000; i++)
				x += i ^ (x >>> 3);
		int ran = ticks - before;
		stop = true;
		sleeper.join();
		System.out.println(ran >= 20 ? "ok"
				: "the sleeper ran " + ran + " times in 500 ms of computing (" + x + ")");
	}
}
