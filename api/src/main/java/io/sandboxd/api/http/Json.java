package io.sandboxd.api.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/** The one configured Jackson mapper of the API, and the error body shape every endpoint answers with. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true);

    private Json() {}

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** {@code {"code": status, "message": message}}: the body both SDKs parse on every error status. */
    public static ObjectNode error(int status, String message) {
        ObjectNode body = object();
        body.put("code", status);
        body.put("message", message);
        return body;
    }

    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JsonNode tree always serializes", e);
        }
    }

    /** Parses a request body; an empty body reads as {@code null} so endpoints with optional bodies can default. */
    public static JsonNode parse(byte[] body) {
        if (body.length == 0) {
            return null;
        }
        try {
            JsonNode tree = MAPPER.readTree(body);
            requireWellFormedText(tree);
            return tree;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw HttpError.badRequest("Request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw HttpError.badRequest("Request body cannot be read: " + e.getMessage());
        }
    }

    /**
     * JSON escapes can spell half of a surrogate pair ({@code "\ud800"}), which Jackson accepts but is not Unicode
     * text: stored, it would make every later answer that shows it fail to serialize. Refused at the door.
     */
    private static void requireWellFormedText(JsonNode node) {
        if (node == null) {
            return;
        }
        if (node.isTextual()) {
            requireWellFormed(node.textValue());
        } else if (node.isObject()) {
            for (var e : node.properties()) {
                requireWellFormed(e.getKey());
                requireWellFormedText(e.getValue());
            }
        } else if (node.isArray()) {
            node.forEach(Json::requireWellFormedText);
        }
    }

    private static void requireWellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw HttpError.badRequest(String.format("Request body is not valid Unicode: a string has an "
                        + "unpaired surrogate \\u%04x", (int) c));
            }
        }
    }
}
