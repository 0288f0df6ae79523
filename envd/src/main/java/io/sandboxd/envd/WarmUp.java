package io.sandboxd.envd;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import io.sandboxd.envd.auth.UserDatabase;

/**
 * Runs the path of a sandbox's create and first {@code commands.run} ({@code /init} with a token, then {@code Start}
 * and {@code Stat} carrying it) over loopback, a number of rounds, against the envd that will serve the sandbox
 * while its {@code /health} still says it is warming up (or, for the AOT training run, a throwaway envd).
 *
 * <p>A pooled sandbox counts as ready when envd answers {@code /health}; without this, the user's first command paid
 * for loading and interpreting the Connect, JSON and process-spawn code (hundreds of ms on a fresh JVM, measured
 * through the SDK), while later commands took tens. Classes loaded and code compiled here stay for the JVM's life.
 * Warming the serving envd itself, not a throwaway one, also readies what belongs to it: its event loop, worker and
 * spawner threads and their buffers (its first request took 5-12 ms longer from head to spawn otherwise).
 */
final class WarmUp {
    /** A process with output, so the stdout data event's path is run too, not only start and end. */
    private static final String START_BODY =
            "{\"process\":{\"cmd\":\"/bin/echo\",\"args\":[\"warm\"]},\"stdin\":false}";
    private static final String STAT_BODY = "{\"path\":\"/\"}";
    /**
     * What the daemon sends on every create: token, env vars, the default user, and the host's time, which is now
     * (so the clock is compared and left alone).
     */
    private static final String INIT_BODY =
            "{\"accessToken\":\"%s\",\"envVars\":{\"E2B_WARM_UP\":\"1\"},\"defaultUser\":\"%s\",\"timestamp\":\"%s\"}";

    private WarmUp() {
    }

    /** What the warm-up saw: the {@code /init} status, whether the process ran to its end event, the Stat status. */
    record Result(int initStatus, boolean processEnded, int statStatus) {
        /** Every step answered as a real sandbox's would. */
        boolean complete() {
            return initStatus == 204 && processEnded && statStatus == 200;
        }
    }

    static Result run(String defaultUser) throws IOException, InterruptedException {
        return run(defaultUser, 1);
    }

    static Result run(String defaultUser, int rounds) throws IOException, InterruptedException {
        return run(defaultUser, rounds, defaultUser);
    }

    /**
     * {@code rounds} times the create-and-first-command path; the result is the last round's. One round loads the
     * classes; a few dozen more get the hot paths compiled (at a jail's compile thresholds), so a sandbox's first
     * commands do not run interpreted.
     */
    static Result run(String defaultUser, int rounds, String asUser) throws IOException, InterruptedException {
        EnvdState state = new EnvdState(defaultUser);
        state.beginWarmUp();
        Envd scratch = Envd.start(new InetSocketAddress("127.0.0.1", 0), state, UserDatabase.system());
        try {
            return warm(scratch, rounds, asUser);
        } finally {
            scratch.close();
        }
    }

    /**
     * Runs {@code rounds} rounds against {@code envd} (whose state is {@linkplain EnvdState#beginWarmUp() warming
     * up}), with {@code asUser} as the default user its {@code /init} sets, the way a create makes the template's user
     * the default (processes of a user other than envd's own start on envd's spawner thread, a path of its own),
     * then resets its state to how it started and lets its {@code /health} answer ready, whatever happened.
     */
    static Result warm(Envd envd, int rounds, String asUser) throws IOException {
        try {
            if (rounds < 1) {
                throw new IllegalArgumentException("warm-up rounds must be at least 1, not " + rounds);
            }
            InetSocketAddress address = loopbackFor(envd.address());
            Result r = against(address, asUser);
            for (int i = 1; i < rounds && r.complete(); i++) {
                r = against(address, asUser);
            }
            return r;
        } finally {
            envd.state().endWarmUp();
        }
    }

    /** A listener on every address is reached over IPv4 loopback; one on a given address, there. */
    private static InetSocketAddress loopbackFor(InetSocketAddress listening) {
        return listening.getAddress().isAnyLocalAddress()
                ? new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), listening.getPort())
                : listening;
    }

    static Result against(InetSocketAddress address, String asUser) throws IOException {
        // the warm-up's own token: only it ever sees it, and the state is reset afterwards
        String token = java.util.UUID.randomUUID().toString();
        String init = exchange(address, "/init", "application/json", null,
                INIT_BODY.formatted(token, asUser, java.time.Instant.now()).getBytes(StandardCharsets.UTF_8));
        byte[] json = START_BODY.getBytes(StandardCharsets.UTF_8);
        ByteBuffer envelope = ByteBuffer.allocate(5 + json.length).put((byte) 0).putInt(json.length).put(json);
        String start = exchange(address, "/process.Process/Start", "application/connect+json", token,
                envelope.array());
        String stat = exchange(address, "/filesystem.Filesystem/Stat", "application/json", token,
                STAT_BODY.getBytes(StandardCharsets.UTF_8));
        return new Result(status(init), start.contains("\"end\""), status(stat));
    }

    private static String exchange(InetSocketAddress address, String path, String contentType, String token,
                                   byte[] body) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(address, 2000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    + "Content-Type: " + contentType + "\r\nConnect-Protocol-Version: 1\r\n"
                    + (token == null ? "" : "X-Access-Token: " + token + "\r\n")
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            return all.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static int status(String response) {
        String[] f = response.split(" ", 3);
        try {
            return f.length > 1 ? Integer.parseInt(f[1]) : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
