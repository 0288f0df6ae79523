package io.sandboxd.daemon.template;

import java.nio.file.Path;

/**
 * A finished build of a template on disk: {@code <data-dir>/templates/<templateId>/<buildId>/} with
 * {@code rootfs/} and {@code metadata.json}.
 */
public record TemplateBuild(String templateId, String buildId, Path directory, TemplateMetadata metadata) {
    public Path rootfs() {
        return directory.resolve("rootfs");
    }
}
