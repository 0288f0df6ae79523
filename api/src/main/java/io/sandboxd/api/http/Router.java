package io.sandboxd.api.http;

import io.netty.handler.codec.http.HttpMethod;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Method + path-template routing over decoded path segments. Templates look like {@code /sandboxes/{sandboxID}/pause};
 * a trailing {@code **} matches any rest (used for whole API areas that answer 501). Routes are tried in the order
 * they were added, so literal routes ({@code /sandboxes/metrics}) go before parameter routes
 * ({@code /sandboxes/{sandboxID}}).
 */
public final class Router {
    /** Whether a route needs credentials: public routes (health) skip authentication. */
    /**
     * Who may call a route: a team's API key (or, as SDK ≤ 2.39 and the CLI send it, an access token); a user's
     * access token only (the credential endpoints: an API key cannot mint or revoke keys); anyone.
     */
    public enum Access { AUTHENTICATED, USER, PUBLIC }

    public record Route(HttpMethod method, String template, List<String> pattern, Access access, Endpoint endpoint) {}

    /** The outcome of matching one request. */
    public sealed interface Match {
        record Found(Route route, Map<String, String> params) implements Match {}

        record MethodNotAllowed(Set<HttpMethod> allowed) implements Match {}

        record NoRoute() implements Match {}
    }

    private final List<Route> routes = new ArrayList<>();

    public Router add(HttpMethod method, String template, Access access, Endpoint endpoint) {
        List<String> pattern = List.of(template.substring(1).split("/"));
        int wildcard = pattern.indexOf("**");
        if (wildcard >= 0 && wildcard != pattern.size() - 1) {
            throw new IllegalArgumentException("** must be the last segment of " + template);
        }
        routes.add(new Route(method, template, pattern, access, endpoint));
        return this;
    }

    public Router add(HttpMethod method, String template, Endpoint endpoint) {
        return add(method, template, Access.AUTHENTICATED, endpoint);
    }

    /** Adds a route for every method on {@code prefix} and everything under it. */
    public Router addArea(String prefix, Endpoint endpoint) {
        for (HttpMethod m : List.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH,
                HttpMethod.DELETE)) {
            add(m, prefix + "/**", endpoint);
        }
        return this;
    }

    public Match match(HttpMethod method, List<String> segments) {
        Set<HttpMethod> allowed = new LinkedHashSet<>();
        for (Route route : routes) {
            Map<String, String> params = bind(route.pattern(), segments);
            if (params == null) {
                continue;
            }
            if (route.method().equals(method)) {
                return new Match.Found(route, params);
            }
            allowed.add(route.method());
        }
        return allowed.isEmpty() ? new Match.NoRoute() : new Match.MethodNotAllowed(allowed);
    }

    private static Map<String, String> bind(List<String> pattern, List<String> segments) {
        boolean wildcard = !pattern.isEmpty() && pattern.getLast().equals("**");
        int fixed = wildcard ? pattern.size() - 1 : pattern.size();
        if (wildcard ? segments.size() < fixed : segments.size() != fixed) {
            return null;
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (int i = 0; i < fixed; i++) {
            String p = pattern.get(i);
            String s = segments.get(i);
            if (p.startsWith("{") && p.endsWith("}")) {
                params.put(p.substring(1, p.length() - 1), s);
            } else if (!p.equals(s)) {
                return null;
            }
        }
        return params;
    }
}
