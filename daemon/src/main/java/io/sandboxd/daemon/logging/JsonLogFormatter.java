package io.sandboxd.daemon.logging;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * One JSON object per line for log collectors ({@code serve --log-format json}): {@code time} (ISO-8601 UTC),
 * {@code level} ({@code ERROR}, {@code WARN}, {@code INFO}, {@code DEBUG}, {@code TRACE}), {@code logger},
 * {@code message}, {@code thread}, {@code sandboxId} when the line is about a sandbox ({@link SandboxLogContext}),
 * and {@code error} with the stack trace when there is one. The sandbox ID is read while formatting: the daemon's
 * handlers publish on the thread that logs, which is the one the context is bound on.
 */
public final class JsonLogFormatter extends Formatter {
    private static final JsonFactory JSON = new JsonFactory();

    @Override
    public String format(LogRecord record) {
        StringWriter line = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(line)) {
            g.writeStartObject();
            g.writeStringField("time", record.getInstant().toString());
            g.writeStringField("level", level(record.getLevel()));
            g.writeStringField("logger", record.getLoggerName() == null ? "" : record.getLoggerName());
            g.writeStringField("message", formatMessage(record));
            g.writeStringField("thread", Thread.currentThread().getName());
            String sandboxId = SandboxLogContext.sandboxId().orElse(null);
            if (sandboxId != null) {
                g.writeStringField("sandboxId", sandboxId);
            }
            if (record.getThrown() != null) {
                StringWriter trace = new StringWriter();
                record.getThrown().printStackTrace(new PrintWriter(trace));
                g.writeStringField("error", trace.toString());
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("formatting a log record", e); // a StringWriter does not fail
        }
        // Messages and traces are escaped by the generator, so a record is always exactly one line.
        return line.append('\n').toString();
    }

    /** java.util.logging's levels under the names log tools expect (System.Logger's DEBUG is FINE, TRACE FINER). */
    static String level(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue()) {
            return "WARN";
        }
        if (v >= Level.INFO.intValue()) {
            return "INFO";
        }
        if (v >= Level.FINE.intValue()) {
            return "DEBUG";
        }
        return "TRACE";
    }
}
