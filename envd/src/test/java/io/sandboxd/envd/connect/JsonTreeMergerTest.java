package io.sandboxd.envd.connect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.sandboxd.envd.proto.filesystem.ListDirRequest;
import io.sandboxd.envd.proto.process.SendSignalRequest;
import io.sandboxd.envd.proto.process.StartRequest;
import io.sandboxd.envd.proto.process.UpdateRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonTreeMergerTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** @return whether the fast path took {@code json}; when it did, its message must equal JsonFormat's */
    private static boolean agreesWithJsonFormat(Message prototype, String json) throws Exception {
        Message.Builder fast = prototype.newBuilderForType();
        boolean took = JsonTreeMerger.merge(MAPPER.readTree(json), fast);
        if (took) {
            Message.Builder slow = prototype.newBuilderForType();
            JsonFormat.parser().ignoringUnknownFields().merge(json, slow);
            assertEquals(slow.build(), fast.build(), json);
        }
        return took;
    }

    @Test
    void theSdksStartRequestIsBuiltFromTheTreeAlone() throws Exception {
        assertTrue(agreesWithJsonFormat(StartRequest.getDefaultInstance(),
                "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"true\"],\"envs\":{}},\"stdin\":false}"));
        assertTrue(agreesWithJsonFormat(StartRequest.getDefaultInstance(),
                "{\"process\":{\"cmd\":\"sh\",\"envs\":{\"A\":\"1\",\"B\":\"\"},\"cwd\":\"/tmp\"},\"tag\":\"t\","
                        + "\"pty\":{\"size\":{\"cols\":80,\"rows\":24}},\"unknown\":[1,{\"x\":2}]}"));
        assertTrue(agreesWithJsonFormat(StartRequest.getDefaultInstance(),
                "{\"process\":{\"cmd\":\"sh\",\"cwd\":null},\"tag\":null}"));
        assertTrue(agreesWithJsonFormat(StartRequest.getDefaultInstance(),
                "{\"process\":{\"cmd\":\"sh\",\"args\":null,\"envs\":null},\"pty\":null,\"stdin\":true}"));
        assertTrue(agreesWithJsonFormat(UpdateRequest.getDefaultInstance(),
                "{\"process\":{\"pid\":7},\"pty\":{\"size\":{\"cols\":1,\"rows\":2}}}"));
    }

    @Test
    void formsWithTheirOwnJsonFormatRulesAreLeftToIt() throws Exception {
        for (String json : List.of(
                "{\"path\":\"/tmp\",\"depth\":\"3\"}",   // number as a string
                "{\"path\":\"/tmp\",\"depth\":3.0}",     // integral double
                "{\"path\":\"/tmp\",\"depth\":1e2}",
                "{\"path\":\"/tmp\",\"depth\":4294967296}", // out of range
                "{\"path\":\"/tmp\",\"depth\":-1}")) {
            assertFalse(agreesWithJsonFormat(ListDirRequest.getDefaultInstance(), json), json);
        }
        // an enum, a uint32 above int range, two members of one oneof, nulls inside arrays and maps
        assertFalse(agreesWithJsonFormat(SendSignalRequest.getDefaultInstance(), "{\"signal\":\"SIGNAL_SIGKILL\"}"));
        assertFalse(agreesWithJsonFormat(UpdateRequest.getDefaultInstance(), "{\"process\":{\"pid\":4294967295}}"));
        assertFalse(agreesWithJsonFormat(UpdateRequest.getDefaultInstance(), "{\"process\":{\"pid\":1,\"tag\":\"x\"}}"));
        assertFalse(agreesWithJsonFormat(StartRequest.getDefaultInstance(),
                "{\"process\":{\"cmd\":\"a\",\"args\":[null]}}"));
        assertFalse(agreesWithJsonFormat(StartRequest.getDefaultInstance(),
                "{\"process\":{\"cmd\":\"a\",\"envs\":{\"A\":null}}}"));
    }

    @Test
    void trailingGarbageAndOutOfRangeIntegersStayInvalidArgument() {
        for (String json : List.of("{\"path\":\"/tmp\"} x", "{\"path\":\"/tmp\",\"depth\":4294967296}")) {
            ConnectException e = org.junit.jupiter.api.Assertions.assertThrows(ConnectException.class,
                    () -> ConnectJson.parse(ListDirRequest.getDefaultInstance(), json.getBytes()));
            assertEquals(ConnectCode.INVALID_ARGUMENT, e.code(), json);
        }
    }
}
