package io.sandboxd.api.sandbox;

import java.util.Locale;

/** The states a client can see and filter on; transitions in between are the orchestrator's business. */
public enum SandboxState {
    RUNNING,
    PAUSED;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code running}/{@code paused}; anything else is null. */
    public static SandboxState fromWire(String value) {
        return switch (value) {
            case "running" -> RUNNING;
            case "paused" -> PAUSED;
            default -> null;
        };
    }
}
