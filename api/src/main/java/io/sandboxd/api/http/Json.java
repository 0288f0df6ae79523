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
            return MAPPER.readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw HttpError.badRequest("Request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw HttpError.badRequest("Request body cannot be read: " + e.getMessage());
        }
    }
}
