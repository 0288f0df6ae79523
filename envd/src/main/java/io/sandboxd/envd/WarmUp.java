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
 * Runs the path of a sandbox's first {@code commands.run} once, through a throwaway envd on a loopback port, before
 * the real one opens its port.
 *
 * <p>A pooled sandbox counts as ready when envd answers {@code /health}; without this, the user's first command paid
 * for loading and interpreting the Connect, JSON and process-spawn code (hundreds of ms on a fresh JVM, measured
 * through the SDK), while later commands took tens. Classes loaded and code compiled here stay for the JVM's life.
 */
final class WarmUp {
    private static final String START_BODY = "{\"process\":{\"cmd\":\"/bin/true\"},\"stdin\":false}";
    private static final String STAT_BODY = "{\"path\":\"/\"}";

    private WarmUp() {
    }

    /** What the warm-up saw: whether the process ran to its end event. */
    record Result(boolean processEnded, int statStatus) {
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
        byte[] json = START_BODY.getBytes(StandardCharsets.UTF_8);
        ByteBuffer envelope = ByteBuffer.allocate(5 + json.length).put((byte) 0).putInt(json.length).put(json);
        String start = exchange(address, "/process.Process/Start", "application/connect+json", envelope.array());
        String stat = exchange(address, "/filesystem.Filesystem/Stat", "application/json",
                STAT_BODY.getBytes(StandardCharsets.UTF_8));
        return new Result(start.contains("\"end\""), status(stat));
    }

    private static String exchange(InetSocketAddress address, String path, String contentType, byte[] body)
            throws IOException {
        try (Socket s = new Socket()) {
            s.connect(address, 2000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    + "Content-Type: " + contentType + "\r\nConnect-Protocol-Version: 1\r\n"
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
