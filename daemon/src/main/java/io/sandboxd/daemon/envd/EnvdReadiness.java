package io.sandboxd.daemon.envd;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits until a freshly started envd (or the stand-in a test runs) answers: a TCP connect, and where a path is
 * given a {@code GET} of it answering 2xx. For envd that is {@code /health}, which answers 503 until its warm-up is
 * done; the first request also loads envd's HTTP code, so the sandbox's first real request does not pay for it.
 */
public final class EnvdReadiness {
    private static final Duration POLL = Duration.ofMillis(10);
    /** How many failed polls between two checks that the process behind the address still runs. */
    private static final int ALIVE_CHECK_EVERY = 10;

    private EnvdReadiness() {
    }

    /**
     * @param address     where envd listens
     * @param httpPath    null: a TCP connect is enough; else a GET of it must answer 2xx
     * @param timeout     how long envd may take
     * @param alive       false once the process envd runs in has gone (checked every few polls, so a crashed envd
     *                    does not cost the whole timeout)
     * @param diagnostics what envd printed, for the failure's message
     * @throws EnvdException when it did not answer in time or its process exited first
     */
    public static void await(InetSocketAddress address, String httpPath, Duration timeout, BooleanSupplier alive,
                             Supplier<String> diagnostics) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int attempt = 0;
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(address, 200);
                if (httpPath == null || httpStatus(s, httpPath) / 100 == 2) {
                    return;
                }
                throw new IOException("not healthy yet");
            } catch (IOException notYet) {
                if (++attempt % ALIVE_CHECK_EVERY == 0 && !alive.getAsBoolean()) {
                    throw new EnvdException("envd exited before " + where(address) + " answered. Its output:\n  "
                            + diagnostics.get());
                }
                if (System.nanoTime() > deadline) {
                    throw new EnvdException("nothing answered at " + where(address) + " within " + timeout
                            + ". Its output:\n  " + diagnostics.get());
                }
                try {
                    Thread.sleep(POLL);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new EnvdException("interrupted while waiting for envd at " + where(address), e);
                }
            }
        }
    }

    private static String where(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    /** One HTTP/1.1 GET on a connected socket; returns the response's status code. */
    static int httpStatus(Socket s, String path) throws IOException {
        s.setSoTimeout(5000);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        StringBuilder line = new StringBuilder();
        InputStream in = s.getInputStream();
        int c;
        while ((c = in.read()) != -1 && c != '\n' && line.length() < 200) {
            line.append((char) c);
        }
        return HttpEnvdClient.parse(line.toString()).status();
    }
}
