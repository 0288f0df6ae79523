package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sandboxd.envd.proto.filesystem.EntryInfo;
import io.sandboxd.envd.proto.filesystem.FileType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EntryInfosTest {
    @TempDir
    Path dir;
    TestUsers users;
    EntryInfos entries;

    @BeforeEach
    void setUp() throws IOException {
        users = new TestUsers(dir);
        entries = new EntryInfos(users.users);
    }

    @Test
    void regularFile() throws IOException {
        Path f = Files.writeString(dir.resolve("a.txt"), "hello");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setLastModifiedTime(f, FileTime.from(Instant.parse("2025-01-02T03:04:05.123456789Z")));
        OwnedDirs.chown(f, users.tester());
        UserMetadata.replace(f, Map.of("author", "me"));
        EntryInfo e = entries.of(f);
        assertEquals("a.txt", e.getName());
        assertEquals(f.toString(), e.getPath());
        assertEquals(FileType.FILE_TYPE_FILE, e.getType());
        assertEquals(5, e.getSize());
        assertEquals(420, e.getMode());
        assertEquals("-rw-r--r--", e.getPermissions());
        assertEquals("tester", e.getOwner());
        assertEquals("testers", e.getGroup());
        assertEquals(Instant.parse("2025-01-02T03:04:05.123456789Z").getEpochSecond(), e.getModifiedTime().getSeconds());
        assertEquals(123456789, e.getModifiedTime().getNanos());
        assertFalse(e.hasSymlinkTarget());
        assertEquals(Map.of("author", "me"), e.getMetadataMap());
    }

    @Test
    void unknownIdsAreShownAsNumbers() throws IOException {
        Path f = Files.writeString(dir.resolve("n"), "");
        Files.setAttribute(f, "unix:uid", 54321, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(f, "unix:gid", 54322, LinkOption.NOFOLLOW_LINKS);
        EntryInfo e = entries.of(f);
        assertEquals("54321", e.getOwner());
        assertEquals("54322", e.getGroup());
    }

    @Test
    void symlinkHasTheTargetsTypeAndModeAndItsResolvedPath() throws IOException {
        Path target = Files.createDirectory(dir.resolve("target"));
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwx------"));
        Path hop = Files.createSymbolicLink(dir.resolve("hop"), Path.of("target"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), hop);
        EntryInfo e = entries.of(link);
        assertEquals("link", e.getName());
        assertEquals(link.toString(), e.getPath());
        assertEquals(FileType.FILE_TYPE_DIRECTORY, e.getType());
        assertEquals(0700, e.getMode());
        assertEquals("Lrwxrwxrwx", e.getPermissions());
        assertEquals(target.toRealPath().toString(), e.getSymlinkTarget());
        assertEquals(Files.readSymbolicLink(link).toString().length(), e.getSize(), "size is the link's own");
    }

    @Test
    void danglingSymlinkIsReportedAsASymlink() throws IOException {
        Path link = Files.createSymbolicLink(dir.resolve("dangling"), Path.of("nowhere"));
        EntryInfo e = entries.of(link);
        assertEquals(FileType.FILE_TYPE_SYMLINK, e.getType());
        assertEquals(dir.resolve("nowhere").toString(), e.getSymlinkTarget());
    }

    @Test
    void rootIsNamedSlashAndMissingPathsFail() throws IOException {
        assertEquals("/", entries.of(Path.of("/")).getName());
        assertThrows(NoSuchFileException.class, () -> entries.of(dir.resolve("missing")));
        assertNull(entries.ofIfExists(dir.resolve("missing")));
    }
}
