package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.ffi.Xattr;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserMetadataTest {
    @TempDir
    Path dir;

    @Test
    void replaceMakesTheGivenSetTheWholeSet() throws IOException {
        Path f = Files.writeString(dir.resolve("f"), "x");
        UserMetadata.replace(f, Map.of("a", "1", "b", "2"));
        assertEquals(Map.of("a", "1", "b", "2"), UserMetadata.read(f));
        Xattr.set(f.toString(), "user.other", new byte[] {1}, 0, true);
        UserMetadata.replace(f, Map.of("b", "3"));
        assertEquals(Map.of("b", "3"), UserMetadata.read(f));
        assertTrue(Xattr.get(f.toString(), "user.other", true).isPresent(), "attributes outside user.e2b. stay");
        UserMetadata.replace(f, Map.of());
        assertEquals(Map.of(), UserMetadata.read(f));
    }

    @Test
    void readOfAMissingFileIsEmpty() {
        assertEquals(Map.of(), UserMetadata.read(dir.resolve("missing")));
    }

    @Test
    void keysUpTo246BytesAreAcceptedAndTheKernelTakesThem() throws IOException {
        String key = "k".repeat(UserMetadata.MAX_KEY_BYTES);
        assertEquals(246, key.length());
        UserMetadata.validate(Map.of(key, "v"));
        Path f = Files.writeString(dir.resolve("long"), "x");
        UserMetadata.replace(f, Map.of(key, "v"));
        assertEquals(Map.of(key, "v"), UserMetadata.read(f));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UserMetadata.validate(Map.of(key + "k", "v")));
        assertTrue(e.getMessage().contains("247 bytes"), e.getMessage());
    }

    @Test
    void rejectsNonPrintableEmptyAndOversizedSets() {
        assertThrows(IllegalArgumentException.class, () -> UserMetadata.validate(Map.of("", "v")));
        assertThrows(IllegalArgumentException.class, () -> UserMetadata.validate(Map.of("k\n", "v")));
        assertThrows(IllegalArgumentException.class, () -> UserMetadata.validate(Map.of("k", "caf\u00e9")));
        assertThrows(IllegalArgumentException.class, () -> UserMetadata.validate(Map.of("k", "tab\there")));
        Map<String, String> big = new LinkedHashMap<>();
        for (int i = 0; i < 5; i++) {
            big.put("key" + i, "v".repeat(800)); // 5 * 804 = 4020: fits
        }
        UserMetadata.validate(big);
        big.put("key5", "v".repeat(80));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UserMetadata.validate(big));
        assertTrue(e.getMessage().contains("4096"), e.getMessage());
    }
}
