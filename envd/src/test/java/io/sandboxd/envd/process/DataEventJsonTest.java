package io.sandboxd.envd.process;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.sandboxd.envd.connect.ConnectJson;
import io.sandboxd.envd.proto.process.ConnectResponse;
import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.envd.proto.process.StartResponse;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DataEventJsonTest {
    @Test
    void equalsTheGenericPrinterForEveryFieldAndLength() {
        Random r = new Random(7);
        for (int n = 1; n < 300; n++) {
            byte[] raw = new byte[n];
            r.nextBytes(raw);
            ByteString b = ByteString.copyFrom(raw);
            for (String field : new String[] {"stdout", "stderr", "pty"}) {
                ProcessEvent.DataEvent.Builder d = ProcessEvent.DataEvent.newBuilder();
                switch (field) {
                    case "stdout" -> d.setStdout(b);
                    case "stderr" -> d.setStderr(b);
                    default -> d.setPty(b);
                }
                ProcessEvent e = ProcessEvent.newBuilder().setData(d).build();
                String fast = new String(DataEventJson.encode(field, b), StandardCharsets.UTF_8);
                assertEquals(new String(ConnectJson.print(StartResponse.newBuilder().setEvent(e).build()), StandardCharsets.UTF_8), fast);
                assertEquals(new String(ConnectJson.print(ConnectResponse.newBuilder().setEvent(e).build()), StandardCharsets.UTF_8), fast);
            }
        }
    }
}
