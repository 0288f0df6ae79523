package io.sandboxd.envd.filesystem;

import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.connect.CallContext;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.connect.ConnectRouter;
import io.sandboxd.envd.connect.StreamSink;
import io.sandboxd.envd.proto.filesystem.CreateWatcherRequest;
import io.sandboxd.envd.proto.filesystem.CreateWatcherResponse;
import io.sandboxd.envd.proto.filesystem.EntryInfo;
import io.sandboxd.envd.proto.filesystem.FilesystemEvent;
import io.sandboxd.envd.proto.filesystem.GetWatcherEventsRequest;
import io.sandboxd.envd.proto.filesystem.GetWatcherEventsResponse;
import io.sandboxd.envd.proto.filesystem.ListDirRequest;
import io.sandboxd.envd.proto.filesystem.ListDirResponse;
import io.sandboxd.envd.proto.filesystem.MakeDirRequest;
import io.sandboxd.envd.proto.filesystem.MakeDirResponse;
import io.sandboxd.envd.proto.filesystem.MoveRequest;
import io.sandboxd.envd.proto.filesystem.MoveResponse;
import io.sandboxd.envd.proto.filesystem.RemoveRequest;
import io.sandboxd.envd.proto.filesystem.RemoveResponse;
import io.sandboxd.envd.proto.filesystem.RemoveWatcherRequest;
import io.sandboxd.envd.proto.filesystem.RemoveWatcherResponse;
import io.sandboxd.envd.proto.filesystem.StatRequest;
import io.sandboxd.envd.proto.filesystem.StatResponse;
import io.sandboxd.envd.proto.filesystem.WatchDirRequest;
import io.sandboxd.envd.proto.filesystem.WatchDirResponse;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

/**
 * {@code filesystem.Filesystem} (spec 3.4, 3.5). Paths are resolved for the calling user ({@code ~}, relative to
 * the default workdir or home); directories envd creates belong to that user. Everything here runs on the Connect
 * layer's worker threads, so blocking file I/O is fine.
 */
public final class FilesystemService {
    public static final String SERVICE = "filesystem.Filesystem";
    /** ListDir answers are built in memory: past this many entries the client must ask for less depth. */
    static final int MAX_LIST_ENTRIES = 200_000;

    private final EnvdAuth auth;
    private final EntryInfos entries;
    private final PolledWatchers polled;

    public FilesystemService(EnvdAuth auth) {
        this.auth = auth;
        this.entries = new EntryInfos(auth.users());
        this.polled = new PolledWatchers(entries);
    }

    public void register(ConnectRouter router) {
        router.unary(SERVICE, "Stat", StatRequest.getDefaultInstance(), this::stat)
                .unary(SERVICE, "MakeDir", MakeDirRequest.getDefaultInstance(), this::makeDir)
                .unary(SERVICE, "Move", MoveRequest.getDefaultInstance(), this::move)
                .unary(SERVICE, "ListDir", ListDirRequest.getDefaultInstance(), this::listDir)
                .unary(SERVICE, "Remove", RemoveRequest.getDefaultInstance(), this::remove)
                .serverStream(SERVICE, "WatchDir", WatchDirRequest.getDefaultInstance(),
                        WatchDirResponse.newBuilder().setKeepalive(WatchDirResponse.KeepAlive.getDefaultInstance())
                                .build(), this::watchDir)
                .unary(SERVICE, "CreateWatcher", CreateWatcherRequest.getDefaultInstance(), this::createWatcher)
                .unary(SERVICE, "GetWatcherEvents", GetWatcherEventsRequest.getDefaultInstance(),
                        this::getWatcherEvents)
                .unary(SERVICE, "RemoveWatcher", RemoveWatcherRequest.getDefaultInstance(), this::removeWatcher);
    }

    public EntryInfos entries() {
        return entries;
    }

    /** Stops every polled watcher (envd shutting down). */
    public void close() {
        polled.closeAll();
    }

    StatResponse stat(StatRequest req, CallContext ctx) {
        Path path = resolve(req.getPath(), ctx.user());
        try {
            return StatResponse.newBuilder().setEntry(entries.of(path)).build();
        } catch (IOException e) {
            throw FsErrors.of("stat " + path, e);
        }
    }

