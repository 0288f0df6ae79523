package io.sandboxd.envd.filesystem;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Xattr;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * File metadata set by uploads ({@code X-Metadata-<key>} headers) and shown in {@code EntryInfo.metadata}: stored as
 * extended attributes {@code user.e2b.<key>} on the file itself, so it follows the file through renames and lives
 * as long as it does.
 */
public final class UserMetadata {
    public static final String XATTR_PREFIX = "user.e2b.";
    /** {@code XATTR_NAME_MAX} (255) minus the prefix: the longest key the kernel accepts. */
    public static final int MAX_KEY_BYTES = Xattr.XATTR_NAME_MAX - XATTR_PREFIX.length();
    /** Keys plus values of one file, in bytes: keeps a file's attributes within one filesystem block. */
    public static final int MAX_TOTAL_BYTES = 4096;

    private UserMetadata() {
    }

    /**
     * Checks a metadata set before anything is written: non-empty keys of at most {@link #MAX_KEY_BYTES}, keys and
     * values of printable ASCII, at most {@link #MAX_TOTAL_BYTES} in all.
     *
     * @throws IllegalArgumentException naming the first offending key
     */
    public static void validate(Map<String, String> metadata) {
        long total = 0;
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            if (key.isEmpty()) {
                throw new IllegalArgumentException("metadata key must not be empty");
            }
            if (!printableAscii(key)) {
                throw new IllegalArgumentException("metadata key '" + sanitize(key) + "' must be printable ASCII");
            }
            if (key.length() > MAX_KEY_BYTES) {
                throw new IllegalArgumentException("metadata key '" + key + "' is " + key.length()
                        + " bytes, at most " + MAX_KEY_BYTES + " are allowed");
            }
            if (!printableAscii(value)) {
                throw new IllegalArgumentException("metadata value of '" + key + "' must be printable ASCII");
            }
            total += key.length() + value.length();
        }
        if (total > MAX_TOTAL_BYTES) {
            throw new IllegalArgumentException("metadata is " + total + " bytes (keys and values), at most "
                    + MAX_TOTAL_BYTES + " are allowed");
        }
    }

    /** The file's metadata (symlinks followed); empty when it has none or the filesystem has no xattrs. */
    public static Map<String, String> read(Path file) {
        String p = file.toString();
        Map<String, String> out = new TreeMap<>();
        try {
            for (String name : Xattr.list(p, true)) {
                if (name.startsWith(XATTR_PREFIX) && name.length() > XATTR_PREFIX.length()) {
                    Xattr.get(p, name, true).ifPresent(v ->
                            out.put(name.substring(XATTR_PREFIX.length()), new String(v, StandardCharsets.UTF_8)));
                }
            }
        } catch (NativeException e) {
            // No xattr support (EOPNOTSUPP), a file that vanished meanwhile (ENOENT), a dangling symlink: no metadata.
            return Map.of();
        }
        return out;
    }

    /**
     * Makes {@code metadata} the file's whole metadata set: keys not in it are removed. Call {@link #validate}
     * first.
     *
     * @throws NativeException when the filesystem refuses (EOPNOTSUPP, ENOSPC, EDQUOT...)
     */
    public static void replace(Path file, Map<String, String> metadata) {
        String p = file.toString();
        for (String name : Xattr.list(p, true)) {
            if (name.startsWith(XATTR_PREFIX) && !metadata.containsKey(name.substring(XATTR_PREFIX.length()))) {
                Xattr.remove(p, name, true);
            }
        }
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            Xattr.set(p, XATTR_PREFIX + e.getKey(), e.getValue().getBytes(StandardCharsets.US_ASCII), 0, true);
        }
    }

    /** True when a failed metadata write means the disk (or its xattr space) is full: answered with 507. */
    public static boolean isNoSpace(NativeException e) {
        return e.errno() == Errno.ENOSPC;
    }

    static boolean printableAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    private static String sanitize(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 64; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c <= 0x7e ? c : '?');
        }
        return b.toString();
    }
}
