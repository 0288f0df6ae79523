package io.sandboxd.ffi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Counts this process's open fds, so tests can show that what they opened was closed. */
final class OpenFds {
    private OpenFds() {
    }

    /** Entries of /proc/self/fd (the listing's own directory fd is open during both counts, so it cancels out). */
    static long count() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
