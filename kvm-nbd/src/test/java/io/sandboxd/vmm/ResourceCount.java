package io.sandboxd.vmm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Open fds and memory mappings of this process, to show that something released everything it made. */
public record ResourceCount(long fds, long mappings) {
    /** Mappings the JVM itself may add or drop meanwhile (a JIT or GC thread's stack, a code heap segment). */
    static final int JVM_MAPPING_NOISE = 3;

    /**
     * Fails if fds grew at all, or mappings by more than {@link #JVM_MAPPING_NOISE}, over {@code cycles}
     * repetitions ({@code cycles} much larger than the noise): a leak of one fd or mapping per cycle shows up
     * {@code cycles} times over, while the JVM's own comings and goings stay within a few.
     */
    public static void assertNoGrowth(ResourceCount before, ResourceCount after, int cycles) {
        if (cycles < 10 * JVM_MAPPING_NOISE) {
            throw new IllegalArgumentException("too few cycles to tell a leak from noise: " + cycles);
        }
        if (after.fds > before.fds || after.mappings > before.mappings + JVM_MAPPING_NOISE) {
            throw new AssertionError("after " + cycles + " cycles: " + before + " -> " + after + " (a leak)");
        }
    }

    public static ResourceCount now() {
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
