package io.sandboxd.api.http;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits the raw request path on {@code /} first and percent-decodes each segment after, so that {@code %2F} stays
 * inside its segment (snapshot IDs such as {@code team/name:tag} arrive that way).
 */
public final class PathSegments {
    private PathSegments() {}

    /** The decoded segments of {@code rawPath} (no query); empty segments from {@code //} or a trailing slash drop. */
    public static List<String> of(String rawPath) {
        List<String> segments = new ArrayList<>();
        for (String raw : rawPath.split("/")) {
            if (!raw.isEmpty()) {
                segments.add(decode(raw));
            }
        }
        return segments;
    }

    /** Percent-decodes one path segment; unlike a query string, {@code +} is a literal plus here. */
    public static String decode(String raw) {
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        try {
            return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest("Malformed percent-encoding in path segment '" + raw + "'");
        }
    }
}
