package io.sandboxd.envd;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Runs the path of a sandbox's create and first {@code commands.run} once ({@code /init} with a token, then
 * {@code Start} and {@code Stat} carrying it), through a throwaway envd on a loopback port, before the real one opens
 * its port.
 *
 * <p>A pooled sandbox counts as ready when envd answers {@code /health}; without this, the user's first command paid
 * for loading and interpreting the Connect, JSON and process-spawn code (hundreds of ms on a fresh JVM, measured
 * through the SDK), while later commands took tens. Classes loaded and code compiled here stay for the JVM's life.
 */
final class WarmUp {
    private static final String START_BODY = "{\"process\":{\"cmd\":\"/bin/true\"},\"stdin\":false}";
    private static final String STAT_BODY = "{\"path\":\"/\"}";
    /** What the daemon sends on every create (token, env vars); no timestamp, so the clock is left alone. */
    private static final String INIT_BODY = "{\"accessToken\":\"%s\",\"envVars\":{\"E2B_WARM_UP\":\"1\"}}";

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
        Envd scratch = Envd.start(new InetSocketAddress("127.0.0.1", 0), defaultUser);
        try {
            return against(scratch.address());
        } finally {
            scratch.close();
        }
    }

    static Result against(InetSocketAddress address) throws IOException {
        // a throwaway envd's token: only this warm-up ever sees it
        String token = java.util.UUID.randomUUID().toString();
        String init = exchange(address, "/init", "application/json", null,
                INIT_BODY.formatted(token).getBytes(StandardCharsets.UTF_8));
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
