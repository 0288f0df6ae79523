package io.sandboxd.daemon.runtime.jail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What a pooled jail's envd does before a create claims it: the requests every sandbox's first moments consist of
 * ({@code POST /init}, then {@code commands.run}'s {@code Process/Start}), a few times, each on a new connection as
 * the proxy opens them. envd's JVM runs this code interpreted until it has run often enough to be compiled; doing
 * that here, at the jail's low pooled CPU weight, keeps it off the user's first command. {@code /init} with an
 * empty object changes no setting (envd keeps what a field does not name).
 */
final class EnvdWarmUp {
    /** Starts per jail: enough for the request path's hottest methods to be compiled by C1, a few ms of CPU each. */
    static final int STARTS = 8;
    private static final byte[] START = envelope("{\"process\":{\"cmd\":\"/bin/true\"},\"stdin\":false}");
    private static final int TIMEOUT_MS = 10_000;

    private EnvdWarmUp() {
    }

    static void run(InetSocketAddress envd) throws IOException {
        for (int i = 0; i < STARTS; i++) {
            expect(envd, "/init", "application/json", "{}".getBytes(StandardCharsets.US_ASCII), "204");
            String r = expect(envd, "/process.Process/Start", "application/connect+json", START, "200");
            if (!r.contains("\"end\"")) {
                throw new IOException("envd's warm-up command did not end: " + r);
            }
        }
    }

    private static String expect(InetSocketAddress to, String path, String contentType, byte[] body, String status)
            throws IOException {
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(to, TIMEOUT_MS);
            s.setSoTimeout(TIMEOUT_MS);
            OutputStream out = s.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\nContent-Type: " + contentType
                    + "\r\nConnect-Protocol-Version: 1\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            String r = all.toString(StandardCharsets.ISO_8859_1);
            if (!r.startsWith("HTTP/1.1 " + status)) {
                throw new IOException("envd answered the warm-up's " + path + " with: "
                        + r.substring(0, Math.min(200, r.length())));
            }
            return r;
        }
    }

    private static byte[] envelope(String json) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(5 + j.length).put((byte) 0).putInt(j.length).put(j).array();
    }
}
