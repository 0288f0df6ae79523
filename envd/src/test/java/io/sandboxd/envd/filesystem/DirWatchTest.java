package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.filesystem.EventType;
import io.sandboxd.envd.proto.filesystem.FileType;
import io.sandboxd.envd.proto.filesystem.FilesystemEvent;
import io.sandboxd.ffi.Inotify;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirWatchTest {
    @TempDir
    Path dir;
    EntryInfos entries;
    final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<FilesystemEvent> raw = new LinkedBlockingQueue<>();

    final DirWatch.Listener listener = new DirWatch.Listener() {
        @Override
        public void onEvent(FilesystemEvent e) {
            raw.add(e);
            events.add(e.getType().name().substring("EVENT_TYPE_".length()) + " " + e.getName());
        }

        @Override
        public void onError(ConnectException error) {
            events.add("ERROR " + error.getMessage());
        }
    };

    @BeforeEach
    void setUp() throws IOException {
        entries = new EntryInfos(new TestUsers(dir.resolve(".users")).users);
    }

    private void expect(String event) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        StringBuilder seen = new StringBuilder();
        while (System.nanoTime() < deadline) {
            String e = events.poll(100, TimeUnit.MILLISECONDS);
            if (e == null) {
                continue;
            }
            if (e.equals(event)) {
                return;
            }
            seen.append(e).append("; ");
        }
        throw new AssertionError("no '" + event + "'; saw: " + seen);
    }

    private void expectQuiet() throws InterruptedException {
        String e = events.poll(300, TimeUnit.MILLISECONDS);
        assertEquals(null, e, "no event expected");
    }

    @Test
    void mapsInotifyMasksLikeUpstream() {
        assertEquals(List.of(EventType.EVENT_TYPE_CREATE), DirWatch.types(Inotify.IN_CREATE | Inotify.IN_ISDIR));
        assertEquals(List.of(EventType.EVENT_TYPE_CREATE), DirWatch.types(Inotify.IN_MOVED_TO));
        assertEquals(List.of(EventType.EVENT_TYPE_RENAME), DirWatch.types(Inotify.IN_MOVED_FROM));
        assertEquals(List.of(EventType.EVENT_TYPE_WRITE), DirWatch.types(Inotify.IN_MODIFY));
        assertEquals(List.of(EventType.EVENT_TYPE_REMOVE), DirWatch.types(Inotify.IN_DELETE));
        assertEquals(List.of(EventType.EVENT_TYPE_CHMOD), DirWatch.types(Inotify.IN_ATTRIB));
        assertEquals(List.of(), DirWatch.types(Inotify.IN_OPEN | Inotify.IN_CLOSE_WRITE));
    }

    @Test
    void reportsEveryKindOfChangeNamedRelativeToTheWatchedDirectory() throws Exception {
        try (DirWatch w = DirWatch.start(dir, false, true, entries, listener)) {
            Path f = Files.writeString(dir.resolve("a.txt"), "1");
            expect("CREATE a.txt");
            expect("WRITE a.txt");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
            expect("CHMOD a.txt");
            Files.move(f, dir.resolve("b.txt"));
            expect("RENAME a.txt");
            expect("CREATE b.txt");
            Files.delete(dir.resolve("b.txt"));
            expect("REMOVE b.txt");
            FilesystemEvent removed = null;
            for (FilesystemEvent e : raw) {
                if (e.getType() == EventType.EVENT_TYPE_REMOVE) {
                    removed = e;
                }
            }
            assertFalse(removed.hasEntry(), "a removed file has no entry");
            FilesystemEvent created = raw.stream().filter(e -> e.getName().equals("b.txt")).findFirst().orElseThrow();
            assertEquals(FileType.FILE_TYPE_FILE, created.getEntry().getType());
            assertEquals(dir.resolve("b.txt").toString(), created.getEntry().getPath());

            Files.createDirectories(dir.resolve("sub"));
            expect("CREATE sub");
            Files.writeString(dir.resolve("sub/nested.txt"), "n");
            expectQuiet(); // not recursive
        }
    }

    @Test
    void recursiveWatchFollowsNewMovedAndRemovedDirectories() throws Exception {
        Files.createDirectories(dir.resolve("pre/existing"));
        Path outside = Files.createDirectories(dir.getParent().resolve(dir.getFileName() + "-outside"));
        try (DirWatch w = DirWatch.start(dir, true, false, entries, listener)) {
            Files.writeString(dir.resolve("pre/existing/x"), "x");
            expect("CREATE pre/existing/x");
            Files.createDirectories(dir.resolve("n1/n2"));
            expect("CREATE n1");
            Files.writeString(dir.resolve("n1/n2/y"), "y");
            expect("CREATE n1/n2/y");
            Files.move(dir.resolve("n1"), dir.resolve("m1"));
            expect("RENAME n1");
            expect("CREATE m1");
            Files.writeString(dir.resolve("m1/n2/z"), "z");
            expect("CREATE m1/n2/z");
            Files.move(dir.resolve("m1"), outside.resolve("m1"));
            expect("RENAME m1");
            Files.writeString(outside.resolve("m1/n2/after"), "a");
            expectQuiet(); // moved out of the tree: no longer watched
        } finally {
            FilesystemService.removeTree(outside);
        }
    }

    @Test
    void closingReleasesTheFdsAndStartFailuresLeakNothing() throws Exception {
        long before = TestUsers.openFds();
        DirWatch w = DirWatch.start(dir, true, false, entries, listener);
        assertTrue(TestUsers.openFds() > before);
        w.close();
        w.close();
        assertTrue(w.awaitClosed(5000));
        assertEquals(before, TestUsers.openFds());
        ConnectException e = assertThrows(ConnectException.class,
                () -> DirWatch.start(dir.resolve("missing"), false, false, entries, listener));
        assertEquals(ConnectCode.INTERNAL, e.code());
        assertTrue(e.getMessage().contains("ENOENT"), e.getMessage());
        assertEquals(before, TestUsers.openFds());
    }
}
