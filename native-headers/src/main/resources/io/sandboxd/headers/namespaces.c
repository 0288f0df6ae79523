/* Namespace declarations bound by io.sandboxd.ffi.Namespaces. */
#include "probe.h"
#include <sched.h>

int main(void) {
    CONST(CLONE_NEWTIME) CONST(CLONE_FS) CONST(CLONE_FILES) CONST(CLONE_NEWNS) CONST(CLONE_SYSVSEM)
    CONST(CLONE_NEWCGROUP) CONST(CLONE_NEWUTS) CONST(CLONE_NEWIPC) CONST(CLONE_NEWUSER) CONST(CLONE_NEWPID)
    CONST(CLONE_NEWNET)
    return 0;
}
