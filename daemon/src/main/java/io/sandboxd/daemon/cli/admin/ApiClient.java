package io.sandboxd.daemon.cli.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.Optional;

/**
 * The daemon's E2B REST API as the admin commands use it: JSON in and out over {@code java.net.http}, the key in
 * {@code X-API-KEY} as the SDKs send it, and every way a call can fail turned into an {@link AdminException} with
 * the exit code of its kind (unreachable, auth, not found, refused, not implemented, server error).
 */
public final class ApiClient {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String USER_AGENT = "sandboxd-cli/" + Optional.ofNullable(ApiClient.class.getPackage().getImplementationVersion())
            .orElse("dev");

    private final URI base;
    private final String apiKey;
    private final Duration timeout;
    private final HttpClient http;

    ApiClient(URI base, String apiKey, Duration timeout) {
        this.base = base;
        this.apiKey = apiKey;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
    }

    /** One answer: its status, headers and parsed JSON body (null when empty). */
    record Answer(int status, HttpResponse<byte[]> raw, JsonNode body) {
        Optional<String> header(String name) {
            return raw.headers().firstValue(name);
        }
    }

    URI base() {
        return base;
    }

    Answer get(String pathAndQuery) {
        return send(request(pathAndQuery).GET().build());
    }

    Answer delete(String path) {
        return send(request(path).DELETE().build());
    }

    private HttpRequest.Builder request(String pathAndQuery) {
        return HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(timeout)
                .header("X-API-KEY", apiKey).header("User-Agent", USER_AGENT).header("Accept", "application/json");
    }

    private Answer send(HttpRequest req) {
        HttpResponse<byte[]> resp = exchange(http, req, HttpResponse.BodyHandlers.ofByteArray(), "the API");
        byte[] bytes = resp.body();
        JsonNode body = null;
        if (bytes.length > 0) {
            try {
                body = JSON.readTree(bytes);
            } catch (IOException e) {
                throw new AdminException(ExitCode.SERVER_ERROR, req.method() + " " + req.uri().getPath() + " answered "
                        + resp.statusCode() + " with a body that is not JSON (is " + base + " a sandboxd API?)");
            }
        }
        if (resp.statusCode() >= 400) {
            throw new ApiException(resp.statusCode(), describe(req, resp.statusCode(), body));
        }
        return new Answer(resp.statusCode(), resp, body);
    }

    /** {@code GET /x answered 404: <the body's message>}. */
    static String describe(HttpRequest req, int status, JsonNode body) {
        String message = body != null && body.hasNonNull("message") ? body.get("message").asText() : "(no message)";
        String what = switch (status) {
            case 401, 403 -> " (is the API key one of this daemon's? see 'sandboxd keys list')";
            case 501 -> message.contains("not implemented") ? "" : " (this daemon does not implement it yet)";
            default -> "";
        };
        return req.method() + " " + req.uri().getRawPath() + " answered " + status + ": " + message + what;
    }

    /** Sends {@code req}; a daemon that is not there or does not answer in time is {@link ExitCode#UNREACHABLE}. */
    static <T> HttpResponse<T> exchange(HttpClient http, HttpRequest req, HttpResponse.BodyHandler<T> handler,
                                        String what) {
        try {
            return http.send(req, handler);
        } catch (HttpConnectTimeoutException e) {
            throw unreachable(what, req, "no connection within the timeout", e);
        } catch (HttpTimeoutException e) {
            throw unreachable(what, req, "no answer within the timeout", e);
        } catch (ConnectException e) {
            throw unreachable(what, req, "connection refused (is 'sandboxd serve' running?)", e);
        } catch (IOException e) {
            Throwable cause = e.getCause();
            if (cause instanceof UnresolvedAddressException) {
                throw unreachable(what, req, "unknown host", e);
            }
            throw unreachable(what, req, e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminException(ExitCode.FAILED, "interrupted", e);
        }
    }

    private static AdminException unreachable(String what, HttpRequest req, String why, Exception e) {
        URI u = req.uri();
        return new AdminException(ExitCode.UNREACHABLE, what + " at " + u.getScheme() + "://" + u.getAuthority()
                + " is unreachable: " + why, e);
    }

    HttpClient http() {
        return http;
    }

    Duration timeout() {
        return timeout;
    }

    String apiKey() {
        return apiKey;
    }

    static String pretty(JsonNode node) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
