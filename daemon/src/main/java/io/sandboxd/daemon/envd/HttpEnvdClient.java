package io.sandboxd.daemon.envd;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * {@code POST /init} over HTTP/1.1 to envd at its slot address: one small request on a fresh blocking socket on the
 * caller's (virtual) thread. The JDK's HttpClient hands every exchange to its selector thread and back, which cost
 * several ms per create on a busy host; a connect over the slot's veth costs microseconds.
 */
public final class HttpEnvdClient implements EnvdClient {
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_RESPONSE = 64 * 1024;

    @Override
    public void init(InetSocketAddress envd, Init init) {
        ObjectNode body = JSON.createObjectNode();
        if (init.accessToken() != null) {
            body.put("accessToken", init.accessToken());
        }
        ObjectNode env = body.putObject("envVars");
        init.envVars().forEach(env::put);
        body.put("defaultUser", init.defaultUser());
        body.put("defaultWorkdir", init.defaultWorkdir());
        body.put("timestamp", init.timestamp().toString());
        String where = "envd at " + envd.getAddress().getHostAddress() + ":" + envd.getPort();
        Response r;
        try {
            r = post(envd, "/init", JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new EnvdException(where + " did not answer /init: " + e.getMessage(), e);
        }
        if (r.status() / 100 != 2) {
            throw new EnvdException(where + " refused /init: " + r.status() + " " + r.body());
        }
    }

    record Response(int status, String body) {}

    /** One request with {@code Connection: close}; the answer is read to the end (envd closes after it). */
    static Response post(InetSocketAddress to, String path, byte[] body) throws IOException {
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(to, (int) TIMEOUT.toMillis());
            s.setSoTimeout((int) TIMEOUT.toMillis());
            OutputStream out = s.getOutputStream();
            byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: " + to.getAddress().getHostAddress() + ":" + to.getPort()
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] request = new byte[head.length + body.length];
            System.arraycopy(head, 0, request, 0, head.length);
            System.arraycopy(body, 0, request, head.length, body.length);
            out.write(request);
            out.flush();
            return parse(readAll(s.getInputStream()));
        }
    }

    private static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) > 0) {
            all.write(buf, 0, n);
            if (all.size() > MAX_RESPONSE) {
                throw new IOException("answer longer than " + MAX_RESPONSE + " bytes");
            }
        }
        return all.toString(StandardCharsets.ISO_8859_1);
    }

    static Response parse(String response) throws IOException {
        // "HTTP/1.1 204 No Content\r\n...\r\n\r\n<body>"
        String[] f = response.split(" ", 3);
        if (f.length < 2 || !f[0].startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP answer: " + response.substring(0, Math.min(80, response.length())));
        }
        int status;
        try {
            status = Integer.parseInt(f[1]);
        } catch (NumberFormatException e) {
            throw new IOException("bad HTTP status line: " + response.substring(0, Math.min(80, response.length())), e);
        }
        int bodyAt = response.indexOf("\r\n\r\n");
        return new Response(status, bodyAt < 0 ? "" : response.substring(bodyAt + 4));
    }
}
