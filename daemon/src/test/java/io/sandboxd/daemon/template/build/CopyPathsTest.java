package io.sandboxd.daemon.template.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CopyPathsTest {
    @Test
    void ordinaryPathsPass() {
        for (String ok : new String[] {"app", "app/src", "./app", "a..b", "..hidden", "dir/...", "*.py"}) {
            assertNull(CopyPaths.sourceProblem(ok), ok);
            assertNull(CopyPaths.entryProblem(ok), ok);
        }
        for (String ok : new String[] {"/home/user/app", "app", "/srv/a..b/"}) {
            assertNull(CopyPaths.destinationProblem(ok), ok);
        }
    }

    @Test
    void sourcesMustStayInTheContext() {
        assertTrue(CopyPaths.sourceProblem("").contains("empty"));
        assertTrue(CopyPaths.sourceProblem("/etc/passwd").contains("absolute"));
        assertTrue(CopyPaths.sourceProblem("..").contains("leaves the build context"));
        assertTrue(CopyPaths.sourceProblem("a/../../etc").contains("leaves the build context"));
        assertTrue(CopyPaths.sourceProblem("x".repeat(CopyPaths.MAX_PATH + 1)).contains("characters long"));
    }

    @Test
    void destinationsMayNotClimbOrCarryNul() {
        assertTrue(CopyPaths.destinationProblem("").contains("empty"));
        assertTrue(CopyPaths.destinationProblem("/home/user/../../etc").contains("'..'"));
        assertTrue(CopyPaths.destinationProblem("/a\0b").contains("NUL"));
        assertTrue(CopyPaths.destinationProblem("/" + "d".repeat(CopyPaths.MAX_PATH)).contains("characters long"));
    }

    @Test
    void uploadedEntriesMayNotEscape() {
        assertTrue(CopyPaths.entryProblem("/etc/cron.d/x").contains("absolute"));
        assertTrue(CopyPaths.entryProblem("app/../../../root/.ssh").contains("leaves its directory"));
        String longName = "n".repeat(CopyPaths.MAX_PATH + 1);
        String message = CopyPaths.entryProblem(longName);
        assertTrue(message.contains("characters long") && message.length() < 200, "the message stays short");
    }

    @Test
    void copyOwnersAreUserOrUserColonGroup() {
        // Dockerfile's COPY --chown=user:user reaches the step as "user:user"; a bare user takes its login group.
        assertEquals("user:", CopyPaths.chownSpec("user"));
        assertEquals("user:user", CopyPaths.chownSpec("user:user"));
        assertEquals("1000:1000", CopyPaths.chownSpec("1000:1000"));
        assertEquals("www-data:adm", CopyPaths.chownSpec("www-data:adm"));
        for (String bad : new String[] {"", ":user", "user:", "a:b:c", "-R", "user;id", "u$(id)", "x".repeat(40)}) {
            assertNull(CopyPaths.chownSpec(bad), bad);
        }
    }
}
