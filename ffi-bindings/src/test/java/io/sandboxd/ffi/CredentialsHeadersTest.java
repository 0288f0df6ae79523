package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class CredentialsHeadersTest {
    @Test
    void credentialsMatchTheSystemHeaders() throws Exception {
        new HeaderCheck("credentials")
                .constant("SYS_getgroups", Credentials.SYS_getgroups)
                .constant("SYS_setgroups", Credentials.SYS_setgroups)
                .constant("SYS_setresuid", Credentials.SYS_setresuid)
                .constant("SYS_getresuid", Credentials.SYS_getresuid)
                .constant("SYS_setresgid", Credentials.SYS_setresgid)
                .constant("SYS_getresgid", Credentials.SYS_getresgid)
                .constant("NGROUPS_MAX", Credentials.NGROUPS_MAX)
                .verify();
    }
}
