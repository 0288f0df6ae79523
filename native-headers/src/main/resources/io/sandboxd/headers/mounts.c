/* Mount declarations bound by io.sandboxd.ffi.Mounts. (<linux/mount.h> would clash with glibc's <sys/mount.h>.) */
#include "probe.h"
#include <sys/mount.h>
#include <sys/syscall.h>

int main(void) {
    CONST(MS_RDONLY) CONST(MS_NOSUID) CONST(MS_NODEV) CONST(MS_NOEXEC) CONST(MS_REMOUNT) CONST(MS_NOATIME)
    CONST(MS_BIND) CONST(MS_MOVE) CONST(MS_REC) CONST(MS_UNBINDABLE) CONST(MS_PRIVATE) CONST(MS_SLAVE)
    CONST(MS_SHARED) CONST(MS_RELATIME)
    CONST(MNT_FORCE) CONST(MNT_DETACH) CONST(MNT_EXPIRE) CONST(UMOUNT_NOFOLLOW)
    CONST(SYS_pivot_root)
    return 0;
}
