package io.sandboxd.envd.connect;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ConnectCodeTest {
    @Test
    void wireNamesAndStatusesAreTheConnectTable() {
        Map<String, Integer> expected = Map.ofEntries(
                Map.entry("canceled", 499), Map.entry("unknown", 500), Map.entry("invalid_argument", 400),
                Map.entry("deadline_exceeded", 504), Map.entry("not_found", 404), Map.entry("already_exists", 409),
                Map.entry("permission_denied", 403), Map.entry("resource_exhausted", 429),
                Map.entry("failed_precondition", 400), Map.entry("aborted", 409), Map.entry("out_of_range", 400),
                Map.entry("unimplemented", 501), Map.entry("internal", 500), Map.entry("unavailable", 503),
                Map.entry("data_loss", 500), Map.entry("unauthenticated", 401));
        assertEquals(expected.size(), ConnectCode.values().length);
        for (ConnectCode c : ConnectCode.values()) {
            assertEquals(expected.get(c.wireName()), c.httpStatus(), c.wireName());
        }
    }

    @Test
    void errorJsonShapes() {
        ConnectException e = new ConnectException(ConnectCode.NOT_FOUND, "no \"x\"");
        assertEquals("{\"code\":\"not_found\",\"message\":\"no \\\"x\\\"\"}", new String(ConnectJson.error(e)));
        assertEquals("{\"error\":{\"code\":\"not_found\",\"message\":\"no \\\"x\\\"\"}}", new String(ConnectJson.endStream(e)));
        assertEquals("{}", new String(ConnectJson.endStream(null)));
    }
}
