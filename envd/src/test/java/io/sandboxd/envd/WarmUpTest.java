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
            WarmUp.Result r = WarmUp.against(envd.address(), me);
            assertEquals(204, r.initStatus(), "/init took the token");
            assertTrue(r.processEnded(), "the Start stream, with the token, reached the process's end event");
            assertEquals(200, r.statStatus());
            assertTrue(r.complete());
        } finally {
            envd.close();
        }
    }

    @Test
    void theServingEnvdIsWarmedBehindItsHealthAndForgetsTheWarmUpsInit() throws Exception {
        String me = System.getProperty("user.name");
        EnvdState state = new EnvdState(me);
        state.beginWarmUp();
        Envd envd = Envd.start(new InetSocketAddress("0.0.0.0", 0), state, io.sandboxd.envd.auth.UserDatabase.system());
        try {
            InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", envd.address().getPort());
            assertEquals(503, health(loopback), "not ready while warming up");
            WarmUp.Result r = WarmUp.warm(envd, 3, me);
            assertTrue(r.complete(), "every round ran as a sandbox's would: " + r);
            assertEquals(204, health(loopback), "ready once warm");
            assertEquals(new EnvdState.Settings(null, java.util.Map.of(), me, null), state.settings(),
                    "the warm-up's token and env vars are gone");
        } finally {
            envd.close();
        }
    }

    @Test
    void aFailedWarmUpStillLetsEnvdServe() throws Exception {
        EnvdState state = new EnvdState(System.getProperty("user.name"));
        state.beginWarmUp();
        Envd envd = Envd.start(new InetSocketAddress("127.0.0.1", 0), state, io.sandboxd.envd.auth.UserDatabase.system());
        try {
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> WarmUp.warm(envd, 0, System.getProperty("user.name")));
            assertEquals(204, health(envd.address()));
        } finally {
            envd.close();
        }
    }

    private static int health(InetSocketAddress at) throws java.io.IOException {
        try (java.net.Socket s = new java.net.Socket(at.getAddress(), at.getPort())) {
            s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String head = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
            return Integer.parseInt(head.split(" ", 3)[1]);
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
