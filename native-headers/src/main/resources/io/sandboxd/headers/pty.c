/* Pseudo-terminal declarations bound by io.sandboxd.ffi.Pty. */
#include "probe.h"
#include <stdlib.h>
#include <sys/ioctl.h>

int main(void) {
    STRUCT(winsize) FIELD(winsize, ws_row) FIELD(winsize, ws_col) FIELD(winsize, ws_xpixel) FIELD(winsize, ws_ypixel)

    CONST(TIOCGWINSZ) CONST(TIOCSWINSZ) CONST(TIOCSCTTY) CONST(TIOCGPTN) CONST(TIOCGPTPEER)
    return 0;
}
