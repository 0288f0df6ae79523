package io.sandboxd.daemon.orchestrator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** {@code POST /init} over HTTP/1.1 to envd at its slot address. */
public final class HttpEnvdClient implements EnvdClient {
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(TIMEOUT).build();

    @Override
    public void init(InetSocketAddress envd, Init init) {
        ObjectNode body = JSON.createObjectNode();
        if (init.accessToken() != null) {
            body.put("accessToken", init.accessToken());
        }
        ObjectNode env = body.putObject("envVars");
        init.envVars().forEach(env::put);
        body.put("defaultUser", init.defaultUser());
        body.put("defaultWorkdir", init.defaultWorkdir());
        body.put("timestamp", init.timestamp().toString());
        URI uri = URI.create("http://" + envd.getAddress().getHostAddress() + ":" + envd.getPort() + "/init");
        HttpResponse<String> r;
        try {
            r = http.send(HttpRequest.newBuilder(uri).timeout(TIMEOUT).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException("envd at " + uri + " did not answer /init: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while calling " + uri, e);
        }
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("envd at " + uri + " refused /init: " + r.statusCode() + " " + r.body());
        }
    }
}
