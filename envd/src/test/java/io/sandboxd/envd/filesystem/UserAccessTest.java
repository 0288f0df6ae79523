package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.FileSystemLoopException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a write lands, resolved as the kernel resolves it; the HTTP behaviour is in EnvdHostileInputTest. */
class UserAccessTest {
    @TempDir
    Path dir;

    @Test
    void aPathWithoutLinksLandsWhereItSays() throws Exception {
        Path p = dir.resolve("a/b/new.txt");
        assertEquals(new UserAccess.Resolved(p, false), UserAccess.resolve(p));
    }

    @Test
    void linksAreFollowedAbsoluteRelativeDanglingAndThroughDirectories() throws Exception {
        Path real = Files.createDirectories(dir.resolve("real/inner"));
        Files.createSymbolicLink(dir.resolve("abs"), real);
        Files.createSymbolicLink(dir.resolve("rel"), Path.of("real/inner"));
        Files.createSymbolicLink(dir.resolve("dangling"), Path.of("real/ghost.txt"));
        assertEquals(new UserAccess.Resolved(real.resolve("x/y.txt"), true),
                UserAccess.resolve(dir.resolve("abs/x/y.txt")));
        assertEquals(new UserAccess.Resolved(real.resolve("f"), true), UserAccess.resolve(dir.resolve("rel/f")));
        assertEquals(new UserAccess.Resolved(dir.resolve("real/ghost.txt"), true),
                UserAccess.resolve(dir.resolve("dangling")));
    }

    @Test
    void dotDotAfterALinkIsThePhysicalParent() throws Exception {
        Path real = Files.createDirectories(dir.resolve("far/away"));
        Files.createSymbolicLink(dir.resolve("near"), real);
        // The kernel's "near/.." is far, not dir: a lexical normalisation would get this wrong.
        assertEquals(dir.resolve("far/x"), UserAccess.resolve(Path.of(dir + "/near/../x")).destination());
    }

    @Test
    void cyclesAreRefused() throws Exception {
        Files.createSymbolicLink(dir.resolve("a"), Path.of("b"));
        Files.createSymbolicLink(dir.resolve("b"), Path.of("a"));
        assertThrows(FileSystemLoopException.class, () -> UserAccess.resolve(dir.resolve("a/x")));
    }

    @Test
    void rootMayWriteAnythingOthersByTheirBits() throws Exception {
        TestUsers users = new TestUsers(dir.resolve("users"));
        Path rootFile = Files.writeString(dir.resolve("root.txt"), "r");
        assertTrue(UserAccess.mayWrite(rootFile, users.users.byName("root").orElseThrow()));
        assertFalse(UserAccess.mayWrite(rootFile, users.tester()), "0644 root file, tester is other");
    }
}
