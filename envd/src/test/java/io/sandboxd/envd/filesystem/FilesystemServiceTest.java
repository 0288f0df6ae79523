package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.envd.connect.CallContext;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.connect.StreamSink;
import io.sandboxd.envd.proto.filesystem.CreateWatcherRequest;
import io.sandboxd.envd.proto.filesystem.EntryInfo;
import io.sandboxd.envd.proto.filesystem.EventType;
import io.sandboxd.envd.proto.filesystem.FileType;
import io.sandboxd.envd.proto.filesystem.FilesystemEvent;
import io.sandboxd.envd.proto.filesystem.GetWatcherEventsRequest;
import io.sandboxd.envd.proto.filesystem.ListDirRequest;
import io.sandboxd.envd.proto.filesystem.MakeDirRequest;
import io.sandboxd.envd.proto.filesystem.MoveRequest;
import io.sandboxd.envd.proto.filesystem.RemoveRequest;
import io.sandboxd.envd.proto.filesystem.RemoveWatcherRequest;
import io.sandboxd.envd.proto.filesystem.StatRequest;
import io.sandboxd.envd.proto.filesystem.WatchDirRequest;
import io.sandboxd.envd.proto.filesystem.WatchDirResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilesystemServiceTest {
    @TempDir
    Path dir;
    TestUsers users;
    FilesystemService fs;
    CallContext ctx;

    @BeforeEach
    void setUp() throws IOException {
        users = new TestUsers(dir);
        fs = new FilesystemService(users.auth);
        ctx = users.call("/filesystem.Filesystem/Test");
    }

    @AfterEach
    void tearDown() {
        fs.close();
    }

    private static ConnectCode code(Runnable r) {
        return assertThrows(ConnectException.class, r::run).code();
    }

    private String p(String rel) {
        return dir.resolve(rel).toString();
    }

    @Test
    void statOfMissingIsNotFound() {
        assertEquals(ConnectCode.NOT_FOUND, code(() -> fs.stat(StatRequest.newBuilder().setPath(p("nope")).build(), ctx)));
    }

    @Test
    void pathsResolveAgainstHomeAndDefaultWorkdir() throws IOException {
        Files.writeString(users.home.resolve("h.txt"), "h");
        assertEquals(users.home.resolve("h.txt").toString(),
                fs.stat(StatRequest.newBuilder().setPath("~/h.txt").build(), ctx).getEntry().getPath());
        assertEquals(users.home.resolve("h.txt").toString(),
                fs.stat(StatRequest.newBuilder().setPath("h.txt").build(), ctx).getEntry().getPath());
        Path work = Files.createDirectories(dir.resolve("work"));
        Files.writeString(work.resolve("w.txt"), "w");
        users.state.update(s -> new io.sandboxd.envd.EnvdState.Settings(s.accessToken(), s.envVars(), s.defaultUser(),
                work.toString()));
        assertEquals(work.resolve("w.txt").toString(),
                fs.stat(StatRequest.newBuilder().setPath("w.txt").build(), ctx).getEntry().getPath());
        assertEquals(ConnectCode.INVALID_ARGUMENT,
                code(() -> fs.stat(StatRequest.newBuilder().setPath("/a\0b").build(), ctx)));
    }

    @Test
    void makeDirCreatesParentsOwnedByTheUserAndRefusesTwice() throws IOException {
        EntryInfo e = fs.makeDir(MakeDirRequest.newBuilder().setPath(p("x/y/z")).build(), ctx).getEntry();
        assertEquals(FileType.FILE_TYPE_DIRECTORY, e.getType());
        assertEquals(p("x/y/z"), e.getPath());
        assertEquals("tester", e.getOwner());
        assertEquals(TestUsers.TESTER_UID, TestUsers.uid(dir.resolve("x")));
        assertEquals(ConnectCode.ALREADY_EXISTS,
                code(() -> fs.makeDir(MakeDirRequest.newBuilder().setPath(p("x/y/z")).build(), ctx)));
        Files.writeString(dir.resolve("file"), "f");
        assertEquals(ConnectCode.INVALID_ARGUMENT,
                code(() -> fs.makeDir(MakeDirRequest.newBuilder().setPath(p("file")).build(), ctx)));
        assertEquals(ConnectCode.INVALID_ARGUMENT,
                code(() -> fs.makeDir(MakeDirRequest.newBuilder().setPath(p("file/sub")).build(), ctx)));
    }

    @Test
    void moveCreatesParentsReplacesFilesAndReportsMissingSource() throws IOException {
        Files.writeString(dir.resolve("src.txt"), "data");
        EntryInfo e = fs.move(MoveRequest.newBuilder().setSource(p("src.txt")).setDestination(p("new/dir/dst.txt"))
                .build(), ctx).getEntry();
        assertEquals(p("new/dir/dst.txt"), e.getPath());
        assertEquals("data", Files.readString(dir.resolve("new/dir/dst.txt")));
        assertFalse(Files.exists(dir.resolve("src.txt")));
        assertEquals(TestUsers.TESTER_UID, TestUsers.uid(dir.resolve("new")));
        Files.writeString(dir.resolve("other.txt"), "other");
        fs.move(MoveRequest.newBuilder().setSource(p("other.txt")).setDestination(p("new/dir/dst.txt")).build(), ctx);
        assertEquals("other", Files.readString(dir.resolve("new/dir/dst.txt")));
        assertEquals(ConnectCode.NOT_FOUND, code(() -> fs.move(MoveRequest.newBuilder().setSource(p("gone"))
                .setDestination(p("x")).build(), ctx)));
    }

    @Test
    void listDirHonoursDepthFollowsOnlyTheRootLinkAndBuildsPathsOnTheRequest() throws IOException {
        Path root = Files.createDirectories(dir.resolve("tree/a/b/c"));
        Files.writeString(dir.resolve("tree/f.txt"), "f");
        Files.writeString(dir.resolve("tree/a/g.txt"), "g");
        Path outside = Files.createDirectories(dir.resolve("outside/inner"));
        Files.createSymbolicLink(dir.resolve("tree/ln"), outside);
        Files.createSymbolicLink(dir.resolve("rootlink"), dir.resolve("tree"));

        List<String> depth1 = names(fs.listDir(ListDirRequest.newBuilder().setPath(p("tree")).build(), ctx).getEntriesList());
        assertEquals(List.of("a", "f.txt", "ln"), depth1, "depth 0 means 1");
        List<EntryInfo> d2 = fs.listDir(ListDirRequest.newBuilder().setPath(p("tree")).setDepth(2).build(), ctx)
                .getEntriesList();
        assertEquals(List.of("a", "b", "g.txt", "f.txt", "ln"), names(d2), "pre-order, sorted, the link not entered");
        EntryInfo ln = d2.get(4);
        assertEquals(FileType.FILE_TYPE_DIRECTORY, ln.getType());
        assertEquals(outside.toString(), ln.getSymlinkTarget());

        List<EntryInfo> viaLink = fs.listDir(ListDirRequest.newBuilder().setPath(p("rootlink")).setDepth(3).build(), ctx)
                .getEntriesList();
        assertEquals(p("rootlink/a/b/c"), viaLink.get(2).getPath(), "paths are built on the requested path");
        assertEquals(6, viaLink.size());
        assertNotNull(root);

        assertEquals(ConnectCode.NOT_FOUND,
                code(() -> fs.listDir(ListDirRequest.newBuilder().setPath(p("missing")).build(), ctx)));
        assertEquals(ConnectCode.INVALID_ARGUMENT,
                code(() -> fs.listDir(ListDirRequest.newBuilder().setPath(p("tree/f.txt")).build(), ctx)));
        Files.createSymbolicLink(dir.resolve("loop1"), dir.resolve("loop2"));
        Files.createSymbolicLink(dir.resolve("loop2"), dir.resolve("loop1"));
        assertEquals(ConnectCode.FAILED_PRECONDITION,
                code(() -> fs.listDir(ListDirRequest.newBuilder().setPath(p("loop1")).build(), ctx)));
    }

    private static List<String> names(List<EntryInfo> entries) {
        return entries.stream().map(EntryInfo::getName).toList();
    }

    @Test
    void removeIsRmRfAndNeverFollowsLinks() throws IOException {
        Path keep = Files.writeString(Files.createDirectories(dir.resolve("keep")).resolve("k"), "k");
        Files.createDirectories(dir.resolve("gone/sub"));
        Files.writeString(dir.resolve("gone/sub/f"), "f");
        Files.createSymbolicLink(dir.resolve("gone/link"), dir.resolve("keep"));
        fs.remove(RemoveRequest.newBuilder().setPath(p("gone")).build(), ctx);
        assertFalse(Files.exists(dir.resolve("gone"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(keep));
        fs.remove(RemoveRequest.newBuilder().setPath(p("gone")).build(), ctx);
        Files.createSymbolicLink(dir.resolve("lnk"), dir.resolve("keep"));
        fs.remove(RemoveRequest.newBuilder().setPath(p("lnk")).build(), ctx);
        assertTrue(Files.exists(keep));
    }

    @Test
    void polledWatcherCollectsDrainsAndIsRemoved() throws Exception {
        Path w = Files.createDirectories(dir.resolve("watched"));
        long fds = TestUsers.openFds();
        String id = fs.createWatcher(CreateWatcherRequest.newBuilder().setPath(w.toString()).setRecursive(true)
                .setIncludeEntry(true).build(), ctx).getWatcherId();
        assertTrue(id.matches("w[a-z0-9]{20}"), id);
        Files.writeString(w.resolve("one.txt"), "1");
        List<FilesystemEvent> events = waitFor(() -> fs.getWatcherEvents(GetWatcherEventsRequest.newBuilder()
                .setWatcherId(id).build(), ctx).getEventsList(), ev -> ev.getName().equals("one.txt")
                && ev.getType() == EventType.EVENT_TYPE_WRITE);
        FilesystemEvent create = events.get(0);
        assertEquals("one.txt", create.getName());
        assertEquals(EventType.EVENT_TYPE_CREATE, create.getType());
        assertTrue(create.hasEntry());
        assertEquals(w.resolve("one.txt").toString(), create.getEntry().getPath());
        assertEquals(List.of(), fs.getWatcherEvents(GetWatcherEventsRequest.newBuilder().setWatcherId(id).build(), ctx)
                .getEventsList(), "drained");
        fs.removeWatcher(RemoveWatcherRequest.newBuilder().setWatcherId(id).build(), ctx);
        assertEquals(ConnectCode.NOT_FOUND, code(() -> fs.getWatcherEvents(GetWatcherEventsRequest.newBuilder()
                .setWatcherId(id).build(), ctx)));
        assertEquals(ConnectCode.NOT_FOUND, code(() -> fs.removeWatcher(RemoveWatcherRequest.newBuilder()
                .setWatcherId(id).build(), ctx)));
        awaitFds(fds);
        assertEquals(ConnectCode.NOT_FOUND, code(() -> fs.createWatcher(CreateWatcherRequest.newBuilder()
                .setPath(p("missing")).build(), ctx)));
        Files.writeString(dir.resolve("plain"), "x");
        assertEquals(ConnectCode.INVALID_ARGUMENT, code(() -> fs.createWatcher(CreateWatcherRequest.newBuilder()
                .setPath(p("plain")).build(), ctx)));
    }

    @Test
    void watchDirStartsFirstStreamsEventsAndReleasesTheWatchWhenTheClientGoes() throws Exception {
        Path w = Files.createDirectories(dir.resolve("stream"));
        long fds = TestUsers.openFds();
        RecordingSink<WatchDirResponse> sink = new RecordingSink<>();
        fs.watchDir(WatchDirRequest.newBuilder().setPath(w.toString()).setRecursive(true).build(), ctx, sink);
        assertTrue(sink.next(1000).hasStart(), "the start message comes first");
        Files.createDirectories(w.resolve("d1/d2"));
        Files.writeString(w.resolve("d1/d2/deep.txt"), "x");
        List<String> seen = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!seen.contains("CREATE d1/d2/deep.txt") && System.nanoTime() < deadline) {
            WatchDirResponse r = sink.next(200);
            if (r != null && r.hasFilesystem()) {
                seen.add(r.getFilesystem().getType().name().substring("EVENT_TYPE_".length()) + " "
                        + r.getFilesystem().getName());
                assertFalse(r.getFilesystem().hasEntry(), "no entry unless includeEntry");
            }
        }
        assertTrue(seen.contains("CREATE d1"), seen.toString());
        assertTrue(seen.contains("CREATE d1/d2/deep.txt"), seen.toString());
        sink.close(StreamSink.CloseReason.CLIENT_GONE);
        awaitFds(fds);

        assertEquals(ConnectCode.NOT_FOUND, code(() -> fs.watchDir(WatchDirRequest.newBuilder()
                .setPath(p("missing")).build(), ctx, new RecordingSink<>())));
        Files.writeString(dir.resolve("plainfile"), "x");
        assertEquals(ConnectCode.INVALID_ARGUMENT, code(() -> fs.watchDir(WatchDirRequest.newBuilder()
                .setPath(p("plainfile")).build(), ctx, new RecordingSink<>())));
    }

    static <T> List<T> waitFor(Supplier<List<T>> poll, java.util.function.Predicate<T> done) throws InterruptedException {
        List<T> all = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline) {
            all.addAll(poll.get());
            if (all.stream().anyMatch(done)) {
                return all;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("timed out; saw " + all);
    }

    static void awaitFds(long expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (TestUsers.openFds() > expected && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(expected, TestUsers.openFds(), "the watch's inotify fd and eventfd are closed");
    }
}
