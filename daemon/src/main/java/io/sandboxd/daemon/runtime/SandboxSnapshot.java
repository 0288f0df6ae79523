package io.sandboxd.daemon.runtime;

import java.nio.file.Path;

/**
 * A captured sandbox, usable as a template.
 *
 * @param sandboxId  the sandbox it was taken from
 * @param templateId the template ID the snapshot can be started as
 * @param buildId    the build that holds it
 * @param directory  where its files are
 */
public record SandboxSnapshot(String sandboxId, String templateId, String buildId, Path directory) {
}
