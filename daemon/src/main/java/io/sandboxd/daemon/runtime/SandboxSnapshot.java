package io.sandboxd.daemon.runtime;

import java.util.List;

/**
 * A sandbox's files captured as a layer a template can stand on: the template it ran and, top first, the layer
 * stack a sandbox of the capture mounts (the captured layer, then the sandbox's own template layers).
 *
 * @param sandboxId  the sandbox it was taken from
 * @param templateId the template the sandbox ran
 * @param buildId    the build of that template
 * @param lowerDirs  the overlayfs lower directories, top first: the captured layer is the first
 * @param memory     whether processes and memory were captured too (false on {@code jail}: files only)
 */
public record SandboxSnapshot(String sandboxId, String templateId, String buildId, List<String> lowerDirs,
                              boolean memory) {
    public SandboxSnapshot {
        lowerDirs = List.copyOf(lowerDirs);
    }
}
