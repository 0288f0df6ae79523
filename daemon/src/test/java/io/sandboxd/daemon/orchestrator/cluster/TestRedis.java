package io.sandboxd.daemon.orchestrator.cluster;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** A real Redis (Debian's redis-server) on a free loopback port, with no persistence, for one test class. */
public final class TestRedis implements AutoCloseable {
    private static final Path SERVER = Path.of("/usr/bin/redis-server");
    private final Process process;
    private final int port;

    private TestRedis(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static TestRedis start(Path dir) throws IOException, InterruptedException {
        Assumptions.assumeTrue(Files.isExecutable(SERVER), "needs redis-server (apt-get install redis-server)");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Process p = new ProcessBuilder(SERVER.toString(), "--port", String.valueOf(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--daemonize", "no")
                .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return new TestRedis(p, port);
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        throw new IOException("redis-server did not listen on " + port + ": " + Files.readString(dir.resolve("redis.log")));
    }

    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        process.waitFor();
    }
}
