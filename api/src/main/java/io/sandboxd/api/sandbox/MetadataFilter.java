package io.sandboxd.api.sandbox;

import io.sandboxd.api.http.HttpError;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The list endpoints' {@code metadata} filter. The SDKs encode it three times: each key and value percent-encoded,
 * joined as {@code k=v&k2=v2}, and that string percent-encoded again as the query value, so
 * {@code {'user id':'a&b'}} arrives as {@code metadata=user%252520id%3Da%252526b}. The query decoder undoes the
 * outer layer; this undoes the other two.
 */
public final class MetadataFilter {
    private MetadataFilter() {}

    /** Parses the query-decoded parameter value; null or empty means no filter. */
    public static Map<String, String> parse(String queryDecoded) {
        Map<String, String> pairs = new LinkedHashMap<>();
        if (queryDecoded == null || queryDecoded.isEmpty()) {
            return pairs;
        }
        String joined = unescape(queryDecoded);
        for (String pair : joined.split("&", -1)) {
            int eq = pair.indexOf('=');
            if (eq <= 0 || pair.indexOf('=', eq + 1) >= 0) {
                throw HttpError.badRequest("Invalid metadata filter: '" + pair + "' is not key=value");
            }
            String key = unescape(pair.substring(0, eq));
            String value = unescape(pair.substring(eq + 1));
            if (pairs.putIfAbsent(key, value) != null && !pairs.get(key).equals(value)) {
                throw HttpError.badRequest("Invalid metadata filter: key '" + key + "' is given twice");
            }
        }
        return pairs;
    }

    private static String unescape(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest("Invalid metadata filter: malformed percent-encoding in '" + s + "'");
        }
    }
}
