package io.sandboxd.api.team;

import static io.netty.handler.codec.http.HttpMethod.DELETE;
import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.PATCH;
import static io.netty.handler.codec.http.HttpMethod.POST;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.JsonFields;
import io.sandboxd.api.http.RestRequest;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * The team and credential endpoints of E2B's API: {@code GET /teams} (what {@code e2b auth login} reads to pick a
 * team and its API key), {@code /api-keys} and {@code /access-tokens}. They take the user's credential, an access
 * token ({@code Authorization: Bearer sk_e2b_…}); an API key cannot mint or revoke credentials, as upstream.
 */
public final class TeamEndpoints {
    static final int MAX_NAME = 200;

    private final TeamKeys keys;

    public TeamEndpoints(TeamKeys keys) {
        this.keys = keys;
    }

    public void register(Router router) {
        Router.Access user = Router.Access.USER;
        router.add(GET, "/teams", user, this::teams)
                .add(GET, "/api-keys", user, this::listApiKeys)
                .add(POST, "/api-keys", user, this::createApiKey)
                .add(PATCH, "/api-keys/{apiKeyID}", user, this::renameApiKey)
                .add(DELETE, "/api-keys/{apiKeyID}", user, this::revokeApiKey)
                .add(POST, "/access-tokens", user, this::createAccessToken)
                .add(DELETE, "/access-tokens/{accessTokenID}", user, this::revokeAccessToken);
    }

    /** One team per access token here: the token's team, which is therefore the default one. */
    private RestResponse teams(RestRequest r) {
        Team team = r.requireTeam();
        String apiKey;
        try {
            apiKey = keys.apiKeyForAccessToken(team, r.bearerToken());
        } catch (TeamKeys.RevokedKeyException e) {
            throw new HttpError(409, e.getMessage());
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        out.addObject().put("teamID", team.id()).put("name", team.name()).put("apiKey", apiKey)
                .put("isDefault", true);
        return RestResponse.json(200, out);
    }

    private RestResponse listApiKeys(RestRequest r) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        keys.apiKeys(r.requireTeam()).forEach(k -> out.add(view(k)));
        return RestResponse.json(200, out);
    }

    private RestResponse createApiKey(RestRequest r) {
        TeamKeys.Created created = keys.createApiKey(r.requireTeam(), name(r));
        ObjectNode n = view(created.info());
        n.put("key", created.value());
        return RestResponse.json(201, n);
    }

    private RestResponse renameApiKey(RestRequest r) {
        UUID id = id(r, "apiKeyID", "API key");
        if (!keys.renameApiKey(r.requireTeam(), id, name(r))) {
            throw notFound("API key", id);
        }
        return new RestResponse(200, null, Map.of());
    }

    private RestResponse revokeApiKey(RestRequest r) {
        UUID id = id(r, "apiKeyID", "API key");
        if (!keys.revokeApiKey(r.requireTeam(), id)) {
            throw notFound("API key", id);
        }
        return RestResponse.noContent();
    }

    private RestResponse createAccessToken(RestRequest r) {
        TeamKeys.Created created = keys.createAccessToken(r.requireTeam(), name(r));
        ObjectNode n = Json.object();
        n.put("id", created.info().id().toString());
        n.put("name", created.info().name());
        n.put("token", created.value());
        n.set("mask", mask(created.info().mask()));
        n.put("createdAt", created.info().createdAt().toString());
        return RestResponse.json(201, n);
    }

    private RestResponse revokeAccessToken(RestRequest r) {
        UUID id = id(r, "accessTokenID", "access token");
        if (!keys.revokeAccessToken(r.requireTeam(), id)) {
            throw notFound("access token", id);
        }
        return RestResponse.noContent();
    }

    private static ObjectNode view(TeamKeys.KeyView k) {
        ObjectNode n = Json.object();
        n.put("id", k.id().toString());
        n.put("name", k.name());
        n.set("mask", mask(k.mask()));
        n.put("createdAt", k.createdAt().toString());
        n.putNull("createdBy"); // keys belong to a team here, not to a dashboard user
        putTime(n, "lastUsed", k.lastUsedAt());
        return n;
    }

    private static ObjectNode mask(KeyMask m) {
        ObjectNode n = Json.object();
        n.put("prefix", m.prefix());
        n.put("valueLength", m.valueLength());
        n.put("maskedValuePrefix", m.maskedValuePrefix());
        n.put("maskedValueSuffix", m.maskedValueSuffix());
        return n;
    }

    private static void putTime(ObjectNode n, String field, Instant t) {
        if (t == null) {
            n.putNull(field);
        } else {
            n.put(field, t.toString());
        }
    }

    private static String name(RestRequest r) {
        String name = JsonFields.of(r.json(), false).string("name", null);
        if (name == null || name.isBlank()) {
            throw HttpError.badRequest("Field 'name' is required and must not be blank");
        }
        if (name.length() > MAX_NAME || name.chars().anyMatch(Character::isISOControl)) {
            throw HttpError.badRequest("Field 'name' must be at most " + MAX_NAME
                    + " characters without control characters");
        }
        return name.strip();
    }

    /** A malformed id names no credential: 404 like an unknown one. */
    private static UUID id(RestRequest r, String param, String what) {
        String raw = r.pathParam(param);
        try {
            UUID id = UUID.fromString(raw);
            if (id.toString().equals(raw.toLowerCase(java.util.Locale.ROOT))) {
                return id;
            }
        } catch (IllegalArgumentException e) {
            // falls through to the 404
        }
        throw HttpError.notFound(what + " \"" + raw + "\" doesn't exist");
    }

    private static HttpError notFound(String what, UUID id) {
        return HttpError.notFound(what + " \"" + id + "\" doesn't exist");
    }
}
