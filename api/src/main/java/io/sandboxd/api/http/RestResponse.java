package io.sandboxd.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * What an endpoint answers: a status, a JSON body or none, and extra headers (e.g. {@code X-Next-Token}). File
 * contents (the volume file API) answer with {@code bytes} instead of a JSON body.
 */
public record RestResponse(int status, JsonNode body, Map<String, String> headers, byte[] bytes) {

    public RestResponse(int status, JsonNode body, Map<String, String> headers) {
        this(status, body, headers, null);
    }

    public static RestResponse json(int status, JsonNode body) {
        return new RestResponse(status, body, Map.of());
    }

    /** A 200 {@code application/octet-stream} answer carrying {@code content}. */
    public static RestResponse octets(byte[] content) {
        return new RestResponse(200, null, Map.of(), content);
    }

    /** A 200 answer of {@code content} in a format other than JSON ({@code /metrics}'s text exposition). */
    public static RestResponse text(String contentType, byte[] content) {
        return octets(content).withHeader("Content-Type", contentType);
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
        return new RestResponse(status, body, Map.copyOf(copy), bytes);
    }
}
