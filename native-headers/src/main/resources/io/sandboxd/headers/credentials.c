/* Per-thread credential syscalls bound by io.sandboxd.ffi.Credentials (raw syscalls: glibc's wrappers would
 * change every thread of the process). */
#include "probe.h"
#include <limits.h>
#include <sys/syscall.h>

int main(void) {
    CONST(SYS_getgroups) CONST(SYS_setgroups) CONST(SYS_setresuid) CONST(SYS_getresuid)
    CONST(SYS_setresgid) CONST(SYS_getresgid)
    CONST(NGROUPS_MAX)
    return 0;
}
