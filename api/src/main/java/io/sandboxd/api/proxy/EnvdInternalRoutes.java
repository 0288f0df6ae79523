package io.sandboxd.api.proxy;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * envd routes only the host may call ({@code /init}: token, env vars, user). Compared after the normalisation envd's
 * own router applies (percent-decoding, repeated or trailing slashes, dot segments), so {@code //%69nit/} is
 * refused like {@code /init}.
 */
final class EnvdInternalRoutes {
    static final int ENVD_PORT = 49983;

    private EnvdInternalRoutes() {}

    static boolean isInternal(String uri) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        int hash = path.indexOf('#');
        if (hash >= 0) {
            path = path.substring(0, hash);
        }
        try {
            path = URLDecoder.decode(path.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return false;
        }
        java.util.ArrayDeque<String> segments = new java.util.ArrayDeque<>();
        for (String s : path.split("/")) {
            switch (s) {
                case "", "." -> { }
                case ".." -> segments.pollLast();
                default -> segments.addLast(s);
            }
        }
        return !segments.isEmpty() && segments.getFirst().equals("init");
    }
}