    MakeDirResponse makeDir(MakeDirRequest req, CallContext ctx) {
        Path path = resolve(req.getPath(), ctx.user());
        if (Files.isDirectory(path)) {
            throw new ConnectException(ConnectCode.ALREADY_EXISTS, "directory already exists: " + path);
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT,
                    "path already exists but it is not a directory: " + path);
        }
        try {
            if (!OwnedDirs.create(path, ctx.user())) {
                throw new ConnectException(ConnectCode.ALREADY_EXISTS, "directory already exists: " + path);
            }
            return MakeDirResponse.newBuilder().setEntry(entries.of(path)).build();
        } catch (IOException e) {
            throw FsErrors.of("make directory " + path, e);
        }
    }

    MoveResponse move(MoveRequest req, CallContext ctx) {
        Path source = resolve(req.getSource(), ctx.user());
        Path destination = resolve(req.getDestination(), ctx.user());
        if (!Files.exists(source, LinkOption.NOFOLLOW_LINKS)) {
            throw new ConnectException(ConnectCode.NOT_FOUND, "source file not found: " + source);
        }
        try {
            Path parent = destination.getParent();
            if (parent != null) {
                OwnedDirs.create(parent, ctx.user());
            }
            // rename(2) semantics: an existing file (or empty directory) at the destination is replaced.
            Files.move(source, destination, StandardCopyOption.REPLACE_EXISTING);
            return MoveResponse.newBuilder().setEntry(entries.of(destination)).build();
        } catch (IOException e) {
            throw FsErrors.of("move " + source + " to " + destination, e);
        }
    }

    ListDirResponse listDir(ListDirRequest req, CallContext ctx) {
        int depth = req.getDepth() == 0 ? 1 : req.getDepth();
        if (depth < 0) { // uint32 above 2^31 - 1: as good as unlimited
            depth = Integer.MAX_VALUE;
        }
        Path requested = resolve(req.getPath(), ctx.user());
        Path real;
        try {
            // The root is followed when it is a symlink; links inside are listed, not followed.
            real = requested.toRealPath();
        } catch (IOException e) {
            throw FsErrors.of("list " + requested, e);
        }
        if (!Files.isDirectory(real)) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "path is not a directory: " + requested);
        }
        List<EntryInfo> out = new ArrayList<>();
        try {
            walk(requested, depth, out);
        } catch (IOException e) {
            throw FsErrors.of("list " + requested, e);
        }
        return ListDirResponse.newBuilder().addAllEntries(out).build();
    }

    /** Pre-order, names sorted, as upstream's {@code filepath.WalkDir}; paths built on the requested path. */
    private void walk(Path dir, int depthLeft, List<EntryInfo> out) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        }
        children.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        for (Path child : children) {
            EntryInfo e;
            try {
                e = entries.of(child);
            } catch (NoSuchFileException gone) {
                continue; // deleted while listing
            }
            if (out.size() >= MAX_LIST_ENTRIES) {
                throw new ConnectException(ConnectCode.RESOURCE_EXHAUSTED, "more than " + MAX_LIST_ENTRIES
                        + " entries under " + dir + ": list with a smaller depth");
            }
            out.add(e);
            if (depthLeft > 1 && Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                walk(child, depthLeft - 1, out);
            }
        }
    }

    RemoveResponse remove(RemoveRequest req, CallContext ctx) {
        Path path = resolve(req.getPath(), ctx.user());
        try {
            removeTree(path);
        } catch (IOException e) {
            throw FsErrors.of("remove " + path, e);
        }
        return RemoveResponse.getDefaultInstance();
    }

    /** {@code rm -rf}: a missing path is fine, symlinks are removed and never followed. */
    static void removeTree(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(path, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null && !(exc instanceof NoSuchFileException)) {
                    throw exc;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    void watchDir(WatchDirRequest req, CallContext ctx, StreamSink<WatchDirResponse> sink) {
        Path dir = watchableDir(req.getPath(), req.getAllowNetworkMounts(), ctx.user());
        CountDownLatch started = new CountDownLatch(1);
        DirWatch watch = DirWatch.start(dir, req.getRecursive(), req.getIncludeEntry(), entries,
                new DirWatch.Listener() {
                    @Override
                    public void onEvent(FilesystemEvent event) {
                        // The start message goes first; events seen meanwhile wait for it.
                        awaitUninterruptibly(started);
                        sink.send(WatchDirResponse.newBuilder().setFilesystem(event).build());
                    }

                    @Override
                    public void onError(ConnectException error) {
                        awaitUninterruptibly(started);
                        sink.fail(error);
                    }
                });
        // Deadline, client abort or an error: the watch (its inotify fd and thread) goes with the stream.
        sink.onClose(reason -> watch.close());
        try {
            sink.send(WatchDirResponse.newBuilder().setStart(WatchDirResponse.StartEvent.getDefaultInstance()).build());
        } finally {
            started.countDown();
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    CreateWatcherResponse createWatcher(CreateWatcherRequest req, CallContext ctx) {
        Path dir = watchableDir(req.getPath(), req.getAllowNetworkMounts(), ctx.user());
        String id = polled.create(dir, req.getRecursive(), req.getIncludeEntry());
        return CreateWatcherResponse.newBuilder().setWatcherId(id).build();
    }

    GetWatcherEventsResponse getWatcherEvents(GetWatcherEventsRequest req, CallContext ctx) {
        return GetWatcherEventsResponse.newBuilder().addAllEvents(polled.drain(req.getWatcherId())).build();
    }

    RemoveWatcherResponse removeWatcher(RemoveWatcherRequest req, CallContext ctx) {
        polled.remove(req.getWatcherId());
        return RemoveWatcherResponse.getDefaultInstance();
    }

    /** The directory a watch may be put on: it exists, is a directory, and (unless allowed) is not a network mount. */
    private Path watchableDir(String requested, boolean allowNetworkMounts, UserAccount user) {
        Path dir = resolve(requested, user);
        if (!Files.exists(dir)) {
            throw new ConnectException(ConnectCode.NOT_FOUND, "path " + dir + " not found");
        }
        if (!Files.isDirectory(dir)) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "path " + dir + " is not a directory");
        }
        if (!allowNetworkMounts && isNetworkMount(dir)) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "cannot watch path on network filesystem: "
                    + dir + " (inotify sees no remote changes; set allowNetworkMounts to watch it anyway)");
        }
        return dir;
    }

    static boolean isNetworkMount(Path dir) {
        try {
            String type = Files.getFileStore(dir).type().toLowerCase(Locale.ROOT);
            return type.startsWith("nfs") || type.startsWith("cifs") || type.startsWith("smb")
                    || type.startsWith("fuse");
        } catch (IOException e) {
            return false;
        }
    }

    private Path resolve(String path, UserAccount user) {
        if (path.indexOf('\0') >= 0) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "path contains a NUL byte");
        }
        try {
            return auth.resolvePath(path, user);
        } catch (java.nio.file.InvalidPathException e) {
            throw new ConnectException(ConnectCode.INVALID_ARGUMENT, "invalid path '" + path + "': " + e.getReason());
        }
    }
}
