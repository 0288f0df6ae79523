package io.sandboxd.daemon.template.oci;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * What an image's config says a container of it starts with, as far as a template uses it: environment, working
 * directory, user, and the entrypoint and command (the template's start command when none is set).
 */
public record ImageConfig(String os, String architecture, List<String> env, String workingDir, String user,
                          List<String> entrypoint, List<String> cmd) {

    public static ImageConfig parse(JsonNode json) {
        JsonNode c = json.path("config");
        return new ImageConfig(json.path("os").asText(""), json.path("architecture").asText(""), strings(c.path("Env")),
                c.path("WorkingDir").asText(""), c.path("User").asText(""), strings(c.path("Entrypoint")),
                strings(c.path("Cmd")));
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array.isArray()) {
            array.forEach(n -> out.add(n.asText()));
        }
        return List.copyOf(out);
    }
}
