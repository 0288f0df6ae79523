package io.sandboxd.envd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class WarmUpTest {
    private static java.util.Set<String> openFds() throws java.io.IOException {
        java.util.Set<String> out = new java.util.TreeSet<>();
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            for (java.nio.file.Path p : (Iterable<java.nio.file.Path>) fds::iterator) {
                try {
                    out.add(p.getFileName() + " -> " + java.nio.file.Files.readSymbolicLink(p));
                } catch (java.io.IOException gone) {
                    // the directory stream's own fd, closed by now
                }
            }
        }
        return out;
    }

    @Test
    void runsARealProcessAndAFileRpcThroughTheWholeStack() throws Exception {
        String me = System.getProperty("user.name");
        Envd envd = Envd.start(new InetSocketAddress("127.0.0.1", 0), me);
        try {
            WarmUp.Result r = WarmUp.against(envd.address());
            assertEquals(204, r.initStatus(), "/init took the token");
            assertTrue(r.processEnded(), "the Start stream, with the token, reached the process's end event");
            assertEquals(200, r.statStatus());
            assertTrue(r.complete());
        } finally {
            envd.close();
        }
    }

    @Test
    void theTrainingRunWarmsUpAndExitsWithoutServing() {
        // what the daemon runs under -XX:AOTCacheOutput to record envd's AOT cache
        int exit = new picocli.CommandLine(new EnvdMain()).execute("--train", "--default-user",
                System.getProperty("user.name"), "--port", "1");
        assertEquals(0, exit, "the warm-up ran every step and envd returned instead of serving on port 1");
    }

    @Test
    void theTrainingRunFailsWhenTheWarmUpCannotComplete() {
        // an unknown default user: /init and Stat still answer, but the process cannot start as that user
        int exit = new picocli.CommandLine(new EnvdMain()).execute("--train", "--default-user", "no-such-user-here");
        assertEquals(1, exit);
    }

    @Test
    void aThrowawayEnvdLeavesNoListenerBehind() throws Exception {
        // the first run loads classes and opens the JVM's lazily-opened files; the second must add nothing
        assertTrue(WarmUp.run(System.getProperty("user.name")).processEnded());
        java.util.Set<String> before = openFds();
        assertTrue(WarmUp.run(System.getProperty("user.name")).processEnded());
        java.util.Set<String> after = openFds();
        after.removeAll(before);
        assertTrue(after.isEmpty(), "fds left open by a throwaway envd: " + after);
    }
}
