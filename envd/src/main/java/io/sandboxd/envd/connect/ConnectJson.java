package io.sandboxd.envd.connect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.nio.charset.StandardCharsets;

/** Canonical proto3 JSON in and out, and the JSON shapes of Connect errors. */
public final class ConnectJson {
    private static final JsonFormat.Parser PARSER = JsonFormat.parser().ignoringUnknownFields();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
    // trailing tokens are refused as JsonFormat refuses them: the tree read here may be the only parse
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final byte[] EMPTY_END_STREAM = "{}".getBytes(StandardCharsets.US_ASCII);

    private ConnectJson() {
    }

    /**
     * Parses {@code json} as a message of {@code prototype}'s type. An empty body is the empty message.
     *
     * @throws ConnectException {@code invalid_argument} for malformed JSON or values of the wrong type
     */
    public static Message parse(Message prototype, byte[] json) {
        Message.Builder b = prototype.newBuilderForType();
        if (json.length == 0) {
            return b.build();
        }
        String mismatch;
        JsonNode tree;
        try {
            tree = MAPPER.readTree(json);
            mismatch = JsonTypeCheck.firstMismatch(prototype.getDescriptorForType(), tree);
        } catch (java.io.IOException e) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                    "cannot parse " + prototype.getDescriptorForType().getFullName() + ": malformed JSON", e);
        }
        if (mismatch != null) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                    "cannot parse " + prototype.getDescriptorForType().getFullName() + ": " + mismatch);
        }
        if (JsonTreeMerger.merge(tree, b)) {
            return b.build();
        }
        b = prototype.newBuilderForType(); // the fast path may have set some fields before giving up
        try {
            PARSER.merge(new String(json, StandardCharsets.UTF_8), b);
            return b.build();
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            // JsonFormat reports wrong types as InvalidProtocolBufferException, but some malformed inputs surface
            // as Gson runtime exceptions: both are the client's fault.
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                    "cannot parse " + prototype.getDescriptorForType().getFullName() + ": " + e.getMessage(), e);
        }
    }

    public static byte[] print(Message message) {
        try {
            return PRINTER.print(message).getBytes(StandardCharsets.UTF_8);
        } catch (InvalidProtocolBufferException e) {
            // only Any with unknown types can fail, and envd's messages have none
            throw new IllegalStateException("cannot print " + message.getDescriptorForType().getFullName(), e);
        }
    }

    /** {@code {"code":"not_found","message":"..."}}: the body of a unary error. */
    public static byte[] error(ConnectException e) {
        return bytes(errorNode(e));
    }

    /** The end-stream frame's JSON: {@code {}} or {@code {"error":{"code","message"}}}. */
    public static byte[] endStream(ConnectException errorOrNull) {
        if (errorOrNull == null) {
            return EMPTY_END_STREAM.clone();
        }
        ObjectNode root = MAPPER.createObjectNode();
        root.set("error", errorNode(errorOrNull));
        return bytes(root);
    }

    private static ObjectNode errorNode(ConnectException e) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("code", e.code().wireName());
        if (e.getMessage() != null && !e.getMessage().isEmpty()) {
            n.put("message", e.getMessage());
        }
        return n;
    }

    private static byte[] bytes(ObjectNode n) {
        try {
            return MAPPER.writeValueAsBytes(n);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
