package io.sandboxd.envd.connect;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.util.Iterator;
import java.util.Map;

/**
 * Refuses JSON values whose type cannot be the field's proto3 JSON form, before JsonFormat sees them.
 *
 * <p>protobuf-java's parser is lenient in one way Connect servers are not: it turns a JSON number into a string
 * field ({@code {"path": 5}} becomes {@code "5"}). A client that sends a number for a path has a bug that should
 * surface as {@code invalid_argument}, not as an operation on a file named "5". Unknown fields stay ignored.
 */
final class JsonTypeCheck {
    private static final int MAX_DEPTH = 64;

    private JsonTypeCheck() {
    }

    /** @return null when every known field has an acceptable JSON type, else a description of the first that does not */
    static String firstMismatch(Descriptor type, JsonNode node) {
        return checkMessage(type, node, type.getName(), 0);
    }

    private static String checkMessage(Descriptor type, JsonNode node, String path, int depth) {
        if (depth > MAX_DEPTH) {
            return path + ": nested too deeply";
        }
        if (!node.isObject()) {
            return path + ": expected a JSON object, got " + kind(node);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            FieldDescriptor f = field(type, e.getKey());
            if (f == null || e.getValue().isNull()) {
                continue;
            }
            String where = path + "." + e.getKey();
            String problem;
            if (f.isMapField()) {
                problem = checkMap(f, e.getValue(), where, depth);
            } else if (f.isRepeated()) {
                problem = checkRepeated(f, e.getValue(), where, depth);
            } else {
                problem = checkSingle(f, e.getValue(), where, depth);
            }
            if (problem != null) {
                return problem;
            }
        }
        return null;
    }

    private static String checkRepeated(FieldDescriptor f, JsonNode value, String where, int depth) {
        if (!value.isArray()) {
            return where + ": expected a JSON array, got " + kind(value);
        }
        for (int i = 0; i < value.size(); i++) {
            String p = checkSingle(f, value.get(i), where + "[" + i + "]", depth);
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    private static String checkMap(FieldDescriptor f, JsonNode value, String where, int depth) {
        if (!value.isObject()) {
            return where + ": expected a JSON object, got " + kind(value);
        }
        FieldDescriptor valueField = f.getMessageType().findFieldByName("value");
        for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String p = checkSingle(valueField, e.getValue(), where + "[" + e.getKey() + "]", depth);
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    private static String checkSingle(FieldDescriptor f, JsonNode v, String where, int depth) {
        boolean ok = switch (f.getJavaType()) {
            case STRING, BYTE_STRING -> v.isTextual();
            case BOOLEAN -> v.isBoolean();
            // proto3 JSON writes 64-bit integers as strings and accepts either form for every number
            case INT, LONG, FLOAT, DOUBLE -> v.isNumber() || v.isTextual();
            case ENUM -> v.isTextual() || v.isIntegralNumber();
            case MESSAGE -> true;
        };
        if (!ok) {
            return where + ": expected " + expected(f) + ", got " + kind(v);
        }
        if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
            Descriptor m = f.getMessageType();
            // well-known types have their own JSON forms (Timestamp is a string); JsonFormat checks those itself
            if (m.getFile().getPackage().equals("google.protobuf")) {
                return null;
            }
            return checkMessage(m, v, where, depth + 1);
        }
        return null;
    }

    /** The field a JSON member names: its proto name or its JSON (lowerCamel) name, as proto3 JSON accepts both. */
    static FieldDescriptor field(Descriptor type, String jsonName) {
        FieldDescriptor f = type.findFieldByName(jsonName);
        if (f != null) {
            return f;
        }
        for (FieldDescriptor candidate : type.getFields()) {
            if (candidate.getJsonName().equals(jsonName)) {
                return candidate;
            }
        }
        return null;
    }

    private static String expected(FieldDescriptor f) {
        return switch (f.getJavaType()) {
            case STRING -> "a string";
            case BYTE_STRING -> "a base64 string";
            case BOOLEAN -> "true or false";
            case INT, LONG, FLOAT, DOUBLE -> "a number";
            case ENUM -> "an enum name or number";
            case MESSAGE -> "an object";
        };
    }

    private static String kind(JsonNode v) {
        if (v.isTextual()) {
            return "a string";
        }
        if (v.isNumber()) {
            return "a number";
        }
        if (v.isBoolean()) {
            return "a boolean";
        }
        if (v.isArray()) {
            return "an array";
        }
        if (v.isObject()) {
            return "an object";
        }
        return v.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }
}
