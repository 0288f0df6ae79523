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
import java.util.logging.Logger;

/** {@code GET /health}, {@code GET /envs}, {@code GET /metrics}, {@code POST /init} (spec 3.1). */
public final class SystemRoutes {
    private static final Logger LOG = Logger.getLogger(SystemRoutes.class.getName());
    /** The guest clock is set from {@code /init} only when it is off by more than this. */
    static final long CLOCK_TOLERANCE_MILLIS = 50;

    private final EnvdState state;
    private final HostMetrics metrics;
    private final ClockSetter clock;

    /** Sets the system clock; the default runs {@code date -s}. */
    @FunctionalInterface
    public interface ClockSetter {
        void set(Instant now) throws IOException, InterruptedException;
    }

    public SystemRoutes(EnvdState state, HostMetrics metrics, ClockSetter clock) {
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
        if (hostTime != null) {
            long skew = Math.abs(hostTime.toEpochMilli() - System.currentTimeMillis());
            if (skew > CLOCK_TOLERANCE_MILLIS) {
                try {
                    clock.set(hostTime);
                    LOG.info("clock was off by " + skew + " ms; set from /init");
                } catch (IOException e) {
                    LOG.warning("cannot set the clock (off by " + skew + " ms): " + e.getMessage());
                }
            }
        }
        return HttpResponses.empty(HttpResponseStatus.NO_CONTENT);
    }

    private static String text(JsonNode body, String field) {
        JsonNode n = body.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    /** {@code date -u -s @<seconds.nanos>}: envd runs as root in the sandbox, util-linux/coreutils are there. */
    public static void setClockWithDate(Instant now) throws IOException, InterruptedException {
        String arg = "@" + now.getEpochSecond() + "." + String.format("%09d", now.getNano());
        Process p = new ProcessBuilder("date", "-u", "-s", arg).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (p.waitFor() != 0) {
            throw new IOException("date -s " + arg + " exited with " + p.exitValue());
        }
    }
}
