/* Process spawning declarations bound by io.sandboxd.ffi.Spawn. The spawn structs are opaque: only sizes matter. */
#include "probe.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void) {
    TYPE(posix_spawn_file_actions_t) TYPE(posix_spawnattr_t) TYPE(sigset_t)

    CONST(POSIX_SPAWN_RESETIDS) CONST(POSIX_SPAWN_SETPGROUP) CONST(POSIX_SPAWN_SETSIGDEF)
    CONST(POSIX_SPAWN_SETSIGMASK) CONST(POSIX_SPAWN_SETSID)
    CONST(WNOHANG) CONST(SIGKILL) CONST(SIGTERM) CONST(SIGINT) CONST(SIGHUP)
    CONST(SYS_pidfd_open)
    return 0;
}
