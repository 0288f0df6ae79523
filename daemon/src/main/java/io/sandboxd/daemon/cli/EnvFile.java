package io.sandboxd.daemon.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code <data-dir>/sandboxd.env}: {@code KEY=value} lines a shell can {@code source}. Written atomically (a reader
 * sees the whole file or none), readable by its owner only: it holds an API key.
 */
final class EnvFile {
    static final String NAME = "sandboxd.env";

    private EnvFile() {
    }

    static Map<String, String> read(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        try {
            if (!Files.isRegularFile(file)) {
                return out;
            }
            for (String line : Files.readAllLines(file)) {
                int eq = line.indexOf('=');
                if (eq > 0 && !line.startsWith("#")) {
                    out.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
                }
            }
        } catch (IOException e) {
            // an unreadable old file is as good as none
        }
        return out;
    }

    static void write(Path file, Map<String, String> values) throws IOException {
        StringBuilder text = new StringBuilder();
        values.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
