package io.sandboxd.ffi;

import io.sandboxd.ffi.headers.HeaderCheck;
import org.junit.jupiter.api.Test;

class PrctlHeadersTest {
    @Test
    void prctlMatchesTheSystemHeaders() throws Exception {
        new HeaderCheck("prctl")
                .constant("PR_SET_PDEATHSIG", Prctl.PR_SET_PDEATHSIG).constant("PR_GET_PDEATHSIG", Prctl.PR_GET_PDEATHSIG)
                .constant("PR_GET_DUMPABLE", Prctl.PR_GET_DUMPABLE).constant("PR_SET_DUMPABLE", Prctl.PR_SET_DUMPABLE)
                .constant("PR_SET_NAME", Prctl.PR_SET_NAME).constant("PR_GET_NAME", Prctl.PR_GET_NAME)
                .constant("PR_CAPBSET_DROP", Prctl.PR_CAPBSET_DROP)
                .constant("PR_SET_CHILD_SUBREAPER", Prctl.PR_SET_CHILD_SUBREAPER)
                .constant("PR_GET_CHILD_SUBREAPER", Prctl.PR_GET_CHILD_SUBREAPER)
                .constant("PR_SET_NO_NEW_PRIVS", Prctl.PR_SET_NO_NEW_PRIVS)
                .constant("PR_GET_NO_NEW_PRIVS", Prctl.PR_GET_NO_NEW_PRIVS)
                .constant("PR_CAP_AMBIENT", Prctl.PR_CAP_AMBIENT)
                .constant("PR_CAP_AMBIENT_CLEAR_ALL", Prctl.PR_CAP_AMBIENT_CLEAR_ALL)
                .verify();
    }
}
