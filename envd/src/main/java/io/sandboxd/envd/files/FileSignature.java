package io.sandboxd.envd.files;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Base64;

/**
 * Signed {@code /files} URLs (spec 3.2), which let a browser or {@code curl} read or write one path without the
 * access token: {@code "v1_" + base64(SHA-256("<path>:<op>:<username>:<token>[:<expiration>]"))}, standard alphabet
 * without padding. {@code op} is {@code read} (GET) or {@code write} (POST), {@code path} the {@code path} query
 * value as sent (before {@code ~} expansion), {@code username} empty for the default user, {@code expiration} unix
 * seconds.
 */
public final class FileSignature {
    public static final String READ = "read";
    public static final String WRITE = "write";

    /** Why a request was not let in; the message is what the client reads in the 401. */
    public static final class Rejected extends Exception {
        private static final long serialVersionUID = 1L;

        Rejected(String message) {
            super(message, null, false, false);
        }
    }

    private FileSignature() {
    }

    public static String sign(String path, String operation, String username, String token, Long expiration) {
        String payload = path + ":" + operation + ":" + (username == null ? "" : username) + ":" + token
                + (expiration == null ? "" : ":" + expiration);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(payload.getBytes(StandardCharsets.UTF_8));
            return "v1_" + Base64.getEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    /**
     * Lets a {@code /files} request in or says why not (upstream's order of checks).
     *
     * @param token          the access token, null when none is set (then everything is allowed)
     * @param headerToken    {@code X-Access-Token}, null when absent
     * @param signature      the {@code signature} query value, null when absent
     * @param expirationText the {@code signature_expiration} query value, null when absent
     */
    public static void check(String token, String headerToken, String path, String operation, String username,
                             String signature, String expirationText, Instant now) throws Rejected {
        if (token == null) {
            return;
        }
        if (headerToken != null && !headerToken.isEmpty()) {
            if (!constantTimeEquals(token, headerToken)) {
                throw new Rejected("access token present in header but does not match");
            }
            return;
        }
        if (signature == null) {
            throw new Rejected("missing signature query parameter");
        }
        Long expiration = null;
        if (expirationText != null) {
            try {
                expiration = Long.parseLong(expirationText);
            } catch (NumberFormatException e) {
                throw new Rejected("signature_expiration is not a unix time in seconds: " + expirationText);
            }
        }
        String expected = sign(path == null ? "" : path, operation, username, token, expiration);
        if (!constantTimeEquals(expected, signature)) {
            throw new Rejected("invalid signature");
        }
        if (expiration != null && expiration < now.getEpochSecond()) {
            throw new Rejected("signature is already expired");
        }
    }

    private static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
