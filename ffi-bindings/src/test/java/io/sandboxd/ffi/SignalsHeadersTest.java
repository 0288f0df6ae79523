package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class SignalsHeadersTest {
    @Test
    void signalsMatchTheSystemHeaders() throws Exception {
        new HeaderCheck("signals")
                .struct("sigaction", Signals.SIGACTION)
                .struct("sigset_t", Signals.SIGSET_T)
                .constant("SA_RESTART", Signals.SA_RESTART)
                .constant("SYS_tgkill", Signals.SYS_tgkill)
                .verify();
    }
}
