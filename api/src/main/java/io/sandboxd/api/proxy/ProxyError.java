package io.sandboxd.api.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.Json;

/**
 * A proxy refusal with its JSON body. The SDK reads 502 as "sandbox gone" ({@code isRunning()} false, RPCs fail
 * with TimeoutError), so 502 is kept for sandboxes that are gone or whose port is closed.
 */
record ProxyError(int status, String message, String sandboxId, Integer port) {
    static final String NOT_FOUND = "The sandbox was not found";

    static ProxyError badRequest(String message) {
        return new ProxyError(400, message, null, null);
    }

    static ProxyError sandboxNotFound(String sandboxId) {
        return new ProxyError(502, NOT_FOUND, sandboxId, null);
    }

    static ProxyError paused(String sandboxId) {
        return new ProxyError(502, "The sandbox is paused; resume it with connect()", sandboxId, null);
    }

    static ProxyError portClosed(String sandboxId, int port) {
        return new ProxyError(502, "The sandbox is running but port is not open", sandboxId, port);
    }

    static ProxyError transitioning(String sandboxId) {
        return new ProxyError(409, "The sandbox is changing state (starting, pausing, resuming or stopping); retry",
                sandboxId, null);
    }

    ObjectNode body() {
        ObjectNode n = Json.object();
        if (sandboxId != null) {
            n.put("sandboxId", sandboxId);
        }
        n.put("message", message);
        if (port != null) {
            n.put("port", port);
        }
        n.put("code", status);
        return n;
    }
}
