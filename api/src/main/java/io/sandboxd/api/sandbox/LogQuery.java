package io.sandboxd.api.sandbox;

/**
 * A log read.
 *
 * @param cursor    start at this instant (unix milliseconds on the wire); null = the beginning (forward) or the
 *                  end (backward)
 * @param minLevel  keep this level and above; null = all
 * @param search    keep entries whose message contains this text; null = all
 */
public record LogQuery(java.time.Instant cursor, int limit, Direction direction, LogLevel minLevel, String search) {
    public enum Direction { FORWARD, BACKWARD }
}
