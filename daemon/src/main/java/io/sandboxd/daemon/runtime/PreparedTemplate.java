package io.sandboxd.daemon.runtime;

import java.nio.file.Path;

/**
 * A template a runtime can create sandboxes from.
 *
 * @param templateId the template
 * @param buildId    which build of it
 * @param directory  {@code <data-dir>/templates/<templateId>/<buildId>}
 */
public record PreparedTemplate(String templateId, String buildId, Path directory) {
}
