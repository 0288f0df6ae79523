package io.sandboxd.envd.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;

/** A request whose body was read completely (bounded), for small endpoints such as {@code /init}. */
public record FullRequest(HttpMethod method, QueryStringDecoder uri, HttpHeaders headers, byte[] body) {
    public String path() {
        return uri.path();
    }

    /** The first value of a query parameter, or null. */
    public String query(String name) {
        var values = uri.parameters().get(name);
        return values == null || values.isEmpty() ? null : values.getFirst();
    }
}
