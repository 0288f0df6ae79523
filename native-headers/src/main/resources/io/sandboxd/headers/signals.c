/* glibc signal declarations bound by io.sandboxd.ffi.Signals (x86-64). */
#include "probe.h"
#include <signal.h>
#include <sys/syscall.h>

int main(void) {
    STRUCT(sigaction) FIELD(sigaction, sa_handler) FIELD(sigaction, sa_mask) FIELD(sigaction, sa_flags)
    FIELD(sigaction, sa_restorer)
    CONST(SA_RESTART) CONST(SYS_tgkill) TYPE(sigset_t)
    return 0;
}
