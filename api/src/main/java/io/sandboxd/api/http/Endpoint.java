package io.sandboxd.api.http;

/** One route's handler. Runs on the API's worker executor, never on a Netty event loop, so it may block. */
@FunctionalInterface
public interface Endpoint {
    RestResponse handle(RestRequest request) throws Exception;
}
