package io.sandboxd.daemon.template.build;

import java.util.List;
import java.util.Objects;

/**
 * One step of a layered build: the builder's own copy of what the API received, so this package never depends on
 * the API's types (the orchestrator translates).
 *
 * @param type      COPY, RUN, ENV, WORKDIR or USER
 * @param args      the step's arguments in the SDK's order
 * @param filesHash for COPY: the hash the files were uploaded under, else null
 * @param force     rebuild this step even when its layer is cached
 */
public record Step(String type, List<String> args, String filesHash, boolean force) {
    public Step {
        Objects.requireNonNull(type, "type");
        args = List.copyOf(args);
    }
}
