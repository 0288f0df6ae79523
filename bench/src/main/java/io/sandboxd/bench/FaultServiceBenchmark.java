package io.sandboxd.bench;

import io.sandboxd.ffi.Userfaultfd;
import io.sandboxd.vmm.memory.MappedGuestMemory;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.memory.MemoryOptions;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of one 4 KiB missing fault served by the uffd page server with UFFDIO_COPY: a fresh uffd memory per
 * invocation, then {@value #FAULTS} pages faulted in one after another from inside one madvise(POPULATE_READ) (the
 * kernel takes each fault as a vCPU's KVM access would, and waits for the server each time). Reported per fault.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
public class FaultServiceBenchmark {
    static final int FAULTS = 16384;

    @Param({"false", "true"})
    public boolean trackWrites;

    private MemoryImage image;
    private MappedGuestMemory memory;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        image = BenchImages.denseImage(FAULTS * 4096 >> 20);
    }

    @Setup(Level.Invocation)
    public void restore() throws Exception {
        memory = MemoryBackends.UFFD.create(image, MemoryOptions.DEFAULT.withTrackWrites(trackWrites));
    }

    @Benchmark
    @OperationsPerInvocation(FAULTS)
    public void fault() {
        Userfaultfd.populate(memory.host(), false);
    }

    @TearDown(Level.Invocation)
    public void release() {
        if (memory.pageServerStats().orElseThrow().faults() < FAULTS) {
            throw new IllegalStateException("expected " + FAULTS + " faults: " + memory.pageServerStats());
        }
        memory.close();
    }
}
