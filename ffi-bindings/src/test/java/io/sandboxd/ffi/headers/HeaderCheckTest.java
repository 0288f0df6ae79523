package io.sandboxd.ffi.headers;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The checker itself must catch a wrong offset, size, constant, or a field nobody verifies. */
class HeaderCheckTest {
    private static final String SOURCE = """
            #include "probe.h"
            #include <time.h>
            #include <errno.h>
            int main(void) {
                STRUCT(timespec) FIELD(timespec, tv_sec) FIELD(timespec, tv_nsec)
                CONST(ENOENT)
                return 0;
            }
            """;

    private static final StructLayout RIGHT = MemoryLayout.structLayout(
            JAVA_LONG.withName("tv_sec"), JAVA_LONG.withName("tv_nsec"));

    private static HeaderProbe.Output probe;

    @BeforeAll
    static void runProbe() throws Exception {
        probe = HeaderProbe.runSource("selftest", SOURCE);
    }

    @Test
    void agreesWhenTheJavaSideIsRight() {
        assertEquals(List.of(), new HeaderCheck("selftest").struct("timespec", RIGHT).constant("ENOENT", 2).compare(probe));
    }

    @Test
    void catchesAShiftedOffset() {
        StructLayout shifted = MemoryLayout.structLayout(
                JAVA_INT.withName("tv_sec"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("tv_nsec"));
        List<String> problems = new HeaderCheck("selftest").struct("timespec", shifted).constant("ENOENT", 2).compare(probe);
        assertTrue(problems.contains("field timespec.tv_sec: size 8 in C, 4 in Java"), problems.toString());

        StructLayout moved = MemoryLayout.structLayout(
                JAVA_LONG.withName("tv_nsec"), JAVA_LONG.withName("tv_sec"));
        problems = new HeaderCheck("selftest").struct("timespec", moved).constant("ENOENT", 2).compare(probe);
        assertTrue(problems.contains("field timespec.tv_sec: offset 0 in C, 8 in Java"), problems.toString());
        assertTrue(problems.contains("field timespec.tv_nsec: offset 8 in C, 0 in Java"), problems.toString());
    }

    @Test
    void catchesAWrongSizeAndConstant() {
        StructLayout tooBig = MemoryLayout.structLayout(
                JAVA_LONG.withName("tv_sec"), JAVA_LONG.withName("tv_nsec"), MemoryLayout.paddingLayout(8));
        List<String> problems = new HeaderCheck("selftest").struct("timespec", tooBig).constant("ENOENT", 3).compare(probe);
        assertTrue(problems.contains("struct timespec: size 16 in C, 24 in Java"), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("const ENOENT: 2")), problems.toString());
    }

    @Test
    void catchesUnboundAndUncheckedDeclarations() {
        StructLayout extra = MemoryLayout.structLayout(
                JAVA_LONG.withName("tv_sec"), JAVA_LONG.withName("tv_nsec"), JAVA_LONG.withName("tv_extra"));
        List<String> problems = new HeaderCheck("selftest").struct("timespec", extra).constant("EAGAIN", 11).compare(probe);
        assertTrue(problems.contains("field timespec.tv_extra is in the Java layout but the probe does not check it"), problems.toString());
        assertTrue(problems.contains("const ENOENT is in the probe but not bound in Java"), problems.toString());
        assertTrue(problems.contains("const EAGAIN is bound in Java but the probe does not print it"), problems.toString());

        problems = new HeaderCheck("selftest").constant("ENOENT", 2).compare(probe);
        assertTrue(problems.contains("struct timespec is in the probe but not bound in Java"), problems.toString());
    }
}
