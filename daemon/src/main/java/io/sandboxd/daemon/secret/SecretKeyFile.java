package io.sandboxd.daemon.secret;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Set;

/**
 * The key secret values are encrypted with, {@code <data-dir>/secret-key} (32 random bytes, mode 0600), created on
 * first use. It is kept apart from the database on purpose: a copy of the database alone does not reveal values.
 * Losing the file makes every stored secret unreadable, so an existing file of the wrong size or with group/other
 * access is refused rather than replaced.
 */
public final class SecretKeyFile {
    public static final String FILE = "secret-key";

    private SecretKeyFile() {
    }

    public static SecretCipher loadOrCreate(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE);
        if (!Files.exists(file)) {
            create(dataDir, file);
        }
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
        if (!PosixFilePermissions.toString(perms).substring(3).equals("------")) {
            throw new IOException(file + " is readable by others (" + PosixFilePermissions.toString(perms)
                    + "): run chmod 600 " + file);
        }
        byte[] key = Files.readAllBytes(file);
        if (key.length != SecretCipher.KEY_BYTES) {
            throw new IOException(file + " holds " + key.length + " bytes, not a " + SecretCipher.KEY_BYTES
                    + "-byte key; restore the original file (the stored secrets need it)");
        }
        return new SecretCipher(key);
    }

    private static void create(Path dataDir, Path file) throws IOException {
        byte[] key = new byte[SecretCipher.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        Path tmp = Files.createTempFile(dataDir, FILE, ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.write(tmp, key);
            // a hard link fails when the name exists: a key another process created meanwhile wins, so both
            // processes use the same key (a rename would silently replace it)
            Files.createLink(file, tmp);
        } catch (FileAlreadyExistsException e) {
            // fall through to reading the other process's key
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
