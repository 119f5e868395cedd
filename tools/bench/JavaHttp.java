// A Java HTTP server with a thread per request from a fixed pool
// (com.sun.net.httpserver and Executors.newFixedThreadPool(16)), each
// request hashing a 16 KiB buffer with SHA-256 once: the server side of
// tools/bench/java.sh. Prints "port N", serves for the milliseconds given,
// then prints how many requests it served and exits.
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

public class JavaHttp {
	public static void main(String[] args) throws Exception {
		HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 1024);
		AtomicLong served = new AtomicLong();
		byte[] block = new byte[16384];
		s.createContext("/", ex -> {
			byte[] d;
			try {
				d = MessageDigest.getInstance("SHA-256").digest(block);
			} catch (Exception e) {
				throw new RuntimeException(e);
			}
			byte[] b = String.format("%02x%02x\n", d[0], d[1]).getBytes();
			served.incrementAndGet();
			ex.sendResponseHeaders(200, b.length);
			ex.getResponseBody().write(b);
			ex.close();
		});
		s.setExecutor(Executors.newFixedThreadPool(16));
		s.start();
		System.out.println("port " + s.getAddress().getPort());
		System.out.flush();
		Thread.sleep(Long.parseLong(args[0]));
		s.stop(0);
		System.out.println("served " + served.get());
		System.exit(0);
	}
}
