package io.sandboxd.daemon.template.oci;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Content-addressed blobs ({@code <root>/blobs/sha256/<hex>}): a blob is written to a temporary file while its
 * SHA-256 is computed, and moved into place only when digest and size match what the manifest said, so the cache
 * never holds a truncated or substituted blob and a present blob is never fetched again.
 */
public final class BlobCache {
    private static final Pattern DIGEST = Pattern.compile("sha256:([0-9a-f]{64})");

    /** Opens the blob's content; called only on a cache miss. */
    @FunctionalInterface
    public interface Source {
        InputStream open() throws IOException;
    }

    private final Path root;

    public BlobCache(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /** Where the blob with this digest is (or would be) kept. */
    public Path path(String digest) {
        var m = DIGEST.matcher(digest == null ? "" : digest);
        if (!m.matches()) {
            throw new OciException("unsupported digest \"" + digest + "\": only sha256 is accepted");
        }
        return root.resolve("blobs").resolve("sha256").resolve(m.group(1));
    }

    public boolean contains(String digest) {
        return Files.isRegularFile(path(digest));
    }

    /** The cached blob, fetched from {@code source} first when absent; {@code size} &lt; 0 means unknown. */
    public Path get(String digest, long size, Source source) {
        Path target = path(digest);
        if (Files.isRegularFile(target)) {
            return target;
        }
        Path tmp = root.resolve("tmp").resolve(UUID.randomUUID() + ".part");
        try {
            Files.createDirectories(tmp.getParent());
            Files.createDirectories(target.getParent());
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long written = 0;
            try (InputStream in = source.open(); OutputStream out = Files.newOutputStream(tmp)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    written += n;
                    if (size >= 0 && written > size) {
                        throw new OciException("blob " + digest + " is longer than the " + size
                                + " bytes its manifest gives");
                    }
                    sha.update(buf, 0, n);
                    out.write(buf, 0, n);
                }
            }
            if (size >= 0 && written != size) {
                throw new OciException("blob " + digest + " ended after " + written + " of " + size + " bytes");
            }
            String actual = "sha256:" + HexFormat.of().formatHex(sha.digest());
            if (!actual.equals(digest)) {
                throw new OciException("blob " + digest + " has the digest " + actual + ": refused");
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            throw new OciException("fetching blob " + digest + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a stray .part file is removed with the cache's tmp directory
            }
        }
    }
}
