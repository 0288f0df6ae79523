package io.sandboxd.daemon.cli;

import io.sandboxd.daemon.logging.JsonLogFormatter;
import java.util.List;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * How the CLI logs. Admin commands print their result, not the pool's and migrator's start-up chatter: only
 * warnings get through. {@code serve} picks the format of its log lines on stderr: java.util.logging's two-line
 * text, or one JSON object per line.
 */
final class CliLogging {
    /** {@code serve --log-format}. */
    enum LogFormat { text, json }

    // Held strongly: java.util.logging forgets the level of a logger nobody references.
    private static final List<Logger> QUIETED = List.of(Logger.getLogger("com.zaxxer.hikari"),
            Logger.getLogger("org.flywaydb"), Logger.getLogger("io.sandboxd.daemon.store"));
    private static final Logger ROOT = Logger.getLogger("");

    private CliLogging() {}

    static void quietLibraries() {
        QUIETED.forEach(l -> l.setLevel(Level.WARNING));
    }

    /**
     * Every log record goes to stderr in {@code format}. JSON replaces the root logger's handlers with one console
     * handler (which publishes on the logging thread, so {@link JsonLogFormatter} sees its sandbox context); text
     * keeps java.util.logging's default.
     */
    static void use(LogFormat format) {
        if (format == LogFormat.text) {
            return;
        }
        for (Handler h : ROOT.getHandlers()) {
            ROOT.removeHandler(h);
            h.close();
        }
        ROOT.addHandler(jsonHandler());
    }

    static Handler jsonHandler() {
        ConsoleHandler handler = new ConsoleHandler();
        handler.setFormatter(new JsonLogFormatter());
        return handler;
    }
}
