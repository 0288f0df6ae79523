package io.sandboxd.api.proxy;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * envd routes only the host may call ({@code /init}: token, env vars, user). Compared after the normalisation envd's
 * own router applies (percent-decoding, repeated or trailing slashes, dot segments), so {@code //%69nit/} is
 * refused like {@code /init}. A server may also read the target's path out of an absolute form
 * ({@code http://host/init}, which RFC 9112 says servers must accept) or a leading {@code //authority}
 * ({@code //host/init}, a network-path reference to {@link java.net.URI}); the path behind either counts too, so the
 * guard does not depend on how the server inside the sandbox happens to parse its request line.
 */
final class EnvdInternalRoutes {
    static final int ENVD_PORT = 49983;
    private static final Pattern ABSOLUTE_FORM = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*://");

    private EnvdInternalRoutes() {}

    static boolean isInternal(String uri) {
        int end = indexOfAny(uri, "?#", 0);
        String target = end < 0 ? uri : uri.substring(0, end);
        var m = ABSOLUTE_FORM.matcher(target);
        if (m.find()) {
            return internalPath(afterAuthority(target, m.end()));
        }
        if (internalPath(target)) {
            return true;
        }
        return target.startsWith("//") && internalPath(afterAuthority(target, 2));
    }

    /** What follows the authority that starts at {@code from}: the path, possibly empty. */
    private static String afterAuthority(String target, int from) {
        int slash = target.indexOf('/', from);
        return slash < 0 ? "" : target.substring(slash);
    }

    private static boolean internalPath(String path) {
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

    private static int indexOfAny(String s, String chars, int from) {
        for (int i = from; i < s.length(); i++) {
            if (chars.indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return -1;
    }
}
