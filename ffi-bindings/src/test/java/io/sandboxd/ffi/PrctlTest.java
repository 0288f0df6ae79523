package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PrctlTest {
    private static final int SIGTERM = 15;

    @Test
    void perThreadSettingsReadBackAndShowInProc() throws Exception {
        List<Object> seen = TestThreads.onFreshPlatformThread(() -> {
            Prctl.setName("sbx-prctl-test");
            String name = Prctl.name();
            String comm = Files.readString(Path.of("/proc/thread-self/comm")).strip();
            Prctl.setName("a-name-longer-than-fifteen-bytes");
            String cut = Prctl.name();

            Prctl.setParentDeathSignal(SIGTERM);
            int pdeath = Prctl.parentDeathSignal();
            Prctl.setParentDeathSignal(0);
            int cleared = Prctl.parentDeathSignal();

            // Irreversible, but only for this throwaway thread.
            Prctl.setNoNewPrivs();
            boolean nnp = Prctl.noNewPrivs();
            boolean nnpInProc = Files.readString(Path.of("/proc/thread-self/status")).lines()
                    .anyMatch(l -> l.matches("NoNewPrivs:\\s+1"));
            return List.of(name, comm, cut, pdeath, cleared, nnp, nnpInProc);
        });
        assertEquals(List.of("sbx-prctl-test", "sbx-prctl-test", "a-name-longer-t", SIGTERM, 0, true, true), seen);
    }

    @Test
    void childSubreaperTogglesForTheProcess() {
        boolean was = Prctl.isChildSubreaper();
        try {
            Prctl.setChildSubreaper(true);
            assertTrue(Prctl.isChildSubreaper());
            Prctl.setChildSubreaper(false);
            assertFalse(Prctl.isChildSubreaper());
        } finally {
            Prctl.setChildSubreaper(was);
        }
    }

    @Test
    void failuresNameTheOption() {
        NativeException e = assertThrows(NativeException.class, () -> Prctl.setParentDeathSignal(1000));
        assertEquals("prctl(PR_SET_PDEATHSIG)", e.call());
        assertEquals(Errno.EINVAL, e.errno());
        e = assertThrows(NativeException.class, () -> Prctl.prctl(-1, 0, 0, 0, 0, "bogus"));
        assertEquals("prctl(bogus)", e.call());
        assertEquals(Errno.EINVAL, e.errno());
    }
}
