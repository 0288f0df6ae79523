package io.sandboxd.envd;

import java.util.Map;
import java.util.Optional;

/**
 * What the host sets through {@code POST /init} (spec 3.1): the access token, the sandbox environment merged into
 * every process, the default user and workdir. Read by every request; replaced as a whole so readers always see
 * one consistent version.
 */
public final class EnvdState {
    /** One consistent view; {@code accessToken} null means no token is required. */
    public record Settings(String accessToken, Map<String, String> envVars, String defaultUser, String defaultWorkdir) {
        public Settings {
            envVars = Map.copyOf(envVars);
        }
    }

    private final Settings initial;
    private volatile Settings settings;
    private volatile boolean warmingUp;

    public EnvdState(String defaultUser) {
        this.initial = new Settings(null, Map.of(), defaultUser, null);
        this.settings = initial;
    }

    /**
     * From now until {@link #endWarmUp()}, {@code /health} says envd is not ready: envd's own warm-up requests run
     * against the listener a sandbox will use, and nobody should take the sandbox before they are done.
     */
    public void beginWarmUp() {
        warmingUp = true;
    }

    /** Forgets what the warm-up's {@code /init} set (token, env vars) and lets {@code /health} answer ready. */
    public synchronized void endWarmUp() {
        settings = initial;
        warmingUp = false;
    }

    public boolean warmingUp() {
        return warmingUp;
    }

    public Settings settings() {
        return settings;
    }

    public Optional<String> accessToken() {
        return Optional.ofNullable(settings.accessToken());
    }

    public Map<String, String> envVars() {
        return settings.envVars();
    }

    public String defaultUser() {
        return settings.defaultUser();
    }

    public Optional<String> defaultWorkdir() {
        return Optional.ofNullable(settings.defaultWorkdir());
    }

    public synchronized void update(java.util.function.UnaryOperator<Settings> change) {
        settings = change.apply(settings);
    }
}
