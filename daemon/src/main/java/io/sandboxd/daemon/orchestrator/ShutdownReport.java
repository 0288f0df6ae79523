package io.sandboxd.daemon.orchestrator;

import java.util.List;

/** What {@link Orchestrator#shutdown(ShutdownPolicy)} did, for the daemon's last log lines. */
public record ShutdownReport(ShutdownPolicy policy, int killed, int paused, int kept, List<String> failures) {
    public ShutdownReport {
        failures = List.copyOf(failures);
    }

    public String line() {
        return "on-shutdown " + policy.optionName() + ": " + killed + " killed, " + paused + " paused, " + kept
                + " left as they were" + (failures.isEmpty() ? "" : ", " + failures.size() + " failed");
    }
}
