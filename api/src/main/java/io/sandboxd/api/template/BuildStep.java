package io.sandboxd.api.template;

import java.util.List;
import java.util.Objects;

/**
 * One step of a template build as the SDK sends it ({@code {"type","args","force","filesHash"?}}).
 *
 * @param type      COPY, RUN, ENV, WORKDIR or USER (the SDK's builder reduces everything else to these)
 * @param args      the step's arguments, as the SDK orders them
 * @param filesHash for COPY: the hash the SDK uploaded the files under, else null
 * @param force     rebuild this step even when its layer is cached
 */
public record BuildStep(String type, List<String> args, String filesHash, boolean force) {
    public BuildStep {
        Objects.requireNonNull(type, "type");
        args = List.copyOf(args);
    }
}
