package io.sandboxd.daemon.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.template.TemplateBuildException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaseTemplateBuilderTest {
    @TempDir
    Path dataDir;

    @Test
    void aFailedBuildLeavesNothingBehindAndSaysWhy() throws Exception {
        HostAssumptions.assumeRoot();
        HostAssumptions.assumeTool("debootstrap", "debootstrap");
        TemplateStore store = new TemplateStore(dataDir);
        // Port 9 on loopback: connection refused at once, and nothing leaves the machine.
        BaseTemplateBuilder builder = new BaseTemplateBuilder(store, "http://127.0.0.1:9/debian");
        List<String> progress = new ArrayList<>();
        TemplateBuildException e = assertThrows(TemplateBuildException.class, () -> builder.ensureBuilt(progress::add));
        assertTrue(e.getMessage().startsWith("debootstrap exited with"), e.getMessage());
        assertTrue(e.getMessage().contains("127.0.0.1:9"), e.getMessage());
        assertFalse(progress.isEmpty(), "debootstrap's output reached the progress callback");
        try (Stream<Path> s = Files.list(store.templateDir("base"))) {
            assertEquals(List.of(".lock"), s.map(p -> p.getFileName().toString()).toList(), "no half-made build");
        }
        assertTrue(store.latest("base").isEmpty());
    }

    @Test
    void debrisOfACrashedBuildIsRemovedAndNeverUsed() throws Exception {
        TemplateStore store = new TemplateStore(dataDir);
        Path debris = store.templateDir("base").resolve(".build-" + BaseTemplateBuilder.buildId() + "-dead");
        Files.createDirectories(debris.resolve("rootfs/etc"));
        new TemplateMetadata("base", "x", "debootstrap", "2026-01-01T00:00:00Z", 1, Map.of()).writeTo(debris);
        assertTrue(store.latest("base").isEmpty(), "a build still in its working directory is not a build");
        assertTrue(store.find("base", BaseTemplateBuilder.buildId()).isEmpty());
    }

    @Test
    void buildIdIsStableAndNamesTheSuite() {
        assertEquals(BaseTemplateBuilder.buildId(), BaseTemplateBuilder.buildId());
        assertTrue(BaseTemplateBuilder.buildId().matches("bookworm-[0-9a-f]{12}"), BaseTemplateBuilder.buildId());
    }

    @Test
    void metadataRoundTripsAndMarksCompleteBuilds() {
        TemplateStore store = new TemplateStore(dataDir);
        Path dir = store.buildDir("t1", "b1");
        assertTrue(store.find("t1", "b1").isEmpty());
        TemplateMetadata md = new TemplateMetadata("t1", "b1", "import", "2026-11-22T00:00:00Z", 42,
                Map.of("suite", "bookworm", "packages", List.of("bash")));
        dir.toFile().mkdirs();
        md.writeTo(dir);
        assertEquals(md, TemplateMetadata.readFrom(dir));
        assertEquals(md, store.latest("t1").orElseThrow().metadata());
        assertThrows(IllegalArgumentException.class, () -> store.templateDir("../etc"));
    }
}
