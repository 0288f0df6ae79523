package io.sandboxd.api.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.metrics.ApiMetrics;
import io.sandboxd.api.sandbox.SandboxException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * Turns one raw request into a response: route, authenticate, call the endpoint, and map every failure to the JSON
 * error body. Independent of Netty's channel so it can run on any worker thread (and be tested directly).
 */
public final class RestDispatcher {
    private static final Logger LOG = Logger.getLogger(RestDispatcher.class.getName());
    static final String API_KEY_HEADER = "X-API-KEY";
    /** The route label of a request no route matched (a made-up path must not become a series of its own). */
    public static final String UNMATCHED = "unmatched";
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

    private final Router router;
    private final ApiKeyStore keys;
    private final ApiMetrics metrics;

    public RestDispatcher(Router router, ApiKeyStore keys) {
        this(router, keys, ApiMetrics.NONE);
    }

    public RestDispatcher(Router router, ApiKeyStore keys, ApiMetrics metrics) {
        this.router = router;
        this.keys = keys;
        this.metrics = metrics;
    }

    /** Which route a request matched, set as soon as it is known so that a failing endpoint is counted under it. */
    private static final class RouteClass {
        String template = UNMATCHED;
    }

    public RestResponse dispatch(HttpMethod method, String uri, HttpHeaders headers, byte[] body) {
        RouteClass route = new RouteClass();
        RestResponse response = answer(method, uri, headers, body, route);
        metrics.requestServed(METHODS.contains(method.name()) ? method.name() : "OTHER", route.template,
                response.status());
        return response;
    }

    private RestResponse answer(HttpMethod method, String uri, HttpHeaders headers, byte[] body, RouteClass routeClass) {
        try {
            return route(method, uri, headers, body, routeClass);
        } catch (HttpError e) {
            return RestResponse.error(e.status(), e.getMessage());
        } catch (SandboxException e) {
            return RestResponse.error(e.reason().status(), e.getMessage());
        } catch (Exception e) {
            LOG.log(Level.WARNING, method + " " + uri + " failed", e);
            return RestResponse.error(500, "Internal error: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
    }

    private RestResponse route(HttpMethod method, String uri, HttpHeaders headers, byte[] body, RouteClass routeClass)
            throws Exception {
        int q = uri.indexOf('?');
        String rawPath = q < 0 ? uri : uri.substring(0, q);
        List<String> segments = PathSegments.of(rawPath);
        Map<String, List<String>> query = q < 0 ? Map.of()
                : new QueryStringDecoder(uri.substring(q), StandardCharsets.UTF_8, true).parameters();
        return switch (router.match(method, segments)) {
            case Router.Match.NoRoute() -> RestResponse.error(404, "No API route " + method + " " + rawPath);
            case Router.Match.MethodNotAllowed(var allowed) ->
                    RestResponse.error(405, "Method " + method + " is not allowed on " + rawPath + " (allowed: "
                            + allowed.stream().map(HttpMethod::name).collect(Collectors.joining(", ")) + ")")
                            .withHeader("Allow", allowed.stream().map(HttpMethod::name)
                                    .collect(Collectors.joining(", ")));
            case Router.Match.Found(var route, var params) -> {
                routeClass.template = route.template();
                RestRequest request = new RestRequest(method, rawPath, Map.copyOf(params), query, headers, body, null);
                switch (route.access()) {
                    case AUTHENTICATED -> request = request.withTeam(authenticate(headers));
                    case USER -> request = request.withTeam(authenticateUser(headers));
                    case PUBLIC -> { }
                }
                yield route.endpoint().handle(request);
            }
        };
    }

    /**
     * {@code X-API-KEY: e2b_…} first; SDK ≤ 2.39 and the CLI may send {@code Authorization: Bearer sk_e2b_…}
     * instead. A malformed credential is refused without a store lookup.
     */
    private Team authenticate(HttpHeaders headers) {
        for (String name : List.of(API_KEY_HEADER, "Authorization")) {
            if (headers.getAll(name).size() > 1) {
                // Two credentials: which one a proxy on the way would honour is anybody's guess, so neither is.
                throw HttpError.unauthorized(name + " is given more than once");
            }
        }
        String apiKey = headers.get(API_KEY_HEADER);
        if (apiKey != null) {
            if (!KeyHash.API_KEY.matches(apiKey)) {
                throw HttpError.unauthorized("Invalid API key format: it must be e2b_ followed by lowercase hex");
            }
            return require(keys.authenticateApiKey(apiKey), "Invalid API key");
        }
        Team byToken = accessToken(headers);
        if (byToken != null) {
            return byToken;
        }
        throw HttpError.unauthorized("Missing API key: send it in the X-API-KEY header (E2B_API_KEY in the SDKs)");
    }

    /** The credential endpoints take the user's access token only, whatever else the request carries. */
    private Team authenticateUser(HttpHeaders headers) {
        if (headers.getAll("Authorization").size() > 1) {
            throw HttpError.unauthorized("Authorization is given more than once");
        }
        Team byToken = accessToken(headers);
        if (byToken != null) {
            return byToken;
        }
        throw HttpError.unauthorized("This endpoint takes an access token (sk_e2b_…, from 'sandboxd keys create "
                + "--access-token') as 'Authorization: Bearer <token>'; an API key cannot manage credentials");
    }

    /** The team of the request's bearer access token; null when it carries none. */
    private Team accessToken(HttpHeaders headers) {
        String authorization = headers.get("Authorization");
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        String token = authorization.substring(7).strip();
        if (!KeyHash.ACCESS_TOKEN.matches(token)) {
            throw HttpError.unauthorized("Invalid access token format: it must be sk_e2b_ followed by lowercase hex");
        }
        return require(keys.authenticateAccessToken(token), "Invalid access token");
    }

    private static Team require(Optional<Team> team, String message) {
        return team.orElseThrow(() -> HttpError.unauthorized(message));
    }
}
