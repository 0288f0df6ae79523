package io.sandboxd.daemon.network;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The host name a client's first bytes ask for: the {@code server_name} of a TLS ClientHello (RFC 8446 4.1.2,
 * RFC 6066 3), or the {@code Host} header of a plain HTTP/1.x request (or the authority of an absolute-form
 * target). This is what the egress proxy checks a sandbox's domain rules against, as E2B's does; like E2B's, it sees
 * only the first request of a connection and cannot see a different Host inside TLS (domain fronting).
 */
public sealed interface RequestedName {
    /** Up to this much is buffered while waiting for the name; a ClientHello is normally under 2 KiB. */
    int MAX_PEEK = 16 * 1024;

    /** Not enough bytes yet. */
    record More() implements RequestedName {}

    record Found(String host, boolean tls) implements RequestedName {}

    /** The bytes can never yield a name: not TLS or HTTP, no SNI, no Host, or malformed. */
    record Unreadable(String why) implements RequestedName {}

    static RequestedName read(byte[] b, int len) {
        if (len == 0) {
            return new More();
        }
        return (b[0] & 0xff) == 0x16 ? tls(b, len) : http(b, len);
    }

    private static RequestedName tls(byte[] b, int len) {
        // record header: type(1)=22 version(2) length(2); then the handshake: type(1)=1 length(3) body
        if (len < 9) {
            return new More();
        }
        int recordLength = u16(b, 3);
        if ((b[5] & 0xff) != 1) {
            return new Unreadable("TLS handshake is not a ClientHello");
        }
        int helloLength = ((b[6] & 0xff) << 16) | u16(b, 7);
        int end = 9 + helloLength;
        if (helloLength > MAX_PEEK || recordLength < 4) {
            return new Unreadable("ClientHello too large or split");
        }
        if (end > 5 + recordLength) {
            // a ClientHello spread over several records (very large, e.g. post-quantum key shares): read the first
            // record only if the name is in it, which it is for every client that puts SNI early; otherwise refuse
            end = 5 + recordLength;
        }
        if (len < end) {
            return new More();
        }
        int p = 9 + 2 + 32; // client_version, random
        if (p + 1 > end) {
            return new Unreadable("truncated ClientHello");
        }
        p += 1 + (b[p] & 0xff); // session id
        if (p + 2 > end) {
            return new Unreadable("truncated ClientHello");
        }
        p += 2 + u16(b, p); // cipher suites
        if (p + 1 > end) {
            return new Unreadable("truncated ClientHello");
        }
        p += 1 + (b[p] & 0xff); // compression methods
        if (p + 2 > end) {
            return new Unreadable("ClientHello without extensions (no SNI)");
        }
        int extEnd = Math.min(end, p + 2 + u16(b, p));
        p += 2;
        while (p + 4 <= extEnd) {
            int type = u16(b, p);
            int extLen = u16(b, p + 2);
            p += 4;
            if (p + extLen > extEnd) {
                return new Unreadable("truncated ClientHello extension");
            }
            if (type == 0) { // server_name: list length(2), then entries of type(1) length(2) name
                int q = p + 2;
                int listEnd = Math.min(p + extLen, p + 2 + (extLen >= 2 ? u16(b, p) : 0));
                while (q + 3 <= listEnd) {
                    int nameType = b[q] & 0xff;
                    int nameLen = u16(b, q + 1);
                    q += 3;
                    if (q + nameLen > listEnd) {
                        break;
                    }
                    if (nameType == 0) {
                        return found(new String(b, q, nameLen, StandardCharsets.US_ASCII), true);
                    }
                    q += nameLen;
                }
                return new Unreadable("malformed server_name extension");
            }
            p += extLen;
        }
        return new Unreadable("ClientHello without SNI");
    }

    private static RequestedName http(byte[] b, int len) {
        int headerEnd = indexOf(b, len, "\r\n\r\n");
        if (headerEnd < 0) {
            return len >= MAX_PEEK ? new Unreadable("request headers longer than " + MAX_PEEK + " bytes") : new More();
        }
        String head = new String(b, 0, headerEnd, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n");
        String[] requestLine = lines[0].split(" ");
        if (requestLine.length != 3 || !requestLine[2].startsWith("HTTP/1.")) {
            return new Unreadable("not an HTTP/1.x request");
        }
        String host = null;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0 && lines[i].substring(0, colon).equalsIgnoreCase("host")) {
                if (host != null) {
                    return new Unreadable("two Host headers");
                }
                host = lines[i].substring(colon + 1).strip();
            }
        }
        String target = requestLine[1];
        if (target.regionMatches(true, 0, "http://", 0, 7)) {
            int slash = target.indexOf('/', 7);
            host = target.substring(7, slash < 0 ? target.length() : slash);
        }
        if (host == null || host.isEmpty()) {
            return new Unreadable("HTTP request without a Host header");
        }
        return found(stripPort(host), false);
    }

    private static RequestedName found(String host, boolean tls) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.isEmpty() || !h.chars().allMatch(c -> c == '.' || c == '-' || c == '_' || Character.isLetterOrDigit(c))) {
            return new Unreadable("requested name '" + host + "' is not a host name");
        }
        return new Found(h, tls);
    }

    private static String stripPort(String host) {
        int colon = host.lastIndexOf(':');
        return colon > 0 && host.indexOf(':') == colon ? host.substring(0, colon) : host;
    }

    private static int u16(byte[] b, int i) {
        return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }

    private static int indexOf(byte[] b, int len, String s) {
        byte[] n = s.getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + n.length <= len; i++) {
            for (int j = 0; j < n.length; j++) {
                if (b[i + j] != n[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
