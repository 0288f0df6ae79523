package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class SendfileHeadersTest {
    @Test
    void sendfileOffsetsAre64Bit() throws Exception {
        new HeaderCheck("sendfile").constant("sizeof(off_t)", ValueLayout.JAVA_LONG.byteSize()).verify();
    }
}
