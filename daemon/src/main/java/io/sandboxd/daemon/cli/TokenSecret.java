package io.sandboxd.daemon.cli;

import io.sandboxd.api.auth.SandboxTokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;

/**
 * The server secret the per-sandbox tokens are derived from, kept in {@code <data-dir>/token-secret} (mode 0600)
 * so tokens stay valid across restarts.
 */
final class TokenSecret {
    static final String FILE = "token-secret";

    private TokenSecret() {
    }

    static SandboxTokens loadOrCreate(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE);
        if (Files.isRegularFile(file)) {
            byte[] secret = Files.readAllBytes(file);
            if (secret.length >= SandboxTokens.MIN_SECRET_BYTES) {
                return new SandboxTokens(secret);
            }
        }
        byte[] secret = new byte[SandboxTokens.MIN_SECRET_BYTES];
        new SecureRandom().nextBytes(secret);
        Path tmp = dataDir.resolve(FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(tmp, secret);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return new SandboxTokens(secret);
    }
}
