package io.sandboxd.daemon.template;

import java.nio.file.Path;

/**
 * A finished build of a template on disk: {@code <data-dir>/templates/<templateId>/<buildId>/} with
 * {@code rootfs/} and {@code metadata.json}.
 */
public record TemplateBuild(String templateId, String buildId, Path directory, TemplateMetadata metadata) {
    /** Lists a layered build's directories, top first, one per line (see {@code build.LayeredBuilder}). */
    public static final String LAYERS_FILE = "layers";

    public Path rootfs() {
        return directory.resolve("rootfs");
    }

    /**
     * The overlayfs {@code lowerdir} value of this build: its {@code rootfs/} for a single-tree build such as
     * {@code base}, or the colon-joined layer list a layered build wrote (top layer first).
     */
    public String lowerDirs() {
        Path layers = directory.resolve(LAYERS_FILE);
        if (!java.nio.file.Files.isRegularFile(layers)) {
            return rootfs().toString();
        }
        try {
            return String.join(":", java.nio.file.Files.readAllLines(layers).stream().filter(l -> !l.isBlank()).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + layers, e);
        }
    }
}
