package io.sandboxd.daemon.template.build;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What earlier steps leave for later ones and for the sandboxes of the template: the user, the working directory
 * and the environment. Derived from the steps alone, so a cached step yields the same state as a built one.
 */
public record StepState(String user, String workdir, Map<String, String> env) {
    public StepState {
        env = Map.copyOf(env);
    }

    /** What the {@code base} template starts with (E2B's base image: user {@code user}, home as the workdir). */
    public static StepState base() {
        return new StepState("user", "/home/user", Map.of());
    }

    StepState withUser(String u) {
        return new StepState(u, workdir, env);
    }

    StepState withWorkdir(String w) {
        return new StepState(user, w, env);
    }

    StepState withEnv(Map<String, String> more) {
        Map<String, String> m = new LinkedHashMap<>(env);
        m.putAll(more);
        return new StepState(user, workdir, m);
    }

    /** The environment of a build step's process. */
    Map<String, String> processEnv() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        m.put("HOME", user.equals("root") ? "/root" : "/home/" + user);
        m.put("USER", user);
        m.put("DEBIAN_FRONTEND", "noninteractive");
        m.putAll(env);
        return m;
    }
}
