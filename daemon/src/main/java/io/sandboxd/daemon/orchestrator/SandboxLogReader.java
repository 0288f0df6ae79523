package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogLevel;
import io.sandboxd.api.sandbox.LogQuery;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Turns a sandbox's log file into log entries. The file has no per-line times, so every line carries the file's
 * last-modified time; lines mentioning WARN/ERROR get those levels, the rest INFO.
 */
final class SandboxLogReader {
    private SandboxLogReader() {
    }

    static List<LogEntry> read(Path file, LogQuery query) {
        List<String> lines;
        Instant modified;
        try {
            if (!Files.exists(file)) {
                return List.of();
            }
            lines = Files.readAllLines(file);
            modified = Files.getLastModifiedTime(file).toInstant();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the sandbox log " + file, e);
        }
        List<LogEntry> kept = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            LogLevel level = line.contains("ERROR") || line.contains("SEVERE") ? LogLevel.ERROR
                    : line.contains("WARN") ? LogLevel.WARN : LogLevel.INFO;
            if (query.minLevel() != null && level.compareTo(query.minLevel()) < 0) {
                continue;
            }
            if (query.search() != null && !line.contains(query.search())) {
                continue;
            }
            if (query.cursor() != null && (query.direction() == LogQuery.Direction.FORWARD
                    ? modified.isBefore(query.cursor()) : modified.isAfter(query.cursor()))) {
                continue;
            }
            kept.add(new LogEntry(modified, level, line, Map.of()));
        }
        if (query.direction() == LogQuery.Direction.BACKWARD) {
            Collections.reverse(kept);
        }
        return List.copyOf(kept.subList(0, Math.min(query.limit(), kept.size())));
    }
}
