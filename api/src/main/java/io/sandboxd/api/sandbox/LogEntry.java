package io.sandboxd.api.sandbox;

import java.time.Instant;
import java.util.Map;

/** One line of a sandbox's log (envd and runtime output), with structured fields. */
public record LogEntry(Instant timestamp, LogLevel level, String message, Map<String, String> fields) {
    public LogEntry {
        fields = Map.copyOf(fields);
    }
}
