package io.sandboxd.envd.system;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sandboxd.envd.EnvdState;
import io.sandboxd.envd.http.FullRequest;
import io.sandboxd.envd.http.HttpResponses;
import io.sandboxd.envd.http.HttpRouter;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/** {@code GET /health}, {@code GET /envs}, {@code GET /metrics}, {@code POST /init} (spec 3.1). */
public final class SystemRoutes {
    private final EnvdState state;
    private final HostMetrics metrics;
    private final InitClock clock;

    /** @param clock whether {@code /init}'s timestamp may set the system clock (only as a sandbox's agent) */
    public SystemRoutes(EnvdState state, HostMetrics metrics, InitClock clock) {
        this.state = state;
        this.metrics = metrics;
        this.clock = clock;
    }

    public void register(HttpRouter router) {
        router.handleOpen(HttpMethod.GET, "/health", r -> {
            FullHttpResponse resp = state.warmingUp()
                    ? HttpResponses.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "envd is warming up")
                    : HttpResponses.empty(HttpResponseStatus.NO_CONTENT);
            resp.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
            return resp;
        });
        router.handle(HttpMethod.GET, "/envs", r -> HttpResponses.json(HttpResponseStatus.OK, state.envVars()));
        router.handle(HttpMethod.GET, "/metrics", r -> HttpResponses.json(HttpResponseStatus.OK, metrics.sample()));
        router.handleOpen(HttpMethod.POST, "/init", this::init);
    }

    FullHttpResponse init(FullRequest request) throws InterruptedException {
        JsonNode body;
        try {
            body = request.body().length == 0 ? HttpResponses.mapper().createObjectNode()
                    : HttpResponses.mapper().readTree(request.body());
        } catch (IOException e) {
            return HttpResponses.error(HttpResponseStatus.BAD_REQUEST, "malformed JSON: " + e.getMessage());
        }
        if (!body.isObject()) {
            return HttpResponses.error(HttpResponseStatus.BAD_REQUEST, "the /init body must be a JSON object");
        }
        Map<String, String> envVars = null;
        JsonNode env = body.get("envVars");
        if (env != null && !env.isNull()) {
            if (!env.isObject()) {
                return HttpResponses.error(HttpResponseStatus.BAD_REQUEST, "envVars must be an object of strings");
            }
            envVars = new HashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = env.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isTextual()) {
                    return HttpResponses.error(HttpResponseStatus.BAD_REQUEST, "envVars." + e.getKey() + " must be a string");
                }
                envVars.put(e.getKey(), e.getValue().asText());
            }
        }
        String token = text(body, "accessToken");
        String user = text(body, "defaultUser");
        String workdir = text(body, "defaultWorkdir");
        String timestamp = text(body, "timestamp");
        Instant hostTime = null;
        if (timestamp != null && !timestamp.isEmpty()) {
            try {
                hostTime = Instant.parse(timestamp);
            } catch (DateTimeParseException e) {
                return HttpResponses.error(HttpResponseStatus.BAD_REQUEST, "timestamp is not RFC 3339: " + timestamp);
            }
        }
        Map<String, String> newEnv = envVars;
        state.update(s -> new EnvdState.Settings(
                body.has("accessToken") ? (token == null || token.isEmpty() ? null : token) : s.accessToken(),
                newEnv != null ? newEnv : s.envVars(),
                user != null && !user.isEmpty() ? user : s.defaultUser(),
                workdir != null && !workdir.isEmpty() ? workdir : s.defaultWorkdir()));
        // the warm-up's own /init carries envd's clock as it was before a cold JVM took hundreds of ms to parse it:
        // comparing against it would set the clock back by that long
        if (hostTime != null && !state.warmingUp()) {
            clock.correct(hostTime);
        }
        return HttpResponses.empty(HttpResponseStatus.NO_CONTENT);
    }

    private static String text(JsonNode body, String field) {
        JsonNode n = body.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }
}
