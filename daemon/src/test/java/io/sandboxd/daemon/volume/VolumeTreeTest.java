package io.sandboxd.daemon.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.sandboxd.api.volume.EntryStat;
import io.sandboxd.api.volume.Ownership;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.volume.VolumePathException.Kind;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Path safety of the volume file API: what a sandbox's root may have planted in a volume never leads out of it. */
class VolumeTreeTest {
    Path base;
    Path outside;
    VolumeTree tree;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root (entries are chowned to uid 1000)");
        base = Files.createTempDirectory("sandboxd-volume-tree-");
        outside = Files.createDirectory(base.resolve("outside"));
        Files.writeString(outside.resolve("secret"), "host secret");
        tree = VolumeTree.create(base.resolve("volumes").resolve("v1"));
        // what a sandbox could leave behind
        Files.createSymbolicLink(tree.root().resolve("dirlink"), outside);
        Files.createSymbolicLink(tree.root().resolve("filelink"), outside.resolve("secret"));
        Files.createSymbolicLink(tree.root().resolve("dangling"), outside.resolve("made-through-a-link"));
    }

    @AfterEach
    void tearDown() {
        if (base != null) {
            DirectoryTrees.deleteRecursively(base);
        }
    }

    static Kind refusal(Runnable r) {
        return assertThrows(VolumePathException.class, r::run).kind();
    }

    @Test
    void componentsRefuseTraversalAndOddNames() {
        assertEquals(List.of("a", "b"), VolumeTree.components("/a//./b/"));
        assertEquals(List.of("a"), VolumeTree.components("a"));
        assertEquals(List.of(), VolumeTree.components("/"));
        assertEquals(List.of(), VolumeTree.components(""));
        for (String bad : List.of("..", "/../etc", "a/../../b", "/a/..", "a\0b", "/" + "x".repeat(256),
                "/" + "a/".repeat(2100))) {
            assertEquals(Kind.INVALID, refusal(() -> VolumeTree.components(bad)), bad);
        }
    }

    @Test
    void noOperationFollowsALinkOut() throws Exception {
        List<Consumer<VolumeTree>> ops = List.of(
                t -> t.read("/filelink"),
                t -> t.read("/dirlink/secret"),
                t -> t.stat("/dirlink/secret"),
                t -> t.list("/dirlink", 1),
                t -> t.write("/filelink", "x".getBytes(), Ownership.DEFAULT),
                t -> t.write("/dangling", "x".getBytes(), Ownership.DEFAULT),
                t -> t.write("/dirlink/new", "x".getBytes(), Ownership.DEFAULT),
                t -> t.makeDir("/dirlink/newdir", Ownership.DEFAULT, true),
                t -> t.makeDir("/dirlink/a/b", Ownership.DEFAULT, true),
                t -> t.updateMetadata("/filelink", new Ownership(0, 0, 0777)),
                t -> t.updateMetadata("/dirlink/secret", new Ownership(0, 0, 0777)),
                t -> t.remove("/dirlink/secret"));
        for (int i = 0; i < ops.size(); i++) {
            int n = i;
            assertEquals(Kind.INVALID, refusal(() -> ops.get(n).accept(tree)), "operation " + i);
        }
        assertEquals("host secret", Files.readString(outside.resolve("secret")));
        assertEquals(List.of("secret"), Files.list(outside).map(p -> p.getFileName().toString()).toList());
        assertFalse(Files.getPosixFilePermissions(outside.resolve("secret")).contains(
                java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE), "the target's mode is unchanged");
    }

    @Test
    void linksAreReportedAndRemovedAsLinks() throws Exception {
        EntryStat link = tree.stat("/dirlink");
        assertEquals("symlink", link.type());
        assertEquals(outside.toString(), link.target());
        tree.remove("/dirlink");
        tree.remove("/filelink");
        assertTrue(Files.exists(outside.resolve("secret")), "removing a link removes the link only");
        assertFalse(Files.exists(tree.root().resolve("dirlink"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void removingATreeWithLinksInsideLeavesTheirTargets() throws Exception {
        tree.makeDir("/d/e", Ownership.DEFAULT, true);
        Files.createSymbolicLink(tree.root().resolve("d/e/out"), outside);
        tree.write("/d/e/f.txt", "f".getBytes(), Ownership.DEFAULT);
        tree.remove("/d");
        assertFalse(Files.exists(tree.root().resolve("d")));
        assertTrue(Files.exists(outside.resolve("secret")));

        tree.removeAll();
        assertFalse(Files.exists(tree.root(), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(outside.resolve("secret")), "destroying the volume leaves link targets alone");
    }

    @Test
    void writeReadAndOwnership() {
        EntryStat w = tree.write("/x/y/z.bin", new byte[] {0, 1, 2, (byte) 255}, new Ownership(null, 1234, null));
        assertEquals("file", w.type());
        assertEquals(4, w.size());
        assertEquals(VolumeTree.DEFAULT_UID, w.uid());
        assertEquals(1234, w.gid());
        assertEquals(0644, w.mode());
        assertEquals(VolumeTree.DEFAULT_UID, tree.stat("/x/y").uid(), "created parents belong to the sandbox user");
        assertArrayEquals(new byte[] {0, 1, 2, (byte) 255}, tree.read("x/y/z.bin"));
        tree.write("/x/y/z.bin", "shorter".getBytes(StandardCharsets.UTF_8), Ownership.DEFAULT);
        assertEquals("shorter", new String(tree.read("/x/y/z.bin"), StandardCharsets.UTF_8), "an overwrite truncates");
        assertEquals(Kind.INVALID, refusal(() -> tree.read("/x")), "a directory is not a file");
        assertEquals(Kind.INVALID, refusal(() -> tree.write("/x", new byte[0], Ownership.DEFAULT)));
        assertEquals(Kind.INVALID, refusal(() -> tree.write("/x/y/z.bin/w", new byte[0], Ownership.DEFAULT)),
                "a file is not a directory");
        assertEquals(Kind.NOT_FOUND, refusal(() -> tree.read("/nope")));
        assertEquals(Kind.NOT_FOUND, refusal(() -> tree.list("/nope", 1)));
        assertEquals(Kind.NOT_FOUND, refusal(() -> tree.remove("/nope")));
        assertEquals(Kind.CONFLICT, refusal(() -> tree.makeDir("/x", Ownership.DEFAULT, false)));
        assertEquals(Kind.CONFLICT, refusal(() -> tree.makeDir("/x/y/z.bin", Ownership.DEFAULT, true)),
                "force does not turn a file into a directory");
    }

    @Test
    void parentsMadeForAWriteAreDirectoriesOfTheRequestsOwner() {
        EntryStat f = tree.write("/p/q/secret.txt", "s".getBytes(), new Ownership(4321, 4321, 0600));
        assertEquals(0600, f.mode());
        EntryStat parent = tree.stat("/p/q");
        assertEquals(0755, parent.mode(), "a directory's mode, not the file's");
        assertEquals(4321, parent.uid());
        EntryStat made = tree.makeDir("/m/n", new Ownership(null, null, 0700), true);
        assertEquals(0700, made.mode());
        assertEquals(0755, tree.stat("/m").mode());
    }

    @Test
    @org.junit.jupiter.api.Timeout(60) // a hang guard: a FIFO opened without O_NONBLOCK would block for ever
    void fifosAndOtherSpecialFilesAreRefusedWithoutBlocking() throws Exception {
        Path fifo = tree.root().resolve("pipe");
        io.sandboxd.daemon.host.HostCommand.check(List.of("mkfifo", fifo.toString()));
        assertEquals("unknown", tree.stat("/pipe").type());
        assertEquals(Kind.INVALID, refusal(() -> tree.read("/pipe")));
        assertEquals(Kind.INVALID, refusal(() -> tree.write("/pipe", "x".getBytes(), Ownership.DEFAULT)));
        assertEquals(Kind.INVALID, refusal(() -> tree.updateMetadata("/pipe", new Ownership(0, 0, 0777))));
        tree.remove("/pipe");
        assertFalse(Files.exists(fifo, java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }
}
