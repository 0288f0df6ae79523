package io.sandboxd.daemon.envd;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The host's copy of what a sandbox runs envd from: the JRE and envd.jar it gets (mounted into a jail, copied
 * into a VM's rootfs), the command it starts envd with, and where this host keeps envd's AOT caches.
 *
 * @param javaHome the JRE
 * @param envdJar  envd's jar
 * @param command  envd's command line inside the sandbox ({@link EnvdLaunch#command})
 * @param aotDir   where {@link EnvdAotCache} keeps one cache directory per (envd.jar, JRE, flags)
 */
public record EnvdInstall(Path javaHome, Path envdJar, List<String> command, Path aotDir) {
    public EnvdInstall {
        Objects.requireNonNull(javaHome, "javaHome");
        Objects.requireNonNull(envdJar, "envdJar");
        Objects.requireNonNull(aotDir, "aotDir");
        command = List.copyOf(command);
    }

    /** True when the command starts envd with the AOT cache, so one must be recorded and provided. */
    public boolean usesAotCache() {
        return EnvdLaunch.usesAotCache(command);
    }
}
