package io.sandboxd.api.sandbox;

import static io.netty.handler.codec.http.HttpMethod.DELETE;
import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.POST;
import static io.netty.handler.codec.http.HttpMethod.PUT;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.Endpoint;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.JsonFields;
import io.sandboxd.api.http.RestRequest;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The sandbox endpoints of spec section 1.4: parse and validate, call the {@link SandboxService}, shape the answer.
 * Success statuses are exact (Python's generated client parses only the documented one).
 */
public final class SandboxEndpoints {
    static final String NEXT_TOKEN_HEADER = "X-Next-Token";
    static final int MAX_PAGE = 100;
    static final int MAX_LOG_LIMIT = 1000;
    static final long MAX_REFRESH_SECONDS = 3600;
    private static final Pattern SANDBOX_ID = Pattern.compile("[a-z0-9]+");

    private final SandboxService service;

    public SandboxEndpoints(SandboxService service) {
        this.service = service;
    }

    public void register(Router router) {
        router.add(POST, "/sandboxes", r -> create(r, false))
                .add(POST, "/v2/sandboxes", r -> create(r, true))
                .add(GET, "/sandboxes", this::listV1)
                .add(GET, "/v2/sandboxes", this::listV2)
                .add(GET, "/sandboxes/metrics", this::bulkMetrics)
                .add(GET, "/sandboxes/{sandboxID}", this::get)
                .add(DELETE, "/sandboxes/{sandboxID}", this::kill)
                .add(POST, "/sandboxes/{sandboxID}/timeout", this::setTimeout)
                .add(POST, "/sandboxes/{sandboxID}/refreshes", this::refresh)
                .add(POST, "/sandboxes/{sandboxID}/connect", r -> connect(r, false))
                .add(POST, "/v2/sandboxes/{sandboxID}/connect", r -> connect(r, true))
                .add(POST, "/sandboxes/{sandboxID}/resume", this::resume)
                .add(POST, "/sandboxes/{sandboxID}/pause", this::pause)
                .add(GET, "/sandboxes/{sandboxID}/metrics", this::metrics)
                .add(GET, "/sandboxes/{sandboxID}/logs", this::logsV1)
                .add(GET, "/v2/sandboxes/{sandboxID}/logs", this::logsV2)
                .add(PUT, "/sandboxes/{sandboxID}/network", this::updateNetwork);
    }

    /** The snapshot and fork routes of a daemon that does not capture sandboxes: a clear 501 each. */
    public static void registerWithoutSnapshots(Router router) {
        router.add(POST, "/sandboxes/{sandboxID}/fork", notYet("forking sandboxes"))
                .add(POST, "/sandboxes/{sandboxID}/snapshots", notYet("sandbox snapshots"));
    }

    private static Endpoint notYet(String what) {
        return r -> {
            throw HttpError.notImplemented(what + " (" + r.method() + " " + r.path()
                    + ") is not implemented in sandboxd yet");
        };
    }

    private RestResponse create(RestRequest r, boolean v2) {
        CreateSandbox request = CreateSandboxBody.parse(r.json(), v2);
        return RestResponse.json(201, SandboxJson.sandbox(service.create(r.requireTeam(), request)));
    }

    private RestResponse listV1(RestRequest r) {
        SandboxQuery q = new SandboxQuery(EnumSet.of(SandboxState.RUNNING),
                MetadataFilter.parse(r.queryParam("metadata")), null, null, SandboxQuery.Order.DESCENDING,
                SandboxQuery.UNLIMITED, null);
        return RestResponse.json(200, listed(service.list(r.requireTeam(), q).sandboxes()));
    }

    private RestResponse listV2(RestRequest r) {
        int limit = intParam(r, "limit", MAX_PAGE, 1, MAX_PAGE);
        SandboxQuery q = new SandboxQuery(states(r.queryParam("state")),
                MetadataFilter.parse(r.queryParam("metadata")), emptyToNull(r.queryParam("template")),
                startedAfter(r.queryParam("startedAfter")), order(r.queryParam("order")), limit,
                emptyToNull(r.queryParam("nextToken")));
        SandboxPage page = service.list(r.requireTeam(), q);
        RestResponse response = RestResponse.json(200, listed(page.sandboxes()));
        return page.nextToken() == null ? response : response.withHeader(NEXT_TOKEN_HEADER, page.nextToken());
    }

    private RestResponse get(RestRequest r) {
        return RestResponse.json(200, SandboxJson.detail(service.get(r.requireTeam(), sandboxId(r))));
    }

    private RestResponse updateNetwork(RestRequest r) {
        service.updateNetwork(r.requireTeam(), sandboxId(r), NetworkBody.update(r.json()));
        return RestResponse.noContent();
    }

    private RestResponse kill(RestRequest r) {
        service.kill(r.requireTeam(), sandboxId(r));
        return RestResponse.noContent();
    }

    private RestResponse setTimeout(RestRequest r) {
        Long seconds = JsonFields.of(r.json(), false).integer("timeout");
        if (seconds == null) {
            throw HttpError.badRequest("Field 'timeout' is required");
        }
        if (seconds < 0 || seconds > CreateSandboxBody.MAX_TIMEOUT_SECONDS) {
            throw HttpError.badRequest("Field 'timeout' must be between 0 and "
                    + CreateSandboxBody.MAX_TIMEOUT_SECONDS + " seconds, got " + seconds);
        }
        service.setTimeout(r.requireTeam(), sandboxId(r), Duration.ofSeconds(seconds));
        return RestResponse.noContent();
    }

    private RestResponse refresh(RestRequest r) {
        Long seconds = JsonFields.of(r.json(), true).integer("duration");
        if (seconds != null && (seconds < 0 || seconds > MAX_REFRESH_SECONDS)) {
            throw HttpError.badRequest("Field 'duration' must be between 0 and " + MAX_REFRESH_SECONDS
                    + " seconds, got " + seconds);
        }
        service.refresh(r.requireTeam(), sandboxId(r), seconds == null ? null : Duration.ofSeconds(seconds));
        return RestResponse.noContent();
    }

    private RestResponse connect(RestRequest r, boolean v2) {
        JsonFields body = JsonFields.of(r.json(), v2);
        Long seconds = body.integer("timeout");
        Duration timeout;
        if (seconds == null) {
            if (!v2) {
                throw HttpError.badRequest("Field 'timeout' is required");
            }
            timeout = CreateSandboxBody.V2_DEFAULT_TIMEOUT;
        } else {
            timeout = CreateSandboxBody.positiveTimeout(seconds, "timeout");
        }
        boolean memory = body.bool("memory", true);
        Connected c = service.connect(r.requireTeam(), sandboxId(r), timeout, memory);
        return RestResponse.json(c.resumed() ? 201 : 200, SandboxJson.sandbox(c.sandbox()));
    }

    private RestResponse resume(RestRequest r) {
        JsonFields body = JsonFields.of(r.json(), true);
        Long seconds = body.integer("timeout");
        Duration timeout = seconds == null ? CreateSandboxBody.V1_DEFAULT_TIMEOUT
                : CreateSandboxBody.positiveTimeout(seconds, "timeout");
        Sandbox s = service.resume(r.requireTeam(), sandboxId(r), timeout, body.bool("autoPause", false));
        return RestResponse.json(201, SandboxJson.sandbox(s));
    }

    private RestResponse pause(RestRequest r) {
        boolean memory = JsonFields.of(r.json(), true).bool("memory", true);
        service.pause(r.requireTeam(), sandboxId(r), memory);
        return RestResponse.noContent();
    }

    private RestResponse metrics(RestRequest r) {
        Instant start = unixSeconds(r, "start");
        Instant end = unixSeconds(r, "end");
        if (start != null && end != null && end.isBefore(start)) {
            throw HttpError.badRequest("Query parameter 'end' must not be before 'start'");
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (SandboxMetric m : service.metrics(r.requireTeam(), sandboxId(r), start, end)) {
            out.add(SandboxJson.metric(m));
        }
        return RestResponse.json(200, out);
    }

    /** The latest sample of each listed sandbox; sandboxes that do not exist (any more) are left out. */
    private RestResponse bulkMetrics(RestRequest r) {
        String ids = r.queryParam("sandbox_ids");
        if (ids == null || ids.isBlank()) {
            throw HttpError.badRequest("Query parameter 'sandbox_ids' is required (comma-separated sandbox IDs)");
        }
        Set<String> wanted = new LinkedHashSet<>(List.of(ids.split(",")));
        if (wanted.size() > MAX_PAGE) {
            throw HttpError.badRequest("At most " + MAX_PAGE + " sandbox IDs per request");
        }
        ObjectNode body = Json.object();
        ObjectNode sandboxes = body.putObject("sandboxes");
        for (String raw : wanted) {
            String id = raw.strip();
            if (!SANDBOX_ID.matcher(id).matches()) {
                throw HttpError.badRequest("Invalid sandbox ID '" + id + "' in 'sandbox_ids'");
            }
            try {
                List<SandboxMetric> samples = service.metrics(r.requireTeam(), id, null, null);
                if (!samples.isEmpty()) {
                    sandboxes.set(id, SandboxJson.metric(samples.getLast()));
                }
            } catch (SandboxException e) {
                if (e.reason() != SandboxException.Reason.NOT_FOUND) {
                    throw e;
                }
            }
        }
        return RestResponse.json(200, body);
    }

    /** v1 logs (CLI): {@code start} in unix milliseconds, oldest first, both the line and the entry shapes. */
    private RestResponse logsV1(RestRequest r) {
        int limit = intParam(r, "limit", MAX_LOG_LIMIT, 0, MAX_LOG_LIMIT);
        Instant start = unixMillis(r, "start");
        List<LogEntry> entries = limit == 0 ? List.of() : service.logs(r.requireTeam(), sandboxId(r),
                new LogQuery(start, limit, LogQuery.Direction.FORWARD, null, null));
        ObjectNode body = Json.object();
        ArrayNode lines = body.putArray("logs");
        ArrayNode structured = body.putArray("logEntries");
        for (LogEntry e : entries) {
            lines.add(SandboxJson.logLine(e));
            structured.add(SandboxJson.logEntry(e));
        }
        return RestResponse.json(200, body);
    }

    private RestResponse logsV2(RestRequest r) {
        int limit = intParam(r, "limit", MAX_LOG_LIMIT, 0, MAX_LOG_LIMIT);
        Instant cursor = unixMillis(r, "cursor");
        String dir = r.queryParam("direction");
        LogQuery.Direction direction = switch (dir == null ? "forward" : dir) {
            case "forward" -> LogQuery.Direction.FORWARD;
            case "backward" -> LogQuery.Direction.BACKWARD;
            default -> throw HttpError.badRequest("Query parameter 'direction' must be 'forward' or 'backward'");
        };
        String levelParam = r.queryParam("level");
        LogLevel level = levelParam == null ? null : LogLevel.fromWire(levelParam);
        if (levelParam != null && level == null) {
            throw HttpError.badRequest("Query parameter 'level' must be one of debug, info, warn, error");
        }
        List<LogEntry> entries = limit == 0 ? List.of() : service.logs(r.requireTeam(), sandboxId(r),
                new LogQuery(cursor, limit, direction, level, emptyToNull(r.queryParam("search"))));
        ObjectNode body = Json.object();
        ArrayNode logs = body.putArray("logs");
        entries.forEach(e -> logs.add(SandboxJson.logEntry(e)));
        return RestResponse.json(200, body);
    }

    /**
     * The sandbox ID of the path. Old SDKs append {@code -<clientID>}; that suffix is dropped as upstream does. An ID
     * that cannot exist answers 404 like an unknown one, so the SDK's "not found" handling applies.
     */
    static String sandboxId(RestRequest r) {
        String raw = r.pathParam("sandboxID");
        int dash = raw.indexOf('-');
        String id = dash < 0 ? raw : raw.substring(0, dash);
        if (!SANDBOX_ID.matcher(id).matches()) {
            throw HttpError.notFound("sandbox \"" + raw + "\" doesn't exist or you don't have access to it");
        }
        return id;
    }

    private static ArrayNode listed(List<SandboxDetail> sandboxes) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        sandboxes.forEach(d -> out.add(SandboxJson.listed(d)));
        return out;
    }

    private static Set<SandboxState> states(String param) {
        if (param == null || param.isEmpty()) {
            return EnumSet.allOf(SandboxState.class);
        }
        Set<SandboxState> states = EnumSet.noneOf(SandboxState.class);
        for (String s : param.split(",")) {
            SandboxState state = SandboxState.fromWire(s.strip());
            if (state == null) {
                throw HttpError.badRequest("Query parameter 'state' must be a comma-separated list of running, paused;"
                        + " got '" + s + "'");
            }
            states.add(state);
        }
        if (states.isEmpty()) {
            throw HttpError.badRequest("Query parameter 'state' must name at least one of running, paused; got '"
                    + param + "'");
        }
        return states;
    }

    private static SandboxQuery.Order order(String param) {
        return switch (param == null ? "desc" : param) {
            case "desc" -> SandboxQuery.Order.DESCENDING;
            case "asc" -> SandboxQuery.Order.ASCENDING;
            default -> throw HttpError.badRequest("Query parameter 'order' must be 'asc' or 'desc'");
        };
    }

    private static Instant startedAfter(String param) {
        if (param == null || param.isEmpty()) {
            return null;
        }
        try {
            return OffsetDateTime.parse(param).toInstant();
        } catch (DateTimeParseException e) {
            throw HttpError.badRequest("Query parameter 'startedAfter' must be an RFC 3339 time such as "
                    + "2025-01-02T15:04:05Z, got '" + param + "'");
        }
    }

    static int intParam(RestRequest r, String name, int fallback, int min, int max) {
        String v = r.queryParam(name);
        if (v == null || v.isEmpty()) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw HttpError.badRequest("Query parameter '" + name + "' must be an integer in " + min + ".." + max
                + ", got '" + v + "'");
    }

    private static Instant unixSeconds(RestRequest r, String name) {
        Long v = longParam(r, name);
        return v == null ? null : Instant.ofEpochSecond(v);
    }

    private static Instant unixMillis(RestRequest r, String name) {
        Long v = longParam(r, name);
        return v == null ? null : Instant.ofEpochMilli(v);
    }

    private static Long longParam(RestRequest r, String name) {
        String v = r.queryParam(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        try {
            long n = Long.parseLong(v);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw HttpError.badRequest("Query parameter '" + name + "' must be a non-negative integer, got '" + v + "'");
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

}
