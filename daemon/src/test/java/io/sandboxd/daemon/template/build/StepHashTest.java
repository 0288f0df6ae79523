package io.sandboxd.daemon.template.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StepHashTest {
    private static final String BASE = StepHash.ofBase("base", "b1");

    private static Step run(String... args) {
        return new Step("RUN", List.of(args), null, false);
    }

    @Test
    void equalStepsOnEqualParentsHaveEqualKeys() {
        assertEquals(StepHash.of(BASE, run("apt-get install -y curl")), StepHash.of(BASE, run("apt-get install -y curl")));
        assertTrue(StepHash.of(BASE, run("ls")).matches("[0-9a-f]{64}"), "LayerCache takes only hex SHA-256 keys");
    }

    @Test
    void theParentTheTypeTheArgumentsAndTheFilesEachChangeTheKey() {
        String k = StepHash.of(BASE, run("ls"));
        assertNotEquals(k, StepHash.of(StepHash.ofBase("base", "b2"), run("ls")));
        assertNotEquals(k, StepHash.of(BASE, new Step("WORKDIR", List.of("ls"), null, false)));
        assertNotEquals(k, StepHash.of(BASE, run("ls -l")));
        assertNotEquals(k, StepHash.of(BASE, run("ls", "root")));
        Step copy = new Step("COPY", List.of("a", "/b"), "h1", false);
        assertNotEquals(StepHash.of(BASE, copy), StepHash.of(BASE, new Step("COPY", List.of("a", "/b"), "h2", false)));
    }

    @Test
    void argumentBoundariesCount() {
        // joined naively both would read "a b"
        assertNotEquals(StepHash.of(BASE, run("a b")), StepHash.of(BASE, run("a", "b")));
        assertNotEquals(StepHash.of(BASE, run("a\0", "b")), StepHash.of(BASE, run("a", "\0b")));
    }

    @Test
    void forceDoesNotChangeTheKeySoAForcedRebuildReplacesTheSameLayer() {
        assertEquals(StepHash.of(BASE, run("ls")), StepHash.of(BASE, new Step("RUN", List.of("ls"), null, true)));
    }

    @Test
    void aChangeEarlyChangesEveryLaterKey() {
        String a1 = StepHash.of(BASE, run("echo 1"));
        String a2 = StepHash.of(BASE, run("echo 2"));
        assertNotEquals(StepHash.of(a1, run("ls")), StepHash.of(a2, run("ls")));
    }

    @Test
    void baseKeysSeparateTemplateFromBuild() {
        assertNotEquals(StepHash.ofBase("ab", "c"), StepHash.ofBase("a", "bc"));
    }
}
