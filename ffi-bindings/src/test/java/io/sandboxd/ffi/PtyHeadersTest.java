package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class PtyHeadersTest {
    @Test
    void ptyMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("pty")
                .struct("winsize", Pty.WINSIZE)
                .constant("TIOCGWINSZ", Pty.TIOCGWINSZ).constant("TIOCSWINSZ", Pty.TIOCSWINSZ)
                .constant("TIOCSCTTY", Pty.TIOCSCTTY).constant("TIOCGPTN", Pty.TIOCGPTN)
                .constant("TIOCGPTPEER", Pty.TIOCGPTPEER)
                .verify();
    }
}
