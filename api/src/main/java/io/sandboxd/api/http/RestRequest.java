package io.sandboxd.api.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.sandboxd.api.auth.Team;
import java.util.List;
import java.util.Map;

/**
 * One API request as the endpoints see it: decoded path parameters and query parameters, the headers, the whole
 * body (API bodies are small JSON documents, aggregated up to a limit before dispatch) and, on authenticated routes,
 * the team the credentials belong to.
 */
public record RestRequest(HttpMethod method, String path, Map<String, String> pathParams,
                          Map<String, List<String>> query, HttpHeaders headers, byte[] body, Team team) {

    /** The authenticated team; only authenticated routes call this. */
    public Team requireTeam() {
        if (team == null) {
            throw new IllegalStateException("route " + path + " is not authenticated");
        }
        return team;
    }

    public String pathParam(String name) {
        String value = pathParams.get(name);
        if (value == null) {
            throw new IllegalStateException("route has no path parameter {" + name + "}");
        }
        return value;
    }

    /** The single value of a query parameter, or null when absent; repeated parameters are a client error. */
    public String queryParam(String name) {
        List<String> values = query.get(name);
        if (values == null || values.isEmpty()) {
            return null;
        }
        if (values.size() > 1) {
            throw HttpError.badRequest("Query parameter '" + name + "' is given more than once");
        }
        return values.getFirst();
    }

    /**
     * The body as JSON, or null when the body is empty. A body sent with a Content-Type other than JSON is refused
     * (415) rather than parsed as JSON anyway; a body without a Content-Type is read as JSON.
     */
    public JsonNode json() {
        String type = headers.get(HttpHeaderNames.CONTENT_TYPE);
        if (body.length > 0 && type != null) {
            String media = type.split(";", 2)[0].strip();
            if (!media.equalsIgnoreCase("application/json")) {
                throw new HttpError(415, "Content-Type '" + type + "' is not supported: send the body as "
                        + "application/json");
            }
        }
        return Json.parse(body);
    }

    /**
     * The access token of a {@link Router.Access#USER} route's request ({@code Authorization: Bearer sk_e2b_…}),
     * already checked by the dispatcher.
     */
    public String bearerToken() {
        String authorization = headers.get("Authorization");
        if (team == null || authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new IllegalStateException("route " + path + " is not authenticated by an access token");
        }
        return authorization.substring(7).strip();
    }

    RestRequest withPathParams(Map<String, String> params) {
        return new RestRequest(method, path, params, query, headers, body, team);
    }

    RestRequest withTeam(Team authenticated) {
        return new RestRequest(method, path, pathParams, query, headers, body, authenticated);
    }
}
