package io.sandboxd.api.proxy;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.NetUtil;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which sandbox and port a request is for, by the two rules of spec section 2: the {@code E2b-Sandbox-Id} and
 * {@code E2b-Sandbox-Port} headers when the Host is {@code sandbox.<domain>}, {@code localhost} or an IP literal
 * (and one of them is present); otherwise the first Host label, {@code <port>-<sandboxID>}.
 */
public record ProxyRoute(String sandboxId, int port) {
    public static final String SANDBOX_ID_HEADER = "E2b-Sandbox-Id";
    public static final String SANDBOX_PORT_HEADER = "E2b-Sandbox-Port";
    private static final Pattern SANDBOX_ID = Pattern.compile("[a-z0-9]+");

    /** Thrown with the exact 400 message of the spec. */
    static final class Invalid extends RuntimeException {
        Invalid(String message) {
            super(message, null, false, false);
        }
    }

    static ProxyRoute parse(HttpHeaders headers, String domain) {
        for (String name : new String[] {SANDBOX_ID_HEADER, SANDBOX_PORT_HEADER}) {
            if (headers.getAll(name).size() > 1) {
                throw new Invalid(name + " is given more than once");
            }
        }
        String host = hostWithoutPort(headers.get("Host"));
        String id = headers.get(SANDBOX_ID_HEADER);
        String port = headers.get(SANDBOX_PORT_HEADER);
        boolean sharedHost = host.equals("sandbox." + domain.toLowerCase(Locale.ROOT)) || host.equals("localhost")
                || NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host);
        if (sharedHost && (id != null || port != null)) {
            if (id == null || port == null) {
                throw new Invalid("missing header");
            }
            return of(id.strip(), port.strip());
        }
        int dot = host.indexOf('.');
        if (dot < 0) {
            throw new Invalid("Invalid host");
        }
        String[] parts = host.substring(0, dot).split("-");
        if (parts.length < 2) {
            throw new Invalid("Invalid host");
        }
        // Old SDKs append -<clientID> after the sandbox ID; it is not part of the ID.
        return of(parts[1], parts[0]);
    }

    private static ProxyRoute of(String id, String port) {
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new Invalid("Invalid sandbox port");
        }
        if (p < 1 || p > 65535) {
            throw new Invalid("Invalid sandbox port");
        }
        if (!SANDBOX_ID.matcher(id).matches()) {
            throw new Invalid("Invalid sandbox ID");
        }
        return new ProxyRoute(id, p);
    }

    private static String hostWithoutPort(String host) {
        if (host == null) {
            return "";
        }
        host = host.strip().toLowerCase(Locale.ROOT);
        if (host.startsWith("[")) {
            int close = host.indexOf(']');
            return close < 0 ? host : host.substring(1, close);
        }
        int colon = host.indexOf(':');
        // More than one colon is a bare IPv6 literal, not host:port.
        if (colon >= 0 && host.indexOf(':', colon + 1) < 0) {
            return host.substring(0, colon);
        }
        return host;
    }
}
