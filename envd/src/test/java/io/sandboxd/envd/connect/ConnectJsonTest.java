package io.sandboxd.envd.connect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.envd.proto.filesystem.ListDirRequest;
import io.sandboxd.envd.proto.filesystem.StatRequest;
import io.sandboxd.envd.proto.filesystem.WatchDirRequest;
import io.sandboxd.envd.proto.process.StartRequest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConnectJsonTest {
    private static ConnectException refused(com.google.protobuf.Message prototype, String json) {
        return assertThrows(ConnectException.class,
                () -> ConnectJson.parse(prototype, json.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void wrongJsonTypesAreInvalidArgument() {
        ConnectException e = refused(StatRequest.getDefaultInstance(), "{\"path\": 5}");
        assertEquals(ConnectCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("StatRequest.path: expected a string, got a number"), e.getMessage());

        assertEquals(ConnectCode.INVALID_ARGUMENT, refused(WatchDirRequest.getDefaultInstance(),
                "{\"path\": \"/tmp\", \"recursive\": \"yes\"}").code());
        assertEquals(ConnectCode.INVALID_ARGUMENT, refused(ListDirRequest.getDefaultInstance(),
                "{\"path\": \"/tmp\", \"depth\": true}").code());
        e = refused(StartRequest.getDefaultInstance(),
                "{\"process\": {\"cmd\": \"/bin/sh\", \"args\": [\"-c\", 7]}}");
        assertTrue(e.getMessage().contains("process.args[1]: expected a string"), e.getMessage());
        e = refused(StartRequest.getDefaultInstance(), "{\"process\": {\"cmd\": \"sh\", \"envs\": {\"A\": 1}}}");
        assertTrue(e.getMessage().contains("process.envs[A]"), e.getMessage());
        assertEquals(ConnectCode.INVALID_ARGUMENT, refused(StartRequest.getDefaultInstance(), "{\"process\": \"sh\"}").code());
        assertEquals(ConnectCode.INVALID_ARGUMENT, refused(StatRequest.getDefaultInstance(), "[1,2]").code());
        assertEquals(ConnectCode.INVALID_ARGUMENT, refused(StatRequest.getDefaultInstance(), "{\"path\": ").code());
    }

    @Test
    void canonicalFormsAndUnknownFieldsAreAccepted() {
        StatRequest s = (StatRequest) ConnectJson.parse(StatRequest.getDefaultInstance(),
                "{\"path\": \"/tmp\", \"somethingNew\": 5}".getBytes(StandardCharsets.UTF_8));
        assertEquals("/tmp", s.getPath());
        ListDirRequest l = (ListDirRequest) ConnectJson.parse(ListDirRequest.getDefaultInstance(),
                "{\"path\": \"/tmp\", \"depth\": \"3\"}".getBytes(StandardCharsets.UTF_8));
        assertEquals(3, l.getDepth());
        StartRequest r = (StartRequest) ConnectJson.parse(StartRequest.getDefaultInstance(),
                "{\"process\": {\"cmd\": \"/bin/bash\", \"args\": [\"-l\", \"-c\", \"true\"], \"envs\": {\"A\": \"1\"}, \"cwd\": null}, \"stdin\": false}"
                        .getBytes(StandardCharsets.UTF_8));
        assertEquals("/bin/bash", r.getProcess().getCmd());
        assertEquals("1", r.getProcess().getEnvsMap().get("A"));
    }
}
