package io.sandboxd.bench;

import io.sandboxd.vmm.kvm.KvmSystem;
import io.sandboxd.vmm.memory.MemoryBackends;
import io.sandboxd.vmm.snapshot.MemoryImage;
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
 * Restore latency: memory from the image + VM + vCPU + memory slots + vCPU state + the guest's first instruction
 * (see {@link RestorePath}). Sampled, so the result carries p50/p99. Teardown is outside the measured time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 3, time = 3)
public class RestoreBenchmark {
    @Param({"eager", "private-map", "uffd"})
    public String backend;

    @Param({"128", "1024", "4096"})
    public int memoryMiB;

    private KvmSystem kvm;
    private MemoryImage image;
    private MemoryBackends kind;
    private RestorePath.Restored last;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        kvm = KvmSystem.open();
        image = BenchImages.restoreImage(memoryMiB);
        RestorePath.recordWorkingSet(kvm, image);
        kind = MemoryBackends.of(backend);
    }

    @Benchmark
    public Object restore() throws Exception {
        last = RestorePath.restore(kvm, kind, image);
        return last;
    }

    @TearDown(Level.Invocation)
    public void release() {
        if (last != null) {
            last.close();
            last = null;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        kvm.close();
    }
}
