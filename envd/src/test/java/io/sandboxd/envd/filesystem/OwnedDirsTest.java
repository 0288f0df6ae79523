package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OwnedDirsTest {
    @TempDir
    Path dir;

    @Test
    void createdDirectoriesBelongToTheUserExistingOnesKeepTheirOwner() throws IOException {
        TestUsers u = new TestUsers(dir);
        Path deep = dir.resolve("a/b/c");
        assertTrue(OwnedDirs.create(deep, u.tester()));
        for (Path p : new Path[] {dir.resolve("a"), dir.resolve("a/b"), deep}) {
            assertEquals(TestUsers.TESTER_UID, TestUsers.uid(p), p.toString());
            assertEquals(4242, TestUsers.gid(p), p.toString());
        }
        assertEquals(0, TestUsers.uid(dir), "the existing parent is untouched");
        assertFalse(OwnedDirs.create(deep, u.tester()));
    }

    @Test
    void aFileInTheWayIsReported() throws IOException {
        TestUsers u = new TestUsers(dir);
        Files.writeString(dir.resolve("file"), "x");
        NotDirectoryException e = assertThrows(NotDirectoryException.class,
                () -> OwnedDirs.create(dir.resolve("file/sub/dir"), u.tester()));
        assertEquals(dir.resolve("file").toString(), e.getFile());
    }
}
