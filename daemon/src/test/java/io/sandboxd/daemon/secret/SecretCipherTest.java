package io.sandboxd.daemon.secret;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretCipherTest {
    static final byte[] AD = SecretCipher.binding("sec_abc", "11111111-1111-1111-1111-111111111111", 1);

    static byte[] key(int fill) {
        byte[] k = new byte[SecretCipher.KEY_BYTES];
        java.util.Arrays.fill(k, (byte) fill);
        return k;
    }

    @Test
    void roundTripsAndHidesThePlainText() {
        SecretCipher c = new SecretCipher(key(1));
        SecretCipher.Sealed s = c.seal("hunter2-ünïcode", AD);
        assertEquals("hunter2-ünïcode", c.open(s, AD));
        String hex = HexFormat.of().formatHex(s.ciphertext());
        assertFalse(new String(s.ciphertext(), StandardCharsets.ISO_8859_1).contains("hunter2"));
        assertFalse(hex.contains(HexFormat.of().formatHex("hunter2".getBytes(StandardCharsets.UTF_8))));
        // value + 16-byte tag
        assertEquals("hunter2-ünïcode".getBytes(StandardCharsets.UTF_8).length + 16, s.ciphertext().length);
    }

    @Test
    void aWrongKeyDoesNotOpen() {
        SecretCipher.Sealed s = new SecretCipher(key(1)).seal("v", AD);
        assertThrows(SecretCipher.OpenFailedException.class, () -> new SecretCipher(key(2)).open(s, AD));
    }

    @Test
    void tamperedCiphertextNonceOrTagDoesNotOpen() {
        SecretCipher c = new SecretCipher(key(1));
        SecretCipher.Sealed s = c.seal("a value of some length", AD);
        for (int i = 0; i < s.ciphertext().length; i++) {
            byte[] bad = s.ciphertext();
            bad[i] ^= 0x01;
            SecretCipher.Sealed t = new SecretCipher.Sealed(s.nonce(), bad);
            assertThrows(SecretCipher.OpenFailedException.class, () -> c.open(t, AD), "byte " + i);
        }
        byte[] nonce = s.nonce();
        nonce[0] ^= 0x01;
        assertThrows(SecretCipher.OpenFailedException.class,
                () -> c.open(new SecretCipher.Sealed(nonce, s.ciphertext()), AD));
        byte[] truncated = java.util.Arrays.copyOf(s.ciphertext(), s.ciphertext().length - 1);
        assertThrows(SecretCipher.OpenFailedException.class,
                () -> c.open(new SecretCipher.Sealed(s.nonce(), truncated), AD));
    }

    @Test
    void aCiphertextMovedToAnotherSecretTeamOrVersionDoesNotOpen() {
        SecretCipher c = new SecretCipher(key(1));
        SecretCipher.Sealed s = c.seal("v", AD);
        String team = "11111111-1111-1111-1111-111111111111";
        assertThrows(SecretCipher.OpenFailedException.class, () -> c.open(s, SecretCipher.binding("sec_abd", team, 1)));
        assertThrows(SecretCipher.OpenFailedException.class,
                () -> c.open(s, SecretCipher.binding("sec_abc", "22222222-2222-2222-2222-222222222222", 1)));
        assertThrows(SecretCipher.OpenFailedException.class, () -> c.open(s, SecretCipher.binding("sec_abc", team, 2)));
    }

    @Test
    void everySealUsesAFreshNonce() {
        SecretCipher c = new SecretCipher(key(1));
        Set<String> nonces = new HashSet<>();
        Set<String> ciphertexts = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            SecretCipher.Sealed s = c.seal("same value", AD);
            assertTrue(nonces.add(HexFormat.of().formatHex(s.nonce())), "nonce repeated at seal " + i);
            ciphertexts.add(HexFormat.of().formatHex(s.ciphertext()));
        }
        assertEquals(10_000, ciphertexts.size(), "the same value must not seal to the same bytes");
    }

    @Test
    void refusesKeysThatAreNotAes256() {
        assertThrows(IllegalArgumentException.class, () -> new SecretCipher(new byte[16]));
        assertThrows(IllegalArgumentException.class, () -> new SecretCipher.Sealed(new byte[8], new byte[1]));
    }

    @Test
    void keyFileIsCreated0600OnceAndReused(@TempDir Path dir) throws Exception {
        SecretCipher first = SecretKeyFile.loadOrCreate(dir);
        Path file = dir.resolve(SecretKeyFile.FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(SecretCipher.KEY_BYTES, bytes.length);
        SecretCipher.Sealed s = first.seal("v", AD);
        assertEquals("v", SecretKeyFile.loadOrCreate(dir).open(s, AD));
        assertArrayEquals(bytes, Files.readAllBytes(file));
        try (var listing = Files.list(dir)) {
            assertEquals(1, listing.count(), "no temporary file is left behind");
        }
    }

    @Test
    void keyFileOfAnotherSizeOrOpenToOthersIsRefusedNotReplaced(@TempDir Path dir) throws Exception {
        Path file = dir.resolve(SecretKeyFile.FILE);
        Files.write(file, new byte[7]);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        var e = assertThrows(java.io.IOException.class, () -> SecretKeyFile.loadOrCreate(dir));
        assertTrue(e.getMessage().contains("7 bytes"), e.getMessage());
        assertEquals(7, Files.size(file));
        Files.write(file, key(3));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        e = assertThrows(java.io.IOException.class, () -> SecretKeyFile.loadOrCreate(dir));
        assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertNotEquals(null, SecretKeyFile.loadOrCreate(dir));
    }
}
