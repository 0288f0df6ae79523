package io.sandboxd.ffi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Skips a test, with the reason printed, when this process cannot do what it needs. */
final class Privileges {
    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_NET_ADMIN = 12;

    private Privileges() {
    }

    static boolean has(int capability) {
        try {
            String capEff = Files.readString(Path.of("/proc/self/status")).lines()
                    .filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow().substring(7).trim();
            return (Long.parseUnsignedLong(capEff, 16) & (1L << capability)) != 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void assumeSysAdmin(String what) {
        assume(has(CAP_SYS_ADMIN), what + " needs CAP_SYS_ADMIN (run the tests as root)");
    }

    static void assumeNetAdmin(String what) {
        assume(has(CAP_NET_ADMIN), what + " needs CAP_NET_ADMIN (run the tests as root)");
    }

    static void assume(boolean condition, String reason) {
        if (!condition) {
            System.out.println("SKIPPED: " + reason);
        }
        Assumptions.assumeTrue(condition, reason);
    }
}
