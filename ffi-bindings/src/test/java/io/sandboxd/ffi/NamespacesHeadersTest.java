package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class NamespacesHeadersTest {
    @Test
    void namespacesMatchTheSystemHeaders() throws Exception {
        new HeaderCheck("namespaces")
                .constant("CLONE_NEWTIME", Namespaces.CLONE_NEWTIME).constant("CLONE_FS", Namespaces.CLONE_FS)
                .constant("CLONE_FILES", Namespaces.CLONE_FILES).constant("CLONE_NEWNS", Namespaces.CLONE_NEWNS)
                .constant("CLONE_SYSVSEM", Namespaces.CLONE_SYSVSEM)
                .constant("CLONE_NEWCGROUP", Namespaces.CLONE_NEWCGROUP).constant("CLONE_NEWUTS", Namespaces.CLONE_NEWUTS)
                .constant("CLONE_NEWIPC", Namespaces.CLONE_NEWIPC).constant("CLONE_NEWUSER", Namespaces.CLONE_NEWUSER)
                .constant("CLONE_NEWPID", Namespaces.CLONE_NEWPID).constant("CLONE_NEWNET", Namespaces.CLONE_NEWNET)
                .verify();
    }
}
