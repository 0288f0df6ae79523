package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InotifyTest {
    @TempDir
    Path dir;

    record Event(int wd, int mask, int cookie, String name) {
    }

    @Test
    void reportsCreateModifyMoveAndDeleteWithNames() throws IOException {
        long fdsBefore = openFds();
        int fd = Inotify.init1(Inotify.IN_CLOEXEC | Inotify.IN_NONBLOCK);
        try {
            int wd = Inotify.addWatch(fd, dir.toString(),
                    Inotify.IN_CREATE | Inotify.IN_MODIFY | Inotify.IN_MOVE | Inotify.IN_DELETE | Inotify.IN_ONLYDIR);
            Files.writeString(dir.resolve("a.txt"), "x");
            Files.move(dir.resolve("a.txt"), dir.resolve("b.txt"));
            Files.createDirectory(dir.resolve("sub"));
            Files.delete(dir.resolve("b.txt"));

            List<Event> events = drain(fd);
            assertTrue(events.stream().allMatch(e -> e.wd() == wd), events.toString());
            // create, modify, moved_from, moved_to, create (dir), delete
            assertEquals(6, events.size(), events.toString());
            assertEquals("a.txt", events.get(0).name());
            assertTrue((events.get(0).mask() & Inotify.IN_CREATE) != 0);
            assertTrue((events.get(1).mask() & Inotify.IN_MODIFY) != 0);
            assertTrue((events.get(2).mask() & Inotify.IN_MOVED_FROM) != 0);
            assertEquals("a.txt", events.get(2).name());
            assertTrue((events.get(3).mask() & Inotify.IN_MOVED_TO) != 0);
            assertEquals("b.txt", events.get(3).name());
            assertEquals(events.get(2).cookie(), events.get(3).cookie(), "a rename's two halves share a cookie");
            assertEquals(Inotify.IN_CREATE | Inotify.IN_ISDIR, events.get(4).mask());
            assertEquals("sub", events.get(4).name());
            assertTrue((events.get(5).mask() & Inotify.IN_DELETE) != 0);

            Inotify.rmWatch(fd, wd);
            List<Event> after = drain(fd);
            assertEquals(1, after.size());
            assertTrue((after.get(0).mask() & Inotify.IN_IGNORED) != 0, "removing a watch queues IN_IGNORED");
        } finally {
            Libc.close(fd);
        }
        assertEquals(fdsBefore, openFds());
    }

    @Test
    void failuresNameTheCall() {
        int fd = Inotify.init1(Inotify.IN_CLOEXEC);
        try {
            NativeException e = assertThrows(NativeException.class,
                    () -> Inotify.addWatch(fd, dir.resolve("missing").toString(), Inotify.IN_CREATE));
            assertEquals("inotify_add_watch", e.call());
            assertEquals(Errno.ENOENT, e.errno());
            assertEquals(-Errno.ENOTDIR, Inotify.addWatchRaw(fd, "/etc/hostname", Inotify.IN_CREATE | Inotify.IN_ONLYDIR));
            assertEquals(-Errno.EINVAL, Inotify.rmWatchRaw(fd, 12345));
        } finally {
            Libc.close(fd);
        }
    }

    private static List<Event> drain(int fd) {
        List<Event> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Inotify.EVENT_BUFFER_SIZE, 8);
            while (true) {
                long n = Libc.readRaw(fd, buf, buf.byteSize());
                if (n == -Errno.EAGAIN) {
                    return out;
                }
                assertTrue(n > 0, "read: " + n);
                for (long off = 0; off < n; off = Inotify.nextEvent(buf, off)) {
                    out.add(new Event(Inotify.wd(buf, off), Inotify.mask(buf, off), Inotify.cookie(buf, off),
                            Inotify.name(buf, off)));
                }
            }
        }
    }

    static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
