package io.sandboxd.api.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.api.ApiServer;
import io.sandboxd.api.ApiServices;
import io.sandboxd.api.auth.Team;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The snapshot and fork endpoints over real HTTP: request parsing, the SDK 2.51 response shapes, paging, errors. */
class SnapshotApiTest {
    /** Records calls; snapshots are named after their order, forks fail where asked. */
    static final class FakeSnapshots implements SnapshotService {
        final List<String> calls = new ArrayList<>();
        final List<SnapshotInfo> made = new ArrayList<>();
        int failingFork = -1;

        @Override
        public synchronized SnapshotInfo create(Team team, String sandboxId, String name) {
            calls.add("create " + team.id() + " " + sandboxId + " " + name);
            if (sandboxId.equals("missing")) {
                throw SandboxException.notFound(sandboxId);
            }
            SnapshotInfo s = new SnapshotInfo((name == null ? "tpl" + made.size() : name) + ":default",
                    name == null ? List.of() : List.of(name + ":default"), sandboxId);
            made.add(s);
            return s;
        }

        @Override
        public synchronized List<SnapshotInfo> list(Team team, String sandboxId, String name) {
            calls.add("list " + sandboxId + " " + name);
            return made.stream().filter(s -> sandboxId == null || s.sandboxId().equals(sandboxId)).toList();
        }

        @Override
        public synchronized List<ForkResult> fork(Team team, String sandboxId, int count, Duration timeout) {
            calls.add("fork " + sandboxId + " " + count + " " + timeout.toSeconds());
            List<ForkResult> out = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                out.add(i == failingFork ? new ForkResult(null, new SandboxException(SandboxException.Reason.BUSY,
                        "no room for fork " + i)) : new ForkResult(new Sandbox("f" + i, "tplfork", null, "0.6.13",
                        "tok" + i, null, "localhost"), null));
            }
            return out;
        }
    }

    final FakeSnapshots snapshots = new FakeSnapshots();
    final SandboxApiTest http = new SandboxApiTest();

    @BeforeEach
    void start() throws Exception {
        http.server = ApiServer.start(new InetSocketAddress("127.0.0.1", 0),
                ApiServices.of(http.service, http.keys).withSnapshots(snapshots), 1);
        http.client = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() {
        http.stop();
    }

    @Test
    void createAnswersSnapshotIdAndNamesAsTheSdkReadsThem() throws Exception {
        var named = http.call("POST", "/sandboxes/sbx1/snapshots", "{\"name\":\"my-snap\"}");
        assertEquals(201, named.status(), named.body());
        assertEquals("my-snap:default", named.json().get("snapshotID").asText());
        assertEquals("my-snap:default", named.json().get("names").get(0).asText());
        var unnamed = http.call("POST", "/sandboxes/sbx1-abc123/snapshots", "{}");
        assertEquals(201, unnamed.status(), unnamed.body());
        assertEquals(0, unnamed.json().get("names").size());
        var tagged = http.call("POST", "/sandboxes/sbx2/snapshots", "{\"name\":\"other:default\"}");
        assertEquals(201, tagged.status(), tagged.body());
        assertEquals(List.of("create team-a sbx1 my-snap", "create team-a sbx1 null", "create team-a sbx2 other"),
                snapshots.calls, "the client-ID suffix and the default tag are stripped before the service sees them");
    }

    @Test
    void badNamesAndUnknownSandboxesAreClearErrors() throws Exception {
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/snapshots", "{\"name\":\"Bad Name\"}"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/snapshots", "{\"name\":\"x:v2\"}"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/snapshots", "{\"name\":7}"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/snapshots", "[]"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/missing/snapshots", "{}"), 404);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/..%2Fetc/snapshots", "{}"), 404);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/snapshots", "{}", null), 401);
        assertTrue(snapshots.calls.stream().noneMatch(c -> c.contains("Bad") || c.contains("etc")), snapshots.calls.toString());
    }

    @Test
    void listFiltersBySandboxAndPagesWithTheNextTokenHeader() throws Exception {
        for (int i = 0; i < 5; i++) {
            http.call("POST", "/sandboxes/sbx" + (i % 2) + "/snapshots", "{}");
        }
        var all = http.call("GET", "/snapshots", null);
        assertEquals(200, all.status(), all.body());
        assertEquals(5, all.json().size());
        assertTrue(all.headers().firstValue("X-Next-Token").isEmpty());
        var mine = http.call("GET", "/snapshots?sandboxID=sbx1", null);
        assertEquals(2, mine.json().size());
        assertEquals("list sbx1 null", snapshots.calls.getLast());

        var first = http.call("GET", "/snapshots?limit=2", null);
        assertEquals(List.of("tpl0:default", "tpl1:default"), ids(first.json()));
        String token = first.headers().firstValue("X-Next-Token").orElseThrow();
        var second = http.call("GET", "/snapshots?limit=2&nextToken=" + token, null);
        assertEquals(List.of("tpl2:default", "tpl3:default"), ids(second.json()));
        var last = http.call("GET", "/snapshots?limit=2&nextToken="
                + second.headers().firstValue("X-Next-Token").orElseThrow(), null);
        assertEquals(List.of("tpl4:default"), ids(last.json()));
        assertTrue(last.headers().firstValue("X-Next-Token").isEmpty(), "no token after the last page");

        SandboxApiTest.assertError(http.call("GET", "/snapshots?limit=0", null), 400);
        SandboxApiTest.assertError(http.call("GET", "/snapshots?limit=abc", null), 400);
        SandboxApiTest.assertError(http.call("GET", "/snapshots?nextToken=nope", null), 400);
    }

    @Test
    void forkListsOneOutcomePerSandboxWithDefaults() throws Exception {
        snapshots.failingFork = 1;
        var r = http.call("POST", "/sandboxes/sbx1/fork", "{\"count\":3,\"timeout\":60}");
        assertEquals(201, r.status(), r.body());
        JsonNode list = r.json();
        assertEquals(3, list.size());
        assertEquals("f0", list.get(0).get("sandbox").get("sandboxID").asText());
        assertEquals("tok0", list.get(0).get("sandbox").get("envdAccessToken").asText());
        assertNull(list.get(0).get("error"));
        assertEquals(503, list.get(1).get("error").get("code").asInt());
        assertTrue(list.get(1).get("error").get("message").asText().contains("no room"));
        assertFalse(list.get(1).has("sandbox"));
        assertEquals("fork sbx1 3 60", snapshots.calls.getLast());

        assertEquals(201, http.call("POST", "/sandboxes/sbx1/fork", null).status());
        assertEquals("fork sbx1 1 15", snapshots.calls.getLast(), "E2B's defaults: one fork, 15 s");
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/fork", "{\"count\":0}"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/fork", "{\"count\":1000}"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/fork", "{\"timeout\":-1}"), 400);
        SandboxApiTest.assertError(http.call("POST", "/sandboxes/sbx1/fork", "{\"count\":\"2\"}"), 400);
    }

    private static List<String> ids(JsonNode list) {
        List<String> out = new ArrayList<>();
        list.forEach(n -> out.add(n.get("snapshotID").asText()));
        return out;
    }
}
