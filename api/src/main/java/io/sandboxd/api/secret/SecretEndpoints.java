package io.sandboxd.api.secret;

import static io.netty.handler.codec.http.HttpMethod.DELETE;
import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.POST;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.JsonFields;
import io.sandboxd.api.http.RestRequest;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import java.util.Map;

/**
 * The team secret endpoints the SDK's {@code Secret} calls (API-key auth): {@code POST /secrets} (create, 201),
 * {@code GET /secrets?limit=&nextToken=} (list, next page in {@code X-Next-Token}), {@code GET /secrets/{secretID}}
 * (by ID or name), {@code POST /secrets/{secretID}} (update: a new version, 200) and {@code DELETE} (204). Every
 * answer is the secret's metadata; the value goes in only. Messages never quote a request body, since it carries
 * a value.
 */
public final class SecretEndpoints {
    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 100;

    private final SecretService service;

    public SecretEndpoints(SecretService service) {
        this.service = service;
    }

    public void register(Router router) {
        router.add(POST, "/secrets", this::create)
                .add(GET, "/secrets", this::list)
                .add(GET, "/secrets/{secretID}", this::get)
                .add(POST, "/secrets/{secretID}", this::update)
                .add(DELETE, "/secrets/{secretID}", this::destroy);
    }

    private RestResponse create(RestRequest r) {
        JsonFields body = body(r);
        String name = body.string("name", null);
        if (name == null) {
            throw HttpError.badRequest("Field 'name' is required");
        }
        String value = value(body);
        return RestResponse.json(201, json(service.create(r.requireTeam(), name, value, metadata(body))));
    }

    private RestResponse update(RestRequest r) {
        JsonFields body = body(r);
        String value = value(body);
        Map<String, String> metadata = body.has("metadata") ? metadata(body) : null;
        return RestResponse.json(200, json(service.update(r.requireTeam(), r.pathParam("secretID"), value, metadata)));
    }

    private RestResponse get(RestRequest r) {
        return RestResponse.json(200, json(service.get(r.requireTeam(), r.pathParam("secretID"))));
    }

    private RestResponse list(RestRequest r) {
        int limit = DEFAULT_LIMIT;
        String raw = r.queryParam("limit");
        if (raw != null) {
            try {
                limit = Integer.parseInt(raw);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                throw HttpError.badRequest("Query parameter 'limit' must be an integer from 1 to " + MAX_LIMIT);
            }
        }
        String token = r.queryParam("nextToken");
        SecretService.Page page = service.list(r.requireTeam(), limit, token == null || token.isEmpty() ? null : token);
        ArrayNode out = Json.MAPPER.createArrayNode();
        page.secrets().forEach(s -> out.add(json(s)));
        RestResponse response = RestResponse.json(200, out);
        return page.nextToken() == null ? response : response.withHeader("X-Next-Token", page.nextToken());
    }

    private RestResponse destroy(RestRequest r) {
        service.destroy(r.requireTeam(), r.pathParam("secretID"));
        return RestResponse.noContent();
    }

    /** The body as an object; a parse error's details are left out because they can quote the value. */
    private static JsonFields body(RestRequest r) {
        JsonNode tree;
        try {
            tree = r.json();
        } catch (HttpError e) {
            if (e.status() != 400) {
                throw e;
            }
            throw HttpError.badRequest("Request body is not valid JSON (details are left out: the body carries a "
                    + "secret value)");
        }
        return JsonFields.of(tree, false);
    }

    private static String value(JsonFields body) {
        String value = body.string("value", null);
        if (value == null) {
            throw HttpError.badRequest("Field 'value' is required");
        }
        return value;
    }

    private static Map<String, String> metadata(JsonFields body) {
        return body.stringMap("metadata");
    }

    static ObjectNode json(SecretInfo s) {
        ObjectNode n = Json.object();
        n.put("secretID", s.secretId());
        n.put("name", s.name());
        n.put("currentVersion", s.currentVersion());
        ObjectNode m = n.putObject("metadata");
        s.metadata().forEach(m::put);
        n.put("createdAt", s.createdAt().toString());
        n.put("updatedAt", s.updatedAt().toString());
        return n;
    }
}
