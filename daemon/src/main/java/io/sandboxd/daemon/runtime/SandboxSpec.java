package io.sandboxd.daemon.runtime;

import io.sandboxd.daemon.network.EgressPolicy;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What the orchestrator wants started.
 *
 * @param sandboxId           the orchestrator's ID for the sandbox (letters, digits, '-' and '_', at most 64)
 * @param templateId          the template to start from; it must have been prepared
 * @param cpuCount            CPUs the sandbox may use (a quota, not pinned cores), at least 1
 * @param memoryMB            memory limit in MiB, at least 64
 * @param envVars             environment for processes in the sandbox. Runtimes do not bake these into the
 *                            sandbox: pooled sandboxes are started before the request exists, so the
 *                            orchestrator hands them to envd with {@code POST /init}
 * @param egress              where the sandbox may open connections (E2B's internet access, allowOut and
 *                            denyOut); private ranges are refused whatever it says
 * @param mounts              host directories (volumes) bind-mounted read-write into the sandbox; the orchestrator
 *                            has checked the destinations (absolute, normalized, clear of the runtime's own mounts)
 */
public record SandboxSpec(String sandboxId, String templateId, int cpuCount, int memoryMB, Map<String, String> envVars,
                          EgressPolicy egress, List<BindMount> mounts) {
    /** A host directory and where it appears in the sandbox. */
    public record BindMount(Path source, String destination) {
        public BindMount {
            if (!source.isAbsolute() || !destination.startsWith("/")) {
                throw new IllegalArgumentException("bind mount " + source + " -> " + destination + " needs absolute paths");
            }
        }
    }

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    public SandboxSpec {
        Objects.requireNonNull(sandboxId, "sandboxId");
        Objects.requireNonNull(templateId, "templateId");
        if (!ID.matcher(sandboxId).matches()) {
            throw new IllegalArgumentException("sandboxId '" + sandboxId + "' must be 1-64 of [A-Za-z0-9_-]");
        }
        if (!ID.matcher(templateId).matches()) {
            throw new IllegalArgumentException("templateId '" + templateId + "' must be 1-64 of [A-Za-z0-9_-]");
        }
        if (cpuCount < 1) {
            throw new IllegalArgumentException("cpuCount must be at least 1, got " + cpuCount);
        }
        if (memoryMB < 64) {
            throw new IllegalArgumentException("memoryMB must be at least 64, got " + memoryMB);
        }
        envVars = envVars == null ? Map.of() : Map.copyOf(envVars);
        Objects.requireNonNull(egress, "egress");
        mounts = mounts == null ? List.of() : List.copyOf(mounts);
    }

    /** A spec without mounts. */
    public SandboxSpec(String sandboxId, String templateId, int cpuCount, int memoryMB, Map<String, String> envVars,
                       EgressPolicy egress) {
        this(sandboxId, templateId, cpuCount, memoryMB, envVars, egress, List.of());
    }

    /** A spec whose egress is all or nothing: internet access on or off, no rules. */
    public SandboxSpec(String sandboxId, String templateId, int cpuCount, int memoryMB, Map<String, String> envVars,
                       boolean allowInternetAccess) {
        this(sandboxId, templateId, cpuCount, memoryMB, envVars, allowInternetAccess ? EgressPolicy.OPEN : EgressPolicy.CLOSED);
    }
}
