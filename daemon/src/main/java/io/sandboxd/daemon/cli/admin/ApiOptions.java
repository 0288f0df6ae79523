package io.sandboxd.daemon.cli.admin;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine.Option;

/**
 * Where the running daemon is and how to authenticate to it, shared by every command that talks to its API. Each
 * value comes from the option, else the environment, else the daemon's own {@code sandboxd.env} (which
 * {@code serve} writes, readable by root: so {@code sudo sandboxd sandbox list} on the daemon's host needs no
 * flags), else a default.
 */
public final class ApiOptions {
    static final String DEFAULT_API = "http://127.0.0.1:3000";
    static final String DEFAULT_ENV_FILE = "/var/lib/sandboxd/sandboxd.env";
    /** The process environment; tests replace it so what the machine's shell exports does not leak in. */
    static volatile Function<String, String> environment = System::getenv;

    @Option(names = "--api", paramLabel = "URL",
            description = "The daemon's API. Default: $SANDBOXD_API_URL, $E2B_API_URL, the env file's E2B_API_URL, "
                    + DEFAULT_API + ".")
    String api;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "An e2b_ API key. Default: $SANDBOXD_API_KEY, $E2B_API_KEY, the env file's E2B_API_KEY.")
    String apiKey;

    @Option(names = "--sandbox-url", paramLabel = "URL",
            description = "The sandbox proxy, for exec. Default: $E2B_SANDBOX_URL, the env file's, the API host on port 3002.")
    String sandboxUrl;

    @Option(names = "--env-file", paramLabel = "FILE",
            description = "The daemon's sandboxd.env to read defaults from. Default: $SANDBOXD_DATA_DIR/sandboxd.env, "
                    + DEFAULT_ENV_FILE + " (skipped when unreadable).")
    Path envFile;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "How long to wait for the API. Default: ${DEFAULT-VALUE}.")
    int requestTimeoutSeconds;

    private Map<String, String> fileValues;

    URI apiUri() {
        return uri("--api", first(api, env("SANDBOXD_API_URL"), env("E2B_API_URL"), file("E2B_API_URL"), DEFAULT_API));
    }

    /** The API key, or an AUTH failure saying where one can come from. */
    String apiKey() {
        String key = first(apiKey, env("SANDBOXD_API_KEY"), env("E2B_API_KEY"), file("E2B_API_KEY"));
        if (key == null) {
            throw new AdminException(ExitCode.AUTH, "no API key: pass --api-key, set SANDBOXD_API_KEY or E2B_API_KEY,"
                    + " or run where the daemon's sandboxd.env is readable (" + envFilePath() + ")");
        }
        return key;
    }

    URI sandboxUri() {
        String explicit = first(sandboxUrl, env("E2B_SANDBOX_URL"), file("E2B_SANDBOX_URL"));
        if (explicit != null) {
            return uri("--sandbox-url", explicit);
        }
        URI a = apiUri();
        return URI.create(a.getScheme() + "://" + a.getHost() + ":3002");
    }

    Duration requestTimeout() {
        if (requestTimeoutSeconds <= 0) {
            throw new AdminException(ExitCode.USAGE, "--request-timeout must be a positive number of seconds");
        }
        return Duration.ofSeconds(requestTimeoutSeconds);
    }

    ApiClient client() {
        return new ApiClient(apiUri(), apiKey(), requestTimeout());
    }

    private Path envFilePath() {
        if (envFile != null) {
            return envFile;
        }
        String dataDir = env("SANDBOXD_DATA_DIR");
        return Path.of(dataDir != null ? dataDir + "/sandboxd.env" : DEFAULT_ENV_FILE);
    }

    private String file(String key) {
        if (fileValues == null) {
            fileValues = readEnvFile(envFilePath());
        }
        String v = fileValues.get(key);
        return v == null || v.isBlank() ? null : v;
    }

    /** {@code KEY=value} lines; an unreadable or missing file is no values, not an error. */
    static Map<String, String> readEnvFile(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        try {
            if (Files.isReadable(file)) {
                for (String line : Files.readAllLines(file)) {
                    int eq = line.indexOf('=');
                    if (eq > 0 && !line.startsWith("#")) {
                        out.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
                    }
                }
            }
        } catch (IOException e) {
            // as good as none
        }
        return out;
    }

    private static String env(String name) {
        String v = environment.apply(name);
        return v == null || v.isBlank() ? null : v;
    }

    private static String first(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }

    private static URI uri(String option, String value) {
        try {
            URI u = URI.create(value.endsWith("/") ? value.substring(0, value.length() - 1) : value);
            if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))
                    || u.getHost() == null) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
            return u;
        } catch (IllegalArgumentException e) {
            throw new AdminException(ExitCode.USAGE, option + " " + value + ": " + e.getMessage()
                    + " (expected e.g. http://127.0.0.1:3000)");
        }
    }
}
