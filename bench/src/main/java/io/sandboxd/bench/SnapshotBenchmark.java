package io.sandboxd.bench;

import io.sandboxd.ffi.Userfaultfd;
import io.sandboxd.vmm.memory.MappedGuestMemory;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.memory.MemoryOptions;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A diff snapshot of 1 GiB uffd memory of which {@code dirtyMiB} were written since restore: collect the written
 * set (uffd write-protect) and write those pages as a new layer, fsync included. Divide by dirtyMiB for the cost
 * per dirty MiB (RestoreComparison prints it).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3)
@Measurement(iterations = 10)
public class SnapshotBenchmark {
    @Param({"1", "16", "64"})
    public int dirtyMiB;

    private MemoryImage image;
    private MappedGuestMemory memory;
    private MemoryImage written;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        image = BenchImages.restoreImage(1024);
    }

    @Setup(Level.Invocation)
    public void dirty() throws Exception {
        memory = MemoryBackends.UFFD.create(image, MemoryOptions.DEFAULT);
        SnapshotWork.dirty(memory, dirtyMiB);
    }

    @Benchmark
    public MemoryImage snapshot() throws Exception {
        written = memory.snapshot(null);
        return written;
    }

    @TearDown(Level.Invocation)
    public void release() throws Exception {
        memory.close();
        SnapshotWork.delete(written);
    }

    /** Shared with RestoreComparison. */
    static final class SnapshotWork {
        private SnapshotWork() {
        }

        /** Writes one byte per page over {@code mib} MiB spread across the memory (every 4th page). */
        static void dirty(MappedGuestMemory memory, int mib) {
            long pages = (long) mib << 8;
            for (long i = 0; i < pages; i++) {
                long off = (i * 4 * 4096) % memory.size();
                Userfaultfd.populate(memory.host().asSlice(off, 4096), true);
                memory.host().set(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 7, (byte) 0x5a);
            }
        }

        static void delete(MemoryImage layer) throws java.io.IOException {
            if (layer != null) {
                Files.deleteIfExists(layer.layerPath(layer.layerId()));
                Files.deleteIfExists(layer.headerPath());
            }
        }
    }
}
