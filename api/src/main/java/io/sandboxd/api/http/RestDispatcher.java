package io.sandboxd.api.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.SandboxException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

    private final Router router;
    private final ApiKeyStore keys;

    public RestDispatcher(Router router, ApiKeyStore keys) {
        this.router = router;
        this.keys = keys;
    }

    public RestResponse dispatch(HttpMethod method, String uri, HttpHeaders headers, byte[] body) {
        try {
            return route(method, uri, headers, body);
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

    private RestResponse route(HttpMethod method, String uri, HttpHeaders headers, byte[] body) throws Exception {
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
                RestRequest request = new RestRequest(method, rawPath, Map.copyOf(params), query, headers, body, null);
                if (route.access() == Router.Access.AUTHENTICATED) {
                    request = request.withTeam(authenticate(headers));
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
        String apiKey = headers.get(API_KEY_HEADER);
        if (apiKey != null) {
            if (!KeyHash.API_KEY.matches(apiKey)) {
                throw HttpError.unauthorized("Invalid API key format: it must be e2b_ followed by lowercase hex");
            }
            return require(keys.authenticateApiKey(apiKey), "Invalid API key");
        }
        String authorization = headers.get("Authorization");
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String token = authorization.substring(7).strip();
            if (!KeyHash.ACCESS_TOKEN.matches(token)) {
                throw HttpError.unauthorized("Invalid access token format: it must be sk_e2b_ followed by lowercase hex");
            }
            return require(keys.authenticateAccessToken(token), "Invalid access token");
        }
        throw HttpError.unauthorized("Missing API key: send it in the X-API-KEY header (E2B_API_KEY in the SDKs)");
    }

    private static Team require(Optional<Team> team, String message) {
        return team.orElseThrow(() -> HttpError.unauthorized(message));
    }
}
