package io.sandboxd.api.template;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.http.HttpError;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The body of {@code POST /v2/templates/{id}/builds/{build}}: what to start from, the steps, and the start and ready
 * commands. Parsed strictly enough that a malformed body is a 400 naming the field, not a build that fails later.
 *
 * @param fromTemplate a template name or ID to build on, or null
 * @param fromImage    an OCI image reference, or null (when both are null the build starts from {@code base})
 * @param registry     the credentials for {@code fromImage}'s registry ({@code fromImageRegistry}), or null
 */
public record BuildRequest(String fromTemplate, String fromImage, RegistryLogin registry, List<BuildStep> steps,
                           String startCmd, String readyCmd, boolean force) {
    /** {@code fromImageRegistry} of type {@code registry}: what {@code fromImage(image, {username, password})} sends. */
    public record RegistryLogin(String username, String password) {
        @Override
        public String toString() {
            return "RegistryLogin[" + username + ", ****]";
        }
    }

    public static final Set<String> STEP_TYPES = Set.of("COPY", "RUN", "ENV", "WORKDIR", "USER");
    public static final int MAX_STEPS = 256;
    public static final int MAX_ARG_CHARS = 64 * 1024;
    private static final Pattern FILES_HASH = Pattern.compile("[A-Za-z0-9]{1,128}");

    public BuildRequest {
        steps = List.copyOf(steps);
    }

    public static BuildRequest parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw HttpError.badRequest("the build body must be a JSON object");
        }
        String fromTemplate = text(body, "fromTemplate");
        String fromImage = text(body, "fromImage");
        if (fromTemplate != null && fromImage != null) {
            throw HttpError.badRequest("give 'fromTemplate' or 'fromImage', not both");
        }
        JsonNode stepsNode = body.get("steps");
        List<BuildStep> steps = new ArrayList<>();
        if (stepsNode != null && !stepsNode.isNull()) {
            if (!stepsNode.isArray()) {
                throw HttpError.badRequest("'steps' must be an array");
            }
            if (stepsNode.size() > MAX_STEPS) {
                throw HttpError.badRequest("a build has at most " + MAX_STEPS + " steps, got " + stepsNode.size());
            }
            for (int i = 0; i < stepsNode.size(); i++) {
                steps.add(step(stepsNode.get(i), i));
            }
        }
        RegistryLogin registry = registry(body.get("fromImageRegistry"));
        if (registry != null && fromImage == null) {
            throw HttpError.badRequest("'fromImageRegistry' is only for a build 'fromImage'");
        }
        JsonNode force = body.get("force");
        return new BuildRequest(fromTemplate, fromImage, registry, steps, text(body, "startCmd"), text(body, "readyCmd"),
                force != null && force.asBoolean(false));
    }

    private static RegistryLogin registry(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            throw HttpError.badRequest("'fromImageRegistry' must be an object");
        }
        String type = text(n, "type");
        if (!"registry".equals(type)) {
            // aws and gcp logins mint registry tokens through those clouds' APIs, which this host does not reach.
            throw HttpError.badRequest("fromImageRegistry.type " + (type == null ? "is missing" : "'" + type + "'")
                    + ": sandboxd supports only type 'registry' (a username and password); for a cloud registry pass"
                    + " a token it issued as the password");
        }
        String username = text(n, "username");
        String password = text(n, "password");
        if (username == null || password == null) {
            throw HttpError.badRequest("fromImageRegistry needs both 'username' and 'password'");
        }
        return new RegistryLogin(username, password);
    }

    private static BuildStep step(JsonNode n, int index) {
        String where = "steps[" + index + "]";
        if (n == null || !n.isObject()) {
            throw HttpError.badRequest(where + " must be an object");
        }
        String type = text(n, "type");
        if (type == null || !STEP_TYPES.contains(type)) {
            throw HttpError.badRequest(where + ".type must be one of " + new java.util.TreeSet<>(STEP_TYPES)
                    + ", got " + (type == null ? "nothing" : "'" + type + "'"));
        }
        List<String> args = new ArrayList<>();
        JsonNode a = n.get("args");
        if (a != null && !a.isNull()) {
            if (!a.isArray()) {
                throw HttpError.badRequest(where + ".args must be an array of strings");
            }
            for (JsonNode v : a) {
                if (!v.isTextual()) {
                    throw HttpError.badRequest(where + ".args must be an array of strings");
                }
                if (v.asText().length() > MAX_ARG_CHARS) {
                    throw HttpError.badRequest(where + ".args has an argument over " + MAX_ARG_CHARS + " characters");
                }
                args.add(v.asText());
            }
        }
        int min = switch (type) {
            case "COPY" -> 2;
            case "ENV" -> 2;
            default -> 1;
        };
        if (args.size() < min || (type.equals("ENV") && args.size() % 2 != 0)) {
            throw HttpError.badRequest(where + " (" + type + ") has " + args.size() + " arguments"
                    + (type.equals("ENV") ? ", needs key/value pairs" : ", needs at least " + min));
        }
        String filesHash = text(n, "filesHash");
        if (type.equals("COPY") && (filesHash == null || !FILES_HASH.matcher(filesHash).matches())) {
            throw HttpError.badRequest(where + " (COPY) needs a 'filesHash' of letters and digits");
        }
        JsonNode force = n.get("force");
        return new BuildStep(type, args, type.equals("COPY") ? filesHash : null, force != null && force.asBoolean(false));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw HttpError.badRequest("'" + field + "' must be a string");
        }
        return v.asText().isEmpty() ? null : v.asText();
    }
}
