package io.sandboxd.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of optional fields from a JSON request body, each failing with a 400 that names the field. A missing
 * field and an explicit {@code null} both read as absent (Python sends nulls for unset options).
 */
public final class JsonFields {
    private final JsonNode body;
    /** How field names are shown in messages: empty at the top, {@code "lifecycle."} inside a nested object. */
    private final String path;

    private JsonFields(JsonNode body, String path) {
        this.body = body;
        this.path = path;
    }

    /** Wraps a body that must be a JSON object, or absent (empty body) when {@code optional}. */
    public static JsonFields of(JsonNode body, boolean optional) {
        if (body == null || body.isNull()) {
            if (!optional) {
                throw HttpError.badRequest("Request body is required");
            }
            return new JsonFields(null, "");
        }
        if (!body.isObject()) {
            throw HttpError.badRequest("Request body must be a JSON object");
        }
        return new JsonFields(body, "");
    }

    /** Wraps an element of an array field that must be an object; {@code name} is how messages show it. */
    public static JsonFields element(JsonNode item, String name) {
        if (item == null || !item.isObject()) {
            throw HttpError.badRequest("Field '" + name + "' must be an object");
        }
        return new JsonFields(item, name + ".");
    }

    public boolean has(String name) {
        return field(name) != null;
    }

    private JsonNode field(String name) {
        if (body == null) {
            return null;
        }
        JsonNode v = body.get(name);
        return v == null || v.isNull() ? null : v;
    }

    public String string(String name, String fallback) {
        JsonNode v = field(name);
        if (v == null) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw HttpError.badRequest("Field '" + path + name + "' must be a string");
        }
        return v.asText();
    }

    public boolean bool(String name, boolean fallback) {
        JsonNode v = field(name);
        if (v == null) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw HttpError.badRequest("Field '" + path + name + "' must be true or false");
        }
        return v.asBoolean();
    }

    /** An integer field; a number with a fraction or outside the long range is refused. */
    public Long integer(String name) {
        JsonNode v = field(name);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw HttpError.badRequest("Field '" + path + name + "' must be an integer");
        }
        return v.asLong();
    }

    public Map<String, String> stringMap(String name) {
        JsonNode v = field(name);
        Map<String, String> out = new LinkedHashMap<>();
        if (v == null) {
            return out;
        }
        if (!v.isObject()) {
            throw HttpError.badRequest("Field '" + path + name + "' must be an object of strings");
        }
        for (var e : v.properties()) {
            if (!e.getValue().isTextual()) {
                throw HttpError.badRequest("Field '" + path + name + "." + e.getKey() + "' must be a string");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    public List<String> stringList(String name) {
        JsonNode v = field(name);
        List<String> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (!v.isArray()) {
            throw HttpError.badRequest("Field '" + path + name + "' must be an array of strings");
        }
        for (JsonNode item : v) {
            if (item.getNodeType() != JsonNodeType.STRING) {
                throw HttpError.badRequest("Field '" + path + name + "' must be an array of strings");
            }
            out.add(item.asText());
        }
        return out;
    }

    /** A nested object field, or null when absent. */
    public JsonFields object(String name) {
        JsonNode v = field(name);
        if (v == null) {
            return null;
        }
        if (!v.isObject()) {
            throw HttpError.badRequest("Field '" + path + name + "' must be an object");
        }
        return new JsonFields(v, path + name + ".");
    }

    public JsonNode raw(String name) {
        return field(name);
    }
}
