package io.sandboxd.daemon.orchestrator;

import java.nio.file.Path;
import java.util.Optional;

/** Port: where a runtime keeps what a sandbox's agent printed (the jail log file), for the logs endpoints. */
@FunctionalInterface
public interface LogSource {
    Optional<Path> logFile(String sandboxId);

    LogSource NONE = id -> Optional.empty();
}
