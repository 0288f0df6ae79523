package io.sandboxd.daemon.cli;

import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Admin commands print their result, not the pool's and migrator's start-up chatter: only warnings get through. */
final class CliLogging {
    // Held strongly: java.util.logging forgets the level of a logger nobody references.
    private static final List<Logger> QUIETED = List.of(Logger.getLogger("com.zaxxer.hikari"),
            Logger.getLogger("org.flywaydb"), Logger.getLogger("io.sandboxd.daemon.store"));

    private CliLogging() {}

    static void quietLibraries() {
        QUIETED.forEach(l -> l.setLevel(Level.WARNING));
    }
}
