package io.sandboxd.envd.http;

import io.netty.handler.codec.http.FullHttpResponse;

/**
 * A plain HTTP endpoint with a small body. Runs on a worker thread, may block. Returns the complete response
 * (keep-alive headers are set by the server); exceptions become a 500 JSON error.
 */
@FunctionalInterface
public interface FullRequestHandler {
    FullHttpResponse handle(FullRequest request) throws Exception;
}
