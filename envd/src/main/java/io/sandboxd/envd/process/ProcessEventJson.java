package io.sandboxd.envd.process;

import io.sandboxd.envd.proto.process.ProcessEvent;
import java.nio.charset.StandardCharsets;

/**
 * The canonical JSON of the start and end events of a {@code StartResponse}/{@code ConnectResponse}, built directly:
 * every command sends both, and protobuf's generic printer walks descriptors through reflection for each (it was the
 * largest part of a worker's CPU per {@code commands.run} in a profile). {@code ProcessEventJsonTest} pins the output
 * to JsonFormat's: fields in number order, zero values left out, {@code error} only when set.
 */
final class ProcessEventJson {
    private ProcessEventJson() {
    }

    /** {@code {"event":{"start":{"pid":N}}}}; a pid of 0 is a proto3 zero value and left out. */
    static byte[] start(int pid) {
        String body = pid == 0 ? "{}" : "{\"pid\":" + Integer.toUnsignedString(pid) + "}";
        return ("{\"event\":{\"start\":" + body + "}}").getBytes(StandardCharsets.UTF_8);
    }

    /** {@code {"event":{"end":{"exitCode":N,"exited":true,"status":"...","error":"..."}}}}. */
    static byte[] end(ProcessEvent.EndEvent e) {
        StringBuilder sb = new StringBuilder(96).append("{\"event\":{\"end\":{");
        boolean first = true;
        if (e.getExitCode() != 0) {
            sb.append("\"exitCode\":").append(e.getExitCode());
            first = false;
        }
        if (e.getExited()) {
            sb.append(first ? "" : ",").append("\"exited\":true");
            first = false;
        }
        if (!e.getStatus().isEmpty()) {
            sb.append(first ? "" : ",").append("\"status\":");
            string(sb, e.getStatus());
            first = false;
        }
        if (e.hasError()) {
            sb.append(first ? "" : ",").append("\"error\":");
            string(sb, e.getError());
        }
        return sb.append("}}}").toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A JSON string the way JsonFormat (Gson) escapes it: quotes, backslash, controls, and HTML-sensitive chars. */
    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '=' || c == '\''
                            || c == '\u2028' || c == '\u2029') {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
