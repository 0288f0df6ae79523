package io.sandboxd.envd.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/** Responses envd's plain HTTP endpoints send; errors are always {@code {"code": <status>, "message"}} JSON. */
public final class HttpResponses {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private HttpResponses() {
    }

    /** {@code {"code": status, "message": message}} with that status. */
    public static FullHttpResponse error(HttpResponseStatus status, String message) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("code", status.code());
        n.put("message", message);
        return json(status, n);
    }

    public static FullHttpResponse json(HttpResponseStatus status, Object value) {
        try {
            return bytes(status, HttpHeaderValues.APPLICATION_JSON.toString(), MAPPER.writeValueAsBytes(value));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not serialisable as JSON: " + value.getClass(), e);
        }
    }

    public static FullHttpResponse bytes(HttpResponseStatus status, String contentType, byte[] body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return r;
    }

    /** A bodiless response ({@code 204 No Content} and friends) with {@code Content-Length: 0}. */
    public static FullHttpResponse empty(HttpResponseStatus status) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER);
        if (status.code() != 204) {
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        }
        return r;
    }

    public static ObjectMapper mapper() {
        return MAPPER;
    }
}
