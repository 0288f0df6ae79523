package io.sandboxd.api.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.JsonFields;

/**
 * Reads the {@code network} object of a create body and the body of {@code PUT /sandboxes/{id}/network}. Entry
 * syntax (addresses, CIDRs, domains, allowOut with domains needing denyOut 0.0.0.0/0) is checked by the service,
 * which owns the policy; this checks the JSON shapes and refuses, with a 400 that names the field, what sandboxd
 * does not do, rather than accepting a setting and not enforcing it.
 */
final class NetworkBody {
    private NetworkBody() {}

    static NetworkConfig create(JsonFields n) {
        if (n == null) {
            return NetworkConfig.DEFAULT;
        }
        refuseUnsupported(n, "network.");
        return new NetworkConfig(n.bool("allowPublicTraffic", true), n.stringList("allowOut"),
                n.stringList("denyOut"), n.string("maskRequestHost", null));
    }

    /** The whole new egress configuration: an omitted field is cleared (internet access back on). */
    static NetworkUpdate update(JsonNode json) {
        JsonFields body = JsonFields.of(json, false);
        refuseUnsupported(body, "");
        return new NetworkUpdate(body.bool("allow_internet_access", true), body.stringList("allowOut"),
                body.stringList("denyOut"));
    }

    private static void refuseUnsupported(JsonFields n, String prefix) {
        if (n.raw("egressProxy") != null) {
            throw HttpError.badRequest("'" + prefix + "egressProxy' is not supported by sandboxd: it does not tunnel "
                    + "egress through a SOCKS5 proxy (allowOut/denyOut and domain rules are)");
        }
        nonEmptyUnsupported(n, prefix, "rules", "an object",
                "it does not rewrite outbound HTTPS requests (that needs a TLS-intercepting proxy)");
        nonEmptyUnsupported(n, prefix, "httpsPorts", "an array",
                "its proxy reaches sandbox ports over plain HTTP only");
    }

    /** A field sandboxd accepts only empty (as the SDK may send it); {@code shape} is what the error asks for. */
    private static void nonEmptyUnsupported(JsonFields n, String prefix, String field, String shape, String why) {
        JsonNode v = n.raw(field);
        if (v == null) {
            return;
        }
        String shown = prefix + field;
        if (!v.isObject() && !v.isArray()) {
            throw HttpError.badRequest("Field '" + shown + "' must be " + shape);
        }
        if (!v.isEmpty()) {
            throw HttpError.badRequest("'" + shown + "' is not supported by sandboxd: " + why);
        }
    }
}
