package io.sandboxd.daemon.template.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A client of the OCI distribution API (what {@code docker pull} speaks): manifests and blobs of one repository,
 * with the registry's auth challenges answered: {@code Basic} with the configured credentials, {@code Bearer} by
 * fetching a pull token from the challenge's realm (anonymously, or with the credentials). Registries on this
 * machine are spoken to over plain HTTP; every other one over HTTPS.
 */
public final class RegistryClient {
    /** A user name and password (or token) for one registry. */
    public record Credentials(String username, String password) {
        @Override
        public String toString() {
            return "Credentials[" + username + ", ****]"; // never the password, in logs or messages
        }
    }

    /** A manifest as fetched: its bytes, the media type the registry gave, and its digest. */
    public record Manifest(byte[] bytes, String mediaType, String digest) {}

    static final String ACCEPT = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json");
    static final int MAX_MANIFEST_BYTES = 4 << 20;
    private static final Pattern CHALLENGE_PARAM = Pattern.compile("([A-Za-z_]+)=\"([^\"]*)\"");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final Function<String, Optional<Credentials>> credentials;
    /** Authorization header values that worked, by registry and repository. */
    private final Map<String, String> authorizations = new ConcurrentHashMap<>();

    /** @param credentials the credentials for a registry host ({@code host[:port]}), if any */
    public RegistryClient(Function<String, Optional<Credentials>> credentials) {
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        this.credentials = credentials;
    }

    public Manifest manifest(ImageReference image, String reference) {
        HttpResponse<InputStream> r = send(image, "manifests/" + reference, ACCEPT, "the manifest " + reference);
        byte[] bytes;
        try (InputStream in = r.body()) {
            bytes = in.readNBytes(MAX_MANIFEST_BYTES + 1);
        } catch (IOException e) {
            throw new OciException(image + ": reading the manifest: " + e.getMessage(), e);
        }
        if (bytes.length > MAX_MANIFEST_BYTES) {
            throw new OciException(image + ": the manifest is over " + (MAX_MANIFEST_BYTES >> 20) + " MiB");
        }
        String digest = sha256(bytes);
        if (reference.startsWith("sha256:") && !reference.equals(digest)) {
            throw new OciException(image + ": the registry sent a manifest with digest " + digest + " for "
                    + reference);
        }
        String type = r.headers().firstValue("Content-Type").orElse("").split(";", 2)[0].strip();
        return new Manifest(bytes, type, digest);
    }

    /** The blob's content; the caller checks its digest ({@link BlobCache}). */
    public InputStream blob(ImageReference image, String digest) {
        return send(image, "blobs/" + digest, "*/*", "blob " + digest).body();
    }

    private HttpResponse<InputStream> send(ImageReference image, String path, String accept, String what) {
        URI uri = URI.create(base(image) + "/v2/" + image.repository() + "/" + path);
        String key = image.registry() + "/" + image.repository();
        String authorization = authorizations.get(key);
        HttpResponse<InputStream> r = get(uri, accept, authorization);
        if (r.statusCode() == 401) {
            String challenge = r.headers().firstValue("WWW-Authenticate").orElse("");
            drain(r);
            authorization = answer(image, challenge);
            r = get(uri, accept, authorization);
            if (r.statusCode() == 401 || r.statusCode() == 403) {
                String body = errorBody(r);
                throw new OciException(image + ": the registry refused " + (credentials.apply(image.registry())
                        .isPresent() ? "the configured credentials" : "an anonymous pull (no credentials are "
                        + "configured for " + image.registry() + ")") + " for " + what + body);
            }
            authorizations.put(key, authorization);
        }
        if (r.statusCode() == 404) {
            throw new OciException(image + ": " + what + " is not in the registry" + errorBody(r));
        }
        if (r.statusCode() / 100 != 2) {
            throw new OciException(image + ": the registry answered " + r.statusCode() + " for " + what
                    + errorBody(r));
        }
        return r;
    }

