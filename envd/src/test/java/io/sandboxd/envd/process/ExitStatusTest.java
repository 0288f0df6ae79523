package io.sandboxd.envd.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ExitStatusTest {
    @Test
    void exitsAndSignalsAreWordedLikeGo() {
        // wait status encoding: exit code in bits 8-15; terminating signal in bits 0-6; core dump bit 7
        var ok = ExitStatus.endEvent(0);
        assertEquals("exit status 0", ok.getStatus());
        assertTrue(ok.getExited());
        assertFalse(ok.hasError());
        var one = ExitStatus.endEvent(1 << 8);
        assertEquals(1, one.getExitCode());
        assertEquals("exit status 1", one.getError());
        var killed = ExitStatus.endEvent(9);
        assertEquals(-1, killed.getExitCode());
        assertFalse(killed.getExited());
        assertEquals("signal: killed", killed.getStatus());
        assertEquals("signal: terminated", ExitStatus.endEvent(15).getStatus());
        assertEquals("signal: segmentation fault (core dumped)", ExitStatus.endEvent(11 | 0x80).getStatus());
        assertEquals("signal: signal 40", ExitStatus.endEvent(40).getStatus());
    }
}
