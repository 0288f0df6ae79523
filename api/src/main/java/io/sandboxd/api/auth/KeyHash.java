package io.sandboxd.api.auth;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The two credential kinds and how they are stored. Upstream stores
 * {@code "$sha256$" + base64-no-padding(SHA-256(hex-decoded part after the prefix))} and looks that up; we store the
 * same, so a key never exists in plaintext after it was shown once.
 */
public enum KeyHash {
    API_KEY("e2b_"),
    ACCESS_TOKEN("sk_e2b_");

    /** Upstream issues 20 random bytes (40 hex chars). */
    public static final int SECRET_BYTES = 20;

    private static final SecureRandom RANDOM = new SecureRandom();
    private final String prefix;
    private final Pattern format;

    KeyHash(String prefix) {
        this.prefix = prefix;
        // Some SDK versions check ^e2b_[0-9a-f]+$ client side; an even length is needed to hex-decode.
        this.format = Pattern.compile("^" + prefix + "(?:[0-9a-f]{2})+$");
    }

    public String prefix() {
        return prefix;
    }

    /** Whether {@code credential} has this kind's form: the prefix and an even number of lowercase hex digits. */
    public boolean matches(String credential) {
        return credential != null && format.matcher(credential).matches();
    }

    /** The stored hash of a well-formed credential. */
    public String of(String credential) {
        if (!matches(credential)) {
            throw new IllegalArgumentException("not a " + prefix + "<hex> credential");
        }
        byte[] secret = HexFormat.of().parseHex(credential, prefix.length(), credential.length());
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(secret);
            return "$sha256$" + Base64.getEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** A new random credential of this kind: {@code prefix + 40 lowercase hex}. */
    public String generate() {
        byte[] secret = new byte[SECRET_BYTES];
        RANDOM.nextBytes(secret);
        return prefix + HexFormat.of().formatHex(secret);
    }

    /** What may be shown of a credential after creation: its prefix and the first and last four hex digits. */
    public String mask(String credential) {
        String hex = credential.substring(prefix.length());
        return prefix + hex.substring(0, 4) + "…" + hex.substring(hex.length() - 4);
    }
}
