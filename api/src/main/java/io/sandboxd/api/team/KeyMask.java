package io.sandboxd.api.team;

import io.sandboxd.api.auth.KeyHash;

/**
 * What may be shown of a credential after it was created, as E2B's {@code IdentifierMaskingDetails}: the prefix,
 * the length of the hex part, and its first and last four digits.
 */
public record KeyMask(String prefix, int valueLength, String maskedValuePrefix, String maskedValueSuffix) {

    /** Parses the stored mask {@link KeyHash#mask} wrote ({@code prefix + first4 + "…" + last4}). */
    public static KeyMask parse(KeyHash kind, String stored) {
        String rest = stored.startsWith(kind.prefix()) ? stored.substring(kind.prefix().length()) : stored;
        int cut = rest.indexOf('…');
        if (cut < 0) {
            throw new IllegalArgumentException("not a stored mask: " + stored);
        }
        return new KeyMask(kind.prefix(), KeyHash.SECRET_BYTES * 2, rest.substring(0, cut), rest.substring(cut + 1));
    }
}