    private HttpResponse<InputStream> get(URI uri, String accept, String authorization) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10)).header("Accept", accept)
                .GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new OciException("registry " + uri.getAuthority() + " is unreachable (" + uri + "): "
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OciException("interrupted while talking to " + uri.getAuthority(), e);
        }
    }

    /** The Authorization header that answers the registry's challenge. */
    private String answer(ImageReference image, String challenge) {
        Optional<Credentials> creds = credentials.apply(image.registry());
        String scheme = challenge.split(" ", 2)[0].toLowerCase(Locale.ROOT);
        if (scheme.equals("basic")) {
            return basic(creds.orElseThrow(() -> new OciException(image + ": the registry wants a user name and "
                    + "password and none are configured for " + image.registry())));
        }
        if (!scheme.equals("bearer")) {
            throw new OciException(image + ": the registry asks for unsupported authentication \"" + challenge + "\"");
        }
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = CHALLENGE_PARAM.matcher(challenge);
        while (m.find()) {
            params.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2));
        }
        String realm = params.get("realm");
        if (realm == null) {
            throw new OciException(image + ": the registry's Bearer challenge names no realm: " + challenge);
        }
        URI realmUri = URI.create(realm);
        boolean realmLoopback = realmUri.getHost() != null && (realmUri.getHost().equals("localhost")
                || realmUri.getHost().startsWith("127."));
        if (!"https".equals(realmUri.getScheme()) && !realmLoopback) {
            throw new OciException(image + ": the registry sends for tokens to " + realm
                    + ", which is not HTTPS: refused (credentials would travel in the clear)");
        }
        StringBuilder q = new StringBuilder(realm).append(realm.contains("?") ? "&" : "?");
        if (params.containsKey("service")) {
            q.append("service=").append(URLEncoder.encode(params.get("service"), StandardCharsets.UTF_8)).append('&');
        }
        String scope = params.getOrDefault("scope", "repository:" + image.repository() + ":pull");
        q.append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
        HttpResponse<InputStream> r = get(URI.create(q.toString()), "application/json", creds.map(RegistryClient::basic)
                .orElse(null));
        if (r.statusCode() / 100 != 2) {
            throw new OciException(image + ": the token service " + realmUri.getAuthority() + " answered "
                    + r.statusCode() + (creds.isPresent() ? " to the configured credentials" : " to an anonymous "
                    + "request") + errorBody(r));
        }
        try (InputStream in = r.body()) {
            JsonNode body = JSON.readTree(in.readNBytes(1 << 20));
            String token = body.path("token").asText(body.path("access_token").asText(""));
            if (token.isEmpty()) {
                throw new OciException(image + ": the token service's answer has no token");
            }
            return "Bearer " + token;
        } catch (IOException e) {
            throw new OciException(image + ": the token service's answer is not JSON: " + e.getMessage(), e);
        }
    }

    private static String basic(Credentials c) {
        return "Basic " + Base64.getEncoder().encodeToString((c.username() + ":" + c.password())
                .getBytes(StandardCharsets.UTF_8));
    }

    private static String base(ImageReference image) {
        return (image.loopback() ? "http://" : "https://") + image.registry();
    }

    /** The registry's error text ({@code {"errors":[{"code","message"}]}}), for the exception's message. */
    private static String errorBody(HttpResponse<InputStream> r) {
        try (InputStream in = r.body()) {
            byte[] bytes = in.readNBytes(16 << 10);
            JsonNode errors = JSON.readTree(bytes).path("errors");
            if (errors.isArray() && !errors.isEmpty()) {
                JsonNode e = errors.get(0);
                return " (" + e.path("code").asText() + ": " + e.path("message").asText() + ")";
            }
            return "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static void drain(HttpResponse<InputStream> r) {
        try (InputStream in = r.body()) {
            in.readNBytes(64 << 10);
        } catch (IOException ignored) {
            // the connection is not reused then; nothing is lost
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
