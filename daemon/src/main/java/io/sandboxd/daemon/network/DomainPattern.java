package io.sandboxd.daemon.network;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A domain in an egress allow list: an exact name ({@code api.example.com}) or a leading wildcard
 * ({@code *.example.com}) that matches subdomains at any depth but not the apex, as E2B documents it. Names are
 * compared lower case and without a trailing dot; a bare {@code *} is refused, since it would mean "everything"
 * while looking like a domain rule.
 */
public record DomainPattern(String suffix, boolean wildcard) {
    private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");
    private static final int MAX_NAME = 253;

    public DomainPattern {
        suffix = normalize(suffix);
        if (suffix == null) {
            throw new IllegalArgumentException("empty domain");
        }
        checkName(suffix);
    }

    /** {@code example.com} or {@code *.example.com}; anything else is an {@link IllegalArgumentException}. */
    public static DomainPattern parse(String text) {
        String t = text.strip();
        if (t.equals("*")) {
            throw new IllegalArgumentException("'*' is not a domain: to allow all traffic, leave denyOut without 0.0.0.0/0");
        }
        if (t.startsWith("*.")) {
            return new DomainPattern(t.substring(2), true);
        }
        if (t.contains("*")) {
            throw new IllegalArgumentException("'" + text + "': a wildcard may only be a whole leading label (*.example.com)");
        }
        return new DomainPattern(t, false);
    }

    /** Whether text looks like a domain rather than an address: a letter or '*', and no '/' or ':'. */
    public static boolean looksLikeDomain(String text) {
        return text.chars().anyMatch(c -> Character.isLetter(c) || c == '*') && text.indexOf('/') < 0
                && text.indexOf(':') < 0;
    }

    /** Whether a host name a client asked for (an SNI or a Host header without its port) matches. */
    public boolean matches(String host) {
        String h = normalize(host);
        if (h == null) {
            return false;
        }
        return wildcard ? h.endsWith("." + suffix) : h.equals(suffix);
    }

    /** Lower case without a trailing dot; null when nothing is left. */
    static String normalize(String host) {
        if (host == null) {
            return null;
        }
        String h = host.strip().toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h.isEmpty() ? null : h;
    }

    private static void checkName(String name) {
        if (name.length() > MAX_NAME) {
            throw new IllegalArgumentException("domain '" + name + "' is longer than " + MAX_NAME + " characters");
        }
        for (String label : name.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                throw new IllegalArgumentException("'" + name + "' is not a valid domain name (label '" + label + "')");
            }
        }
    }

    @Override
    public String toString() {
        return wildcard ? "*." + suffix : suffix;
    }
}
