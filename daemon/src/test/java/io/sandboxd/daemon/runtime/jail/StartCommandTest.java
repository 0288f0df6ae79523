package io.sandboxd.daemon.runtime.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StartCommandTest {
    /** A sandbox whose ready command takes {@code takes}: a try given less than that is killed (exit 124). */
    private static final class FakeSandbox implements StartCommand.Target {
        final Duration takes;
        final List<Duration> tries = new ArrayList<>();
        final List<List<String>> detached = new ArrayList<>();

        FakeSandbox(Duration takes) {
            this.takes = takes;
        }

        @Override
        public HostCommand.Result exec(List<String> command, Duration timeout) {
            tries.add(timeout);
            return new HostCommand.Result(command, timeout.compareTo(takes) >= 0 ? 0 : 124, "", "");
        }

        @Override
        public void execDetached(List<String> command) {
            detached.add(command);
        }
    }

    @Test
    void aReadyCommandLongerThanTenSecondsGetsTheRestOfTheTimeout() {
        // The SDK's Dockerfile parser turns CMD into a start command with `sleep 20` as its ready command.
        FakeSandbox sbx = new FakeSandbox(Duration.ofSeconds(20));
        StartCommand.run(sbx, "tpl", Map.of("startCmd", "python3 -m http.server", "readyCmd", "sleep 20",
                "user", "user", "workdir", "/opt/work"), Duration.ofSeconds(60));
        assertEquals(1, sbx.tries.size(), "one try suffices: " + sbx.tries);
        assertTrue(sbx.tries.getFirst().compareTo(Duration.ofSeconds(55)) > 0, sbx.tries.toString());
        assertEquals(List.of("runuser", "-u", "user", "--", "/bin/bash", "-l", "-c",
                "cd '/opt/work' 2>/dev/null; python3 -m http.server"), sbx.detached.getFirst());
    }

    @Test
    void aReadyCommandThatNeverSucceedsFailsTheJailStartNamingIt() {
        FakeSandbox sbx = new FakeSandbox(Duration.ofDays(1));
        SandboxRuntimeException e = assertThrows(SandboxRuntimeException.class, () -> StartCommand.run(sbx, "tpl",
                Map.of("readyCmd", "false"), Duration.ofMillis(300)));
        assertTrue(e.getMessage().contains("the ready command 'false' did not succeed"), e.getMessage());
        assertTrue(sbx.tries.stream().allMatch(t -> t.compareTo(Duration.ofSeconds(1)) >= 0), "tries of at least 1 s");
    }
}
