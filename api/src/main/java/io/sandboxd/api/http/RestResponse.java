package io.sandboxd.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** What an endpoint answers: a status, a JSON body or none, and extra headers (e.g. {@code X-Next-Token}). */
public record RestResponse(int status, JsonNode body, Map<String, String> headers) {

    public static RestResponse json(int status, JsonNode body) {
        return new RestResponse(status, body, Map.of());
    }

    /** 204 with no body: the JS SDK fails on an empty chunked 2xx body, so empty answers are always 204. */
    public static RestResponse noContent() {
        return new RestResponse(204, null, Map.of());
    }

    public static RestResponse error(int status, String message) {
        return new RestResponse(status, Json.error(status, message), Map.of());
    }

    public RestResponse withHeader(String name, String value) {
        var copy = new java.util.LinkedHashMap<>(headers);
        copy.put(name, value);
        return new RestResponse(status, body, Map.copyOf(copy));
    }
}
