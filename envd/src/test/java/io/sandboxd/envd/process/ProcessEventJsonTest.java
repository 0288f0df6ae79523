package io.sandboxd.envd.process;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sandboxd.envd.connect.ConnectJson;
import io.sandboxd.envd.proto.process.ConnectResponse;
import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.envd.proto.process.StartResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessEventJsonTest {
    @Test
    void startEqualsTheGenericPrinter() {
        for (int pid : new int[] {0, 1, 42, 65536, Integer.MAX_VALUE, -1}) {
            ProcessEvent e = ProcessEvent.newBuilder().setStart(ProcessEvent.StartEvent.newBuilder().setPid(pid)).build();
            assertSame(e, ProcessEventJson.start(pid));
        }
    }

    @Test
    void endEqualsTheGenericPrinterForEveryShape() {
        List<ProcessEvent.EndEvent> ends = new ArrayList<>();
        for (ProcessEvent.EndEvent status : List.of(ExitStatus.endEvent(0), ExitStatus.endEvent(3 << 8),
                ExitStatus.endEvent(255 << 8), ExitStatus.endEvent(9), ExitStatus.endEvent(15), ExitStatus.endEvent(6 | 0x80))) {
            ends.add(status);
        }
        ends.add(ProcessEvent.EndEvent.getDefaultInstance());
        ends.add(ProcessEvent.EndEvent.newBuilder().setExitCode(-1).setError("").build());
        ends.add(ProcessEvent.EndEvent.newBuilder().setExitCode(Integer.MIN_VALUE).setStatus("odd \"quoted\" \\ <tag> & 'x' = \n\t\u0001\u2028é")
                .setError("e\u001f").build());
        for (ProcessEvent.EndEvent end : ends) {
            assertSame(ProcessEvent.newBuilder().setEnd(end).build(), ProcessEventJson.end(end));
        }
    }

    private static void assertSame(ProcessEvent e, byte[] fast) {
        String got = new String(fast, StandardCharsets.UTF_8);
        assertEquals(new String(ConnectJson.print(StartResponse.newBuilder().setEvent(e).build()), StandardCharsets.UTF_8), got);
        assertEquals(new String(ConnectJson.print(ConnectResponse.newBuilder().setEvent(e).build()), StandardCharsets.UTF_8), got);
    }
}
