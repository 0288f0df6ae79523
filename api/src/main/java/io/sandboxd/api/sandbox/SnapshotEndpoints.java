package io.sandboxd.api.sandbox;

import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.POST;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.JsonFields;
import io.sandboxd.api.http.RestRequest;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code POST /sandboxes/{id}/snapshots}, {@code GET /snapshots} and {@code POST /sandboxes/{id}/fork}, as SDK 2.51
 * sends them. A fork's 201 lists one entry per requested sandbox, each with {@code sandbox} or {@code error}.
 */
public final class SnapshotEndpoints {
    static final int MAX_FORKS = 16;
    static final int DEFAULT_FORK_TIMEOUT_SECONDS = 15;
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,127}");

    private final SnapshotService service;

    public SnapshotEndpoints(SnapshotService service) {
        this.service = service;
    }

    public void register(Router router) {
        router.add(POST, "/sandboxes/{sandboxID}/snapshots", this::create)
                .add(GET, "/snapshots", this::list)
                .add(POST, "/sandboxes/{sandboxID}/fork", this::fork);
    }

    private RestResponse create(RestRequest r) {
        String name = JsonFields.of(r.json(), true).string("name", null);
        if (name != null && !name.isEmpty()) {
            String bare = name.endsWith(":default") ? name.substring(0, name.length() - ":default".length()) : name;
            if (bare.contains(":")) {
                throw HttpError.badRequest("snapshot name '" + name + "': sandboxd keeps only the 'default' tag");
            }
            if (!NAME.matcher(bare).matches()) {
                throw HttpError.badRequest("snapshot name '" + name + "' must be 1-128 of [a-z0-9._-], starting with a"
                        + " letter or digit");
            }
            name = bare;
        } else {
            name = null;
        }
        return RestResponse.json(201, info(service.create(r.requireTeam(), SandboxEndpoints.sandboxId(r), name)));
    }

    private RestResponse list(RestRequest r) {
        int limit = SandboxEndpoints.intParam(r, "limit", SandboxEndpoints.MAX_PAGE, 1, SandboxEndpoints.MAX_PAGE);
        String sandboxId = emptyToNull(r.queryParam("sandboxID"));
        String name = emptyToNull(r.queryParam("name"));
        String after = emptyToNull(r.queryParam("nextToken"));
        List<SnapshotService.SnapshotInfo> all = service.list(r.requireTeam(), sandboxId, name);
        int from = 0;
        if (after != null) {
            from = -1;
            for (int i = 0; i < all.size(); i++) {
                if (all.get(i).snapshotId().equals(after)) {
                    from = i + 1;
                }
            }
            if (from < 0) {
                throw HttpError.badRequest("nextToken '" + after + "' names no snapshot of this listing");
            }
        }
        List<SnapshotService.SnapshotInfo> page = all.subList(from, Math.min(all.size(), from + limit));
        ArrayNode out = Json.MAPPER.createArrayNode();
        page.forEach(s -> out.add(info(s)));
        RestResponse response = RestResponse.json(200, out);
        return from + limit < all.size() && !page.isEmpty()
                ? response.withHeader(SandboxEndpoints.NEXT_TOKEN_HEADER, page.getLast().snapshotId()) : response;
    }

    private RestResponse fork(RestRequest r) {
        JsonFields body = JsonFields.of(r.json(), true);
        Long count = body.integer("count");
        Long timeout = body.integer("timeout");
        if (count != null && (count < 1 || count > MAX_FORKS)) {
            throw HttpError.badRequest("Field 'count' must be between 1 and " + MAX_FORKS + ", got " + count);
        }
        if (timeout != null && (timeout < 1 || timeout > CreateSandboxBody.MAX_TIMEOUT_SECONDS)) {
            throw HttpError.badRequest("Field 'timeout' must be between 1 and " + CreateSandboxBody.MAX_TIMEOUT_SECONDS
                    + " seconds, got " + timeout);
        }
        List<SnapshotService.ForkResult> results = service.fork(r.requireTeam(), SandboxEndpoints.sandboxId(r),
                count == null ? 1 : count.intValue(),
                Duration.ofSeconds(timeout == null ? DEFAULT_FORK_TIMEOUT_SECONDS : timeout));
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (SnapshotService.ForkResult f : results) {
            ObjectNode n = Json.object();
            if (f.sandbox() != null) {
                n.set("sandbox", SandboxJson.sandbox(f.sandbox()));
            } else {
                n.set("error", Json.error(f.error().reason().status(), f.error().getMessage()));
            }
            out.add(n);
        }
        return RestResponse.json(201, out);
    }

    private static ObjectNode info(SnapshotService.SnapshotInfo s) {
        ObjectNode n = Json.object();
        n.put("snapshotID", s.snapshotId());
        ArrayNode names = n.putArray("names");
        s.names().forEach(names::add);
        return n;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
