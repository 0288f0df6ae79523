package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class XattrHeadersTest {
    @Test
    void xattrMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("xattr")
                .constant("XATTR_CREATE", Xattr.XATTR_CREATE).constant("XATTR_REPLACE", Xattr.XATTR_REPLACE)
                .constant("XATTR_NAME_MAX", Xattr.XATTR_NAME_MAX).constant("XATTR_SIZE_MAX", Xattr.XATTR_SIZE_MAX)
                .constant("XATTR_LIST_MAX", Xattr.XATTR_LIST_MAX)
                .verify();
    }
}
