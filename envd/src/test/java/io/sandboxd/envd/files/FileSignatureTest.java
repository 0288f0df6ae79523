package io.sandboxd.envd.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class FileSignatureTest {
    static final String TOKEN = "abcdef0123456789";
    static final Instant NOW = Instant.ofEpochSecond(1_800_000_000L);

    @Test
    void matchesTheSpecTestVector() {
        assertEquals("v1_d4LyFG1b0iVC+axcPg5QJ1wmOuKz1vMjNz7upIrd5tM",
                FileSignature.sign("/home/user/a.txt", FileSignature.READ, null, TOKEN, null));
    }

    @Test
    void noTokenLetsEverythingIn() throws Exception {
        FileSignature.check(null, null, "/x", FileSignature.READ, null, null, null, NOW);
    }

    @Test
    void headerTokenMustMatchWhenPresent() throws Exception {
        FileSignature.check(TOKEN, TOKEN, "/x", FileSignature.READ, null, null, null, NOW);
        assertEquals("access token present in header but does not match", assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, "wrong", "/x", FileSignature.READ, null, null, null, NOW)).getMessage());
    }

    @Test
    void signatureCoversPathOperationUserAndExpiration() throws Exception {
        String sig = FileSignature.sign("/x", FileSignature.WRITE, "bob", TOKEN, 1_800_000_100L);
        FileSignature.check(TOKEN, null, "/x", FileSignature.WRITE, "bob", sig, "1800000100", NOW);
        assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/y", FileSignature.WRITE, "bob", sig, "1800000100", NOW));
        assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/x", FileSignature.READ, "bob", sig, "1800000100", NOW));
        assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/x", FileSignature.WRITE, null, sig, "1800000100", NOW));
        assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/x", FileSignature.WRITE, "bob", sig, "1800000101", NOW));
        assertEquals("missing signature query parameter", assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/x", FileSignature.WRITE, "bob", null, null, NOW)).getMessage());
    }

    @Test
    void expiredSignaturesAreRefused() {
        String sig = FileSignature.sign("/x", FileSignature.READ, null, TOKEN, 1_799_999_999L);
        assertEquals("signature is already expired", assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/x", FileSignature.READ, null, sig, "1799999999", NOW))
                .getMessage());
        assertThrows(FileSignature.Rejected.class,
                () -> FileSignature.check(TOKEN, null, "/x", FileSignature.READ, null, sig, "soon", NOW));
    }
}
