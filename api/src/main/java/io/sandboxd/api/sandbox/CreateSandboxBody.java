package io.sandboxd.api.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.JsonFields;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** Reads and validates the create bodies of spec 1.5 (v1 and v2). Unknown fields are ignored, as upstream does. */
final class CreateSandboxBody {
    static final String DEFAULT_TEMPLATE = "base";
    /** v1's documented default when the body has no timeout (the SDKs always send one). */
    static final Duration V1_DEFAULT_TIMEOUT = Duration.ofSeconds(15);
    static final Duration V2_DEFAULT_TIMEOUT = Duration.ofSeconds(300);
    /** The longest TTL any upstream plan allows. */
    static final long MAX_TIMEOUT_SECONDS = 24 * 3600;

    /** Template IDs, aliases, {@code team/name} and {@code name:tag}; nothing that could mean a path or a command. */
    static final int MAX_TEMPLATE_REF = 256;
    private static final Pattern TEMPLATE_REF =
            Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/:-]{0," + (MAX_TEMPLATE_REF - 1) + "}");

    private CreateSandboxBody() {}

    private static String shorten(String s) {
        return s.length() > 64 ? s.substring(0, 64) + "..." : s;
    }

    static CreateSandbox parse(JsonNode json, boolean v2) {
        JsonFields body = JsonFields.of(json, false);
        String template = body.string("templateID", DEFAULT_TEMPLATE);
        if (template.isBlank()) {
            throw HttpError.badRequest("Field 'templateID' must not be empty");
        }
        if (!TEMPLATE_REF.matcher(template).matches() || template.contains("..")) {
            throw HttpError.badRequest("Field 'templateID' must be a template ID, alias or name (letters, digits and "
                    + "'._-/:', at most " + MAX_TEMPLATE_REF + " characters), got '" + shorten(template) + "'");
        }
        Long timeoutSeconds = body.integer("timeout");
        Duration timeout = timeoutSeconds == null ? (v2 ? V2_DEFAULT_TIMEOUT : V1_DEFAULT_TIMEOUT)
                : positiveTimeout(timeoutSeconds, "timeout");
        // v2 has no 'secure': every v2 sandbox gets an envd token.
        boolean secure = v2 || body.bool("secure", true);
        boolean allowInternet = body.bool("allow_internet_access", true);

        boolean autoPause = body.bool("autoPause", false);
        boolean autoResume = autoResume(body);
        JsonFields lifecycle = body.object("lifecycle");
        if (lifecycle != null) {
            String onTimeout = lifecycle.string("onTimeout", autoPause ? "pause" : "kill");
            autoPause = switch (onTimeout) {
                case "pause" -> true;
                case "kill" -> false;
                default -> throw HttpError.badRequest("Field 'lifecycle.onTimeout' must be 'kill' or 'pause'");
            };
            autoResume = lifecycle.bool("autoResume", autoResume);
        }
        for (String unsupported : List.of("mcp", "iam")) {
            if (body.has(unsupported)) {
                throw HttpError.notImplemented("'" + unsupported + "' sandboxes are not implemented in sandboxd yet");
            }
        }
        return new CreateSandbox(template, timeout, body.stringMap("metadata"), body.stringMap("envVars"), secure,
                allowInternet, NetworkBody.create(body.object("network")), autoPause ? OnTimeout.PAUSE : OnTimeout.KILL,
                body.bool("autoPauseMemory", true), autoResume, volumeMounts(body));
    }

    /** A timeout in seconds that must be in 1..24h. */
    static Duration positiveTimeout(long seconds, String field) {
        if (seconds <= 0) {
            throw HttpError.badRequest("Field '" + field + "' must be a positive number of seconds, got " + seconds);
        }
        if (seconds > MAX_TIMEOUT_SECONDS) {
            throw HttpError.badRequest("Field '" + field + "' must be at most " + MAX_TIMEOUT_SECONDS
                    + " seconds (24 hours), got " + seconds);
        }
        return Duration.ofSeconds(seconds);
    }

    private static boolean autoResume(JsonFields body) {
        JsonNode raw = body.raw("autoResume");
        if (raw == null) {
            return false;
        }
        if (raw.isBoolean()) {
            return raw.asBoolean();
        }
        return body.object("autoResume").bool("enabled", false);
    }

    private static List<VolumeMount> volumeMounts(JsonFields body) {
        JsonNode raw = body.raw("volumeMounts");
        List<VolumeMount> mounts = new ArrayList<>();
        if (raw == null) {
            return mounts;
        }
        if (!raw.isArray()) {
            throw HttpError.badRequest("Field 'volumeMounts' must be an array of {name, path}");
        }
        for (int i = 0; i < raw.size(); i++) {
            JsonFields m = JsonFields.element(raw.get(i), "volumeMounts[" + i + "]");
            String name = m.string("name", null);
            String path = m.string("path", null);
            if (name == null || path == null) {
                throw HttpError.badRequest("Field 'volumeMounts[" + i + "]' needs 'name' and 'path'");
            }
            mounts.add(new VolumeMount(name, path));
        }
        return mounts;
    }
}
