package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class MountsHeadersTest {
    @Test
    void mountsMatchTheSystemHeaders() throws Exception {
        new HeaderCheck("mounts")
                .constant("MS_RDONLY", Mounts.MS_RDONLY).constant("MS_NOSUID", Mounts.MS_NOSUID)
                .constant("MS_NODEV", Mounts.MS_NODEV).constant("MS_NOEXEC", Mounts.MS_NOEXEC)
                .constant("MS_REMOUNT", Mounts.MS_REMOUNT).constant("MS_NOATIME", Mounts.MS_NOATIME)
                .constant("MS_BIND", Mounts.MS_BIND).constant("MS_MOVE", Mounts.MS_MOVE).constant("MS_REC", Mounts.MS_REC)
                .constant("MS_UNBINDABLE", Mounts.MS_UNBINDABLE).constant("MS_PRIVATE", Mounts.MS_PRIVATE)
                .constant("MS_SLAVE", Mounts.MS_SLAVE).constant("MS_SHARED", Mounts.MS_SHARED)
                .constant("MS_RELATIME", Mounts.MS_RELATIME)
                .constant("MNT_FORCE", Mounts.MNT_FORCE).constant("MNT_DETACH", Mounts.MNT_DETACH)
                .constant("MNT_EXPIRE", Mounts.MNT_EXPIRE).constant("UMOUNT_NOFOLLOW", Mounts.UMOUNT_NOFOLLOW)
                .constant("SYS_pivot_root", Mounts.SYS_pivot_root)
                .verify();
    }
}
