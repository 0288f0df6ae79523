package io.sandboxd.vmm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Open fds and memory mappings of this process, to show that something released everything it made. */
record ResourceCount(long fds, long mappings) {
    /**
     * Fails if fds or mappings grew over {@code cycles} repetitions. Not exact equality: the JVM itself maps and
     * unmaps now and then (thread stacks of earlier tests' threads, GC, JIT), by one or two; a leak of one fd or
     * mapping per cycle shows up {@code cycles} times over.
     */
    static void assertNoGrowth(ResourceCount before, ResourceCount after, int cycles) {
        if (after.fds > before.fds || after.mappings > before.mappings) {
            throw new AssertionError("after " + cycles + " cycles: " + before + " -> " + after + " (a leak)");
        }
    }

    static ResourceCount now() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            long f = fds.count();
            long m;
            try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
                m = maps.count();
            }
            return new ResourceCount(f, m);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
