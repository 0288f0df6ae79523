package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class SpawnHeadersTest {
    @Test
    void spawnMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("spawn")
                .struct("posix_spawn_file_actions_t", Spawn.POSIX_SPAWN_FILE_ACTIONS_T)
                .struct("posix_spawnattr_t", Spawn.POSIX_SPAWNATTR_T)
                .struct("sigset_t", Spawn.SIGSET_T)
                .constant("POSIX_SPAWN_RESETIDS", Spawn.POSIX_SPAWN_RESETIDS)
                .constant("POSIX_SPAWN_SETPGROUP", Spawn.POSIX_SPAWN_SETPGROUP)
                .constant("POSIX_SPAWN_SETSIGDEF", Spawn.POSIX_SPAWN_SETSIGDEF)
                .constant("POSIX_SPAWN_SETSIGMASK", Spawn.POSIX_SPAWN_SETSIGMASK)
                .constant("POSIX_SPAWN_SETSID", Spawn.POSIX_SPAWN_SETSID)
                .constant("WNOHANG", Spawn.WNOHANG)
                .constant("SIGKILL", Spawn.SIGKILL).constant("SIGTERM", Spawn.SIGTERM)
                .constant("SIGINT", Spawn.SIGINT).constant("SIGHUP", Spawn.SIGHUP)
                .constant("SYS_pidfd_open", Spawn.SYS_pidfd_open)
                .verify();
    }
}
