package io.sandboxd.envd.files;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Content codings for {@code /files}: gzip is the only one besides identity. Negotiates {@code Accept-Encoding}
 * (RFC 9110 12.5.3: highest q wins, identity acceptable unless refused with q=0) and checks
 * {@code Content-Encoding} of uploads.
 */
public final class AcceptEncoding {
    public static final String GZIP = "gzip";
    public static final String IDENTITY = "identity";

    private record Weighted(String coding, double q) {
    }

    private AcceptEncoding() {
    }

    /**
     * The coding to answer with: {@code gzip} or {@code identity}; empty when the client accepts neither (406).
     */
    public static Optional<String> negotiate(String header) {
        if (header == null || header.isBlank()) {
            return Optional.of(IDENTITY);
        }
        List<Weighted> list = new ArrayList<>();
        for (String item : header.split(",")) {
            String[] parts = item.split(";");
            String coding = parts[0].trim().toLowerCase(Locale.ROOT);
            if (coding.isEmpty()) {
                continue;
            }
            double q = 1.0;
            for (int i = 1; i < parts.length; i++) {
                String p = parts[i].trim();
                if (p.regionMatches(true, 0, "q=", 0, 2)) {
                    try {
                        q = Double.parseDouble(p.substring(2).trim());
                    } catch (NumberFormatException e) {
                        q = 0; // a malformed weight counts as a refusal rather than a silent yes
                    }
                }
            }
            list.add(new Weighted(coding, q));
        }
        list.sort(Comparator.comparingDouble(Weighted::q).reversed());
        boolean identityRefused = list.stream().anyMatch(w -> w.q() == 0
                && (w.coding().equals(IDENTITY) || w.coding().equals("*") && list.stream()
                        .noneMatch(o -> o.coding().equals(IDENTITY) && o.q() > 0)));
        for (Weighted w : list) {
            if (w.q() <= 0) {
                continue;
            }
            switch (w.coding()) {
                case GZIP, "x-gzip" -> {
                    return Optional.of(GZIP);
                }
                case IDENTITY -> {
                    return Optional.of(IDENTITY);
                }
                case "*" -> {
                    return Optional.of(identityRefused ? GZIP : IDENTITY);
                }
                default -> {
                    // a coding we do not have (br, zstd, deflate): try the next one
                }
            }
        }
        return identityRefused ? Optional.empty() : Optional.of(IDENTITY);
    }

    /**
     * The coding of an upload body: {@code gzip} or {@code identity}.
     *
     * @throws IllegalArgumentException for any other coding (answered with 400)
     */
    public static String contentEncoding(String header) {
        if (header == null || header.isBlank()) {
            return IDENTITY;
        }
        String coding = header.split(";")[0].trim().toLowerCase(Locale.ROOT);
        return switch (coding) {
            case GZIP, "x-gzip" -> GZIP;
            case IDENTITY -> IDENTITY;
            default -> throw new IllegalArgumentException("unsupported Content-Encoding: " + header
                    + ", supported: [gzip]");
        };
    }
}
