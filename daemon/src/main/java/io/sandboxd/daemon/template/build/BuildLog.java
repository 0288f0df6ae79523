package io.sandboxd.daemon.template.build;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** A build's log as the status endpoint pages it: entries in order, each with a level and the step it belongs to. */
public final class BuildLog {
    /** Entries kept per build; a step printing more is cut with one line saying so. */
    static final int MAX_ENTRIES = 20_000;

    /** One line of the log. */
    public record Entry(Instant timestamp, String level, String message, String step) {}

    private final Clock clock;
    private final List<Entry> entries = new ArrayList<>();
    private boolean truncated;

    public BuildLog(Clock clock) {
        this.clock = clock;
    }

    public synchronized void add(String level, String message, String step) {
        if (entries.size() >= MAX_ENTRIES) {
            if (!truncated) {
                truncated = true;
                entries.add(new Entry(clock.instant(), "warn", "log cut at " + MAX_ENTRIES + " lines", step));
            }
            return;
        }
        entries.add(new Entry(clock.instant(), level, message, step));
    }

    public void info(String message, String step) {
        add("info", message, step);
    }

    public void error(String message, String step) {
        add("error", message, step);
    }

    /** The entries from {@code offset} on. */
    public synchronized List<Entry> from(int offset) {
        return offset >= entries.size() ? List.of() : List.copyOf(entries.subList(offset, entries.size()));
    }
}
