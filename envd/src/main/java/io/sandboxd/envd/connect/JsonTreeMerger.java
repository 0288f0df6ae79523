package io.sandboxd.envd.connect;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.Message;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Builds a message straight from the Jackson tree {@link JsonTypeCheck} already checked, so a request's JSON is
 * parsed once (re-parsing it with JsonFormat cost more than the rest of a {@code Start}).
 *
 * <p>It takes only the plain forms envd's clients send: strings, booleans, integers written as JSON integers within
 * the field's range, nested messages, string-keyed maps and arrays. Anything else (enums, bytes, floating point,
 * numbers written as strings, well-known types, nulls in maps or arrays, two names for one field, two members of one
 * oneof) makes it give up, and the caller hands the same bytes to JsonFormat, whose answer (value or error) then is
 * the one that counts: the fast path never accepts or refuses anything JsonFormat would treat differently.
 */
final class JsonTreeMerger {
    private JsonTreeMerger() {
    }

    /** @return false when {@code node} holds a form this class leaves to JsonFormat; {@code b} is then garbage */
    static boolean merge(JsonNode node, Message.Builder b) {
        return mergeMessage(b.getDescriptorForType(), node, b, 0);
    }

    private static boolean mergeMessage(Descriptor type, JsonNode node, Message.Builder b, int depth) {
        if (depth > 32 || !node.isObject() || type.getFile().getPackage().equals("google.protobuf")) {
            return false;
        }
        Set<FieldDescriptor> seen = null;
        Set<OneofDescriptor> oneofs = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            FieldDescriptor f = JsonTypeCheck.field(type, e.getKey());
            if (f == null) {
                continue; // unknown fields are ignored, as JsonFormat is told to
            }
            if (seen == null) {
                seen = new HashSet<>(8);
            }
            if (!seen.add(f)) {
                return false; // both the proto and the JSON name: JsonFormat's error to give
            }
            OneofDescriptor oneof = f.getRealContainingOneof();
            if (oneof != null) {
                if (oneofs == null) {
                    oneofs = new HashSet<>(4);
                }
                if (!oneofs.add(oneof)) {
                    return false;
                }
            }
            JsonNode v = e.getValue();
            if (v.isNull()) {
                if (oneof != null || isWellKnown(f)) {
                    return false; // null means something for Value and NullValue; oneofs have their own rules
                }
                b.clearField(f); // proto3 JSON: null is the default value
                continue;
            }
            boolean ok;
            if (f.isMapField()) {
                ok = mergeMap(f, v, b, depth);
            } else if (f.isRepeated()) {
                ok = v.isArray();
                for (int i = 0; ok && i < v.size(); i++) {
                    Object value = value(f, v.get(i), b, depth);
                    ok = value != null;
                    if (ok) {
                        b.addRepeatedField(f, value);
                    }
                }
            } else {
                Object value = value(f, v, b, depth);
                ok = value != null;
                if (ok) {
                    b.setField(f, value);
                }
            }
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static boolean mergeMap(FieldDescriptor f, JsonNode v, Message.Builder b, int depth) {
        Descriptor entryType = f.getMessageType();
        FieldDescriptor keyField = entryType.findFieldByNumber(1);
        FieldDescriptor valueField = entryType.findFieldByNumber(2);
        if (!v.isObject() || keyField.getType() != FieldDescriptor.Type.STRING
                || valueField.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
            return false;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Message.Builder entry = b.newBuilderForField(f);
            Object value = value(valueField, e.getValue(), entry, depth);
            if (value == null) {
                return false;
            }
            entry.setField(keyField, e.getKey());
            entry.setField(valueField, value);
            b.addRepeatedField(f, entry.build());
        }
        return true;
    }

    /** The Java value for one (non-repeated) occurrence of {@code f}, or null to leave it to JsonFormat. */
    private static Object value(FieldDescriptor f, JsonNode v, Message.Builder owner, int depth) {
        return switch (f.getType()) {
            case STRING -> v.isTextual() ? v.textValue() : null;
            case BOOL -> v.isBoolean() ? v.booleanValue() : null;
            case INT32, SINT32, SFIXED32 -> v.isInt() ? v.intValue() : null;
            case INT64, SINT64, SFIXED64 -> v.isInt() || v.isLong() ? v.longValue() : null;
            case UINT32, FIXED32 -> v.isInt() && v.intValue() >= 0 ? v.intValue() : null;
            case UINT64, FIXED64 -> (v.isInt() || v.isLong()) && v.longValue() >= 0 ? v.longValue() : null;
            case MESSAGE -> {
                if (v.isNull() || isWellKnown(f)) {
                    yield null;
                }
                Message.Builder nested = owner.newBuilderForField(f);
                yield mergeMessage(f.getMessageType(), v, nested, depth + 1) ? nested.build() : null;
            }
            default -> null; // enums, bytes, floating point, groups: JsonFormat's rules
        };
    }

    private static boolean isWellKnown(FieldDescriptor f) {
        return f.getJavaType() == FieldDescriptor.JavaType.MESSAGE
                && f.getMessageType().getFile().getPackage().equals("google.protobuf");
    }
}
