package io.sandboxd.vmm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Open fds and memory mappings of this process, to show that something released everything it made. */
record ResourceCount(long fds, long mappings) {
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
