package io.sandboxd.daemon.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

/**
 * {@code metadata.json} of a template build: what it is and how it was made. Its presence marks a build as
 * complete: a build directory without it is not used.
 *
 * @param templateId  the template
 * @param buildId     the build
 * @param kind        how the build was made ({@code debootstrap}, {@code import}, ...)
 * @param createdAt   when the build finished (ISO-8601)
 * @param rootfsBytes apparent size of the rootfs
 * @param details     what the maker wants to record (suite, mirror, packages, tool version, build time)
 */
public record TemplateMetadata(String templateId, String buildId, String kind, String createdAt, long rootfsBytes,
                               Map<String, Object> details) {
    public static final String FILE_NAME = "metadata.json";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT);

    public TemplateMetadata {
        details = details == null ? Map.of() : Map.copyOf(details);
    }

    public void writeTo(Path buildDir) {
        try {
            Path tmp = buildDir.resolve(FILE_NAME + ".tmp");
            JSON.writeValue(tmp.toFile(), this);
            Files.move(tmp, buildDir.resolve(FILE_NAME), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + buildDir.resolve(FILE_NAME), e);
        }
    }

    public static TemplateMetadata readFrom(Path buildDir) {
        Path f = buildDir.resolve(FILE_NAME);
        try {
            return JSON.readValue(f.toFile(), TemplateMetadata.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f + " (a damaged build: delete " + buildDir + " to rebuild it)", e);
        }
    }

    public Instant createdAtInstant() {
        return Instant.parse(createdAt);
    }
}
