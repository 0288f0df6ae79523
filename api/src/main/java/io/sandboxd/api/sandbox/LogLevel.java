package io.sandboxd.api.sandbox;

import java.util.Locale;

/** Log levels in increasing severity; a level filter keeps this level and above. */
public enum LogLevel {
    DEBUG, INFO, WARN, ERROR;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static LogLevel fromWire(String value) {
        for (LogLevel l : values()) {
            if (l.wireName().equals(value)) {
                return l;
            }
        }
        return null;
    }
}
