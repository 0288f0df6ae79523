package io.sandboxd.daemon.template.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.airlift.compress.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerUnpackerTest {
    @TempDir
    Path tmp;
    Path root;
    /** A file beside the root that no layer may touch. */
    Path outside;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectories(tmp.resolve("rootfs"));
        outside = Files.writeString(tmp.resolve("outside.txt"), "host");
    }

    /** Builds a layer: each call adds one entry. */
    static final class Layer {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final TarArchiveOutputStream tar;

        Layer() {
            tar = new TarArchiveOutputStream(bytes);
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        }

        Layer dir(String name, int mode) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/");
            e.setMode(mode);
            return put(e, null);
        }

        Layer file(String name, String content, int mode, int uid) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name);
            byte[] b = content.getBytes(StandardCharsets.UTF_8);
            e.setSize(b.length);
            e.setMode(mode);
            e.setUserId(uid);
            e.setGroupId(uid);
            return put(e, b);
        }

        Layer file(String name, String content) throws IOException {
            return file(name, content, 0644, 0);
        }

        Layer link(String name, String target, byte type) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, type);
            e.setLinkName(target);
            return put(e, null);
        }

        Layer put(TarArchiveEntry e, byte[] content) throws IOException {
            tar.putArchiveEntry(e);
            if (content != null) {
                tar.write(content);
            }
            tar.closeArchiveEntry();
            return this;
        }

        byte[] done() throws IOException {
            tar.finish();
            tar.close();
            return bytes.toByteArray();
        }
    }

    Path write(String name, byte[] bytes) throws IOException {
        return Files.write(tmp.resolve(name), bytes);
    }

    static byte[] gzip(byte[] tar) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream z = new GZIPOutputStream(out)) {
            z.write(tar);
        }
        return out.toByteArray();
    }

    static byte[] zstd(byte[] tar) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream z = new ZstdOutputStream(out)) {
            z.write(tar);
        }
        return out.toByteArray();
    }

    String read(String rel) throws IOException {
        return Files.readString(root.resolve(rel));
    }

    @Test
    void stacksLayersWithWhiteoutsInEveryCompression() throws Exception {
        byte[] lower = new Layer().dir("etc", 0755).file("etc/os-release", "lower").file("etc/motd", "gone soon")
                .dir("var/cache", 0755).file("var/cache/a", "a").file("var/cache/b", "b")
                .file("usr/bin/su", "#!su", 04755, 0).file("home/user/.profile", "p", 0600, 1000).done();
        byte[] upper = new Layer().file("etc/.wh.motd", "").file("var/cache/.wh..wh..opq", "")
                .file("var/cache/new", "from the upper layer").file("etc/os-release", "upper").done();
        assertEquals(8, LayerUnpacker.apply(write("l1.tar.gz", gzip(lower)), root).entries());
        LayerUnpacker.Applied applied = LayerUnpacker.apply(write("l2.tar.zst", zstd(upper)), root);

        assertEquals("upper", read("etc/os-release"));
        assertFalse(Files.exists(root.resolve("etc/motd")), "the whiteout removed it");
        assertEquals("from the upper layer", read("var/cache/new"), "the opaque dir keeps its own layer's entries");
        assertFalse(Files.exists(root.resolve("var/cache/a")));
        assertFalse(Files.exists(root.resolve("var/cache/b")));
        assertEquals(3, applied.removed());
        assertEquals(04755, (int) Files.getAttribute(root.resolve("usr/bin/su"), "unix:mode") & 07777,
                "set-user-ID is kept");
        assertEquals(1000, Files.getAttribute(root.resolve("home/user/.profile"), "unix:uid"));
        assertEquals(0600, (int) Files.getAttribute(root.resolve("home/user/.profile"), "unix:mode") & 0777);

        LayerUnpacker.apply(write("l3.tar", new Layer().file("plain", "uncompressed").done()), root);
        assertEquals("uncompressed", read("plain"));
    }

    @Test
    void writesThroughTheImagesOwnLinksStayInsideTheRoot() throws Exception {
        byte[] layer = new Layer().dir("usr/lib", 0755).link("lib", "usr/lib", TarConstants.LF_SYMLINK)
                .file("lib/libc.so", "libc")
                .link("escape", "/", TarConstants.LF_SYMLINK).file("escape/etc/written-via-absolute-link", "x")
                .link("up", "../../../../..", TarConstants.LF_SYMLINK).file("up/outside.txt", "overwritten?")
                .link("etc-link", "/etc", TarConstants.LF_SYMLINK).file("etc-link/passwd", "root:x:0:0")
                .file("usr/lib/data", "d").link("hard", "usr/lib/data", TarConstants.LF_LINK).done();
        LayerUnpacker.apply(write("l.tar", layer), root);

        assertEquals("libc", read("usr/lib/libc.so"), "Debian's /lib -> usr/lib is followed inside the root");
        assertTrue(Files.isSymbolicLink(root.resolve("lib")));
        assertEquals("x", read("etc/written-via-absolute-link"), "an absolute link restarts at the root");
        assertEquals("overwritten?", read("outside.txt"), "../.. stops at the root");
        assertEquals("host", Files.readString(outside), "nothing outside the root changed");
        assertEquals("root:x:0:0", read("etc/passwd"));
        assertEquals("d", read("hard"));
        assertEquals(Files.getAttribute(root.resolve("usr/lib/data"), "unix:ino"),
                Files.getAttribute(root.resolve("hard"), "unix:ino"), "a hard link, not a copy");
    }

    @Test
    void refusesLayersThatClimbOutOrLinkToNothing() throws Exception {
        Path dotdot = write("dotdot.tar", new Layer().file("a/../../outside.txt", "x").done());
        OciException e = assertThrows(OciException.class, () -> LayerUnpacker.apply(dotdot, root));
        assertTrue(e.getMessage().contains("climbs out"), e.getMessage());
        Path hard = write("hard.tar", new Layer().link("h", "/etc/shadow", TarConstants.LF_LINK).done());
        e = assertThrows(OciException.class, () -> LayerUnpacker.apply(hard, root));
        assertTrue(e.getMessage().contains("hard link"), e.getMessage());
        Path notTar = write("garbage", "this is no tar at all, just some bytes".repeat(20)
                .getBytes(StandardCharsets.UTF_8));
        assertThrows(OciException.class, () -> LayerUnpacker.apply(notTar, root));
        assertEquals("host", Files.readString(outside));
        assertFalse(Files.exists(tmp.resolve("etc"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aLaterLayerReplacesADirectoryWithAFileAndBack() throws Exception {
        LayerUnpacker.apply(write("1.tar", new Layer().dir("x", 0755).file("x/inner", "i").done()), root);
        LayerUnpacker.apply(write("2.tar", new Layer().file("x", "now a file").done()), root);
        assertEquals("now a file", read("x"));
        LayerUnpacker.apply(write("3.tar", new Layer().dir("x", 0700).done()), root);
        assertTrue(Files.isDirectory(root.resolve("x")));
        assertEquals(0700, (int) Files.getAttribute(root.resolve("x"), "unix:mode") & 0777);
    }
}
