// C# on Mono (Debian's mono-runtime, whose SGen collector stops every
// thread with a signal for each collection): four threads each build
// 200 lists of 5,000 strings and sum their lengths, asking for a
// collection every 50 lists; a thread-static counter is each thread's
// own; the main thread joins them and checks every sum. Prints "ok"
// last. An ordinary program: nothing here knows of greenshim.
using System;
using System.Collections.Generic;
using System.Threading;

class Threads {
	[ThreadStatic] static int lists;

	static long Work() {
		long sum = 0;
		for (int r = 0; r < 200; r++) {
			var l = new List<string>();
			for (int i = 0; i < 5000; i++)
				l.Add(new string('x', 10 + i % 7));
			foreach (var s in l)
				sum += s.Length;
			lists++;
			if (r % 50 == 0)
				GC.Collect();
		}
		return lists == 200 ? sum : -lists;
	}

	static int Main() {
		var sums = new long[4];
		var threads = new Thread[4];
		for (int i = 0; i < 4; i++) {
			int k = i;
			threads[i] = new Thread(() => sums[k] = Work());
			threads[i].Start();
		}
		foreach (var t in threads)
			t.Join();
		foreach (var s in sums) {
			if (s != 12999000) {
				Console.WriteLine("FAIL a thread's sum or count: " + s);
				return 1;
			}
		}
		Console.WriteLine("ok");
		return 0;
	}
}
