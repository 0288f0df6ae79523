package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class XattrTest {
    @TempDir
    Path dir;

    @Test
    void setGetListRemoveRoundTrip() throws IOException {
        String f = Files.writeString(dir.resolve("f"), "x").toString();
        assertEquals(List.of(), Xattr.list(f, true).stream().filter(n -> n.startsWith("user.")).toList());
        Xattr.set(f, "user.e2b.a", "1".getBytes(StandardCharsets.US_ASCII), 0, true);
        Xattr.set(f, "user.e2b.empty", new byte[0], 0, true);
        assertArrayEquals("1".getBytes(StandardCharsets.US_ASCII), Xattr.get(f, "user.e2b.a", true).orElseThrow());
        assertArrayEquals(new byte[0], Xattr.get(f, "user.e2b.empty", true).orElseThrow());
        assertTrue(Xattr.get(f, "user.e2b.none", true).isEmpty());
        assertTrue(Xattr.list(f, true).containsAll(List.of("user.e2b.a", "user.e2b.empty")));

        NativeException exists = assertThrows(NativeException.class,
                () -> Xattr.set(f, "user.e2b.a", new byte[] {2}, Xattr.XATTR_CREATE, true));
        assertEquals("setxattr", exists.call());
        assertEquals(Errno.EEXIST, exists.errno());
        NativeException missing = assertThrows(NativeException.class,
                () -> Xattr.set(f, "user.e2b.b", new byte[] {2}, Xattr.XATTR_REPLACE, true));
        assertEquals(Errno.ENODATA, missing.errno());

        assertTrue(Xattr.remove(f, "user.e2b.a", true));
        assertFalse(Xattr.remove(f, "user.e2b.a", true));
        assertEquals(List.of("user.e2b.empty"), Xattr.list(f, true).stream().filter(n -> n.startsWith("user.")).toList());
    }

    @Test
    void valuesLargerThanAFirstGuessAreReadWhole() throws IOException {
        String f = Files.writeString(dir.resolve("big"), "x").toString();
        byte[] value = new byte[3000];
        java.util.Arrays.fill(value, (byte) 'v');
        Xattr.set(f, "user.big", value, 0, true);
        assertArrayEquals(value, Xattr.get(f, "user.big", true).orElseThrow());
    }

    @Test
    void lVariantsActOnTheLinkNotTheTarget() throws IOException {
        Path target = Files.writeString(dir.resolve("t"), "x");
        Path link = Files.createSymbolicLink(dir.resolve("l"), target);
        Xattr.set(link.toString(), "user.e2b.k", "v".getBytes(StandardCharsets.US_ASCII), 0, true);
        assertTrue(Xattr.get(target.toString(), "user.e2b.k", true).isPresent(), "followed to the target");
        assertTrue(Xattr.get(link.toString(), "user.e2b.k", false).isEmpty(), "the link itself has none");
        // Linux refuses user.* attributes on symlinks themselves.
        NativeException e = assertThrows(NativeException.class,
                () -> Xattr.set(link.toString(), "user.e2b.k", new byte[] {1}, 0, false));
        assertEquals("lsetxattr", e.call());
        assertEquals(Errno.EPERM, e.errno());
    }

    @Test
    void missingFileNamesTheCall() {
        NativeException e = assertThrows(NativeException.class, () -> Xattr.list(dir.resolve("nope").toString(), true));
        assertEquals("listxattr", e.call());
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals(List.of("a", "bc"), Xattr.splitNames("a\0bc\0".getBytes(StandardCharsets.US_ASCII)));
    }
}
