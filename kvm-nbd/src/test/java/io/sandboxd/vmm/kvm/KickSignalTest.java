package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.Signals;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kick signal never hurts a thread that is not in KVM_RUN (no KVM needed). */
class KickSignalTest {
    @Test
    void strayKicksAtAnyJavaThreadAreHarmless(@TempDir Path dir) throws Exception {
        int sig = KickSignal.number();
        assertTrue(sig >= Signals.sigrtmin() && sig <= Signals.sigrtmax(), "a real-time signal: " + sig);
        int pid = Libc.getpid();
        int tid = Libc.gettid();
        Path f = dir.resolve("f");
        for (int i = 0; i < 200; i++) {
            assertEquals(0, Signals.tgkillRaw(pid, tid, sig));
            // Blocking and file calls right after: SA_RESTART means none of them sees EINTR.
            Thread.sleep(0, 1000);
            Files.writeString(f, "x" + i);
            assertEquals("x" + i, Files.readString(f));
        }
        assertEquals(sig, KickSignal.number(), "installed once");
    }
}
