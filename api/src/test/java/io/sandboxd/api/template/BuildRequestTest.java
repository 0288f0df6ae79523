package io.sandboxd.api.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.api.http.HttpError;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BuildRequestTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static BuildRequest parse(String json) throws Exception {
        return BuildRequest.parse(JSON.readTree(json));
    }

    private static String refused(String json) {
        HttpError e = assertThrows(HttpError.class, () -> parse(json), json);
        assertEquals(400, e.status(), json);
        return e.getMessage();
    }

    @Test
    void readsWhatTheSdkBuilderSends() throws Exception {
        // The shape SDK 2.51's Template().fromTemplate(...).copy(...).runCmd(...).setEnvs(...) posts.
        BuildRequest r = parse("""
                {"fromTemplate":"base","force":false,"startCmd":"python3 -m http.server 8000",
                 "readyCmd":"curl -s localhost:8000",
                 "steps":[{"type":"COPY","args":["app","/home/user/app","",""],"filesHash":"ab12","force":false},
                          {"type":"RUN","args":["echo hi","root"],"force":true},
                          {"type":"ENV","args":["A","1","B","2"]},
                          {"type":"WORKDIR","args":["/srv"]},
                          {"type":"USER","args":["user"]}]}""");
        assertEquals("base", r.fromTemplate());
        assertNull(r.fromImage());
        assertNull(r.registry());
        assertEquals("python3 -m http.server 8000", r.startCmd());
        assertEquals("curl -s localhost:8000", r.readyCmd());
        assertFalse(r.force());
        assertEquals(5, r.steps().size());
        assertEquals(new BuildStep("COPY", List.of("app", "/home/user/app", "", ""), "ab12", false), r.steps().get(0));
        assertEquals(new BuildStep("RUN", List.of("echo hi", "root"), null, true), r.steps().get(1));
        assertEquals(List.of("A", "1", "B", "2"), r.steps().get(2).args());
    }

    @Test
    void anEmptyBodyBuildsOnBaseWithNoSteps() throws Exception {
        BuildRequest r = parse("{}");
        assertNull(r.fromTemplate());
        assertNull(r.fromImage());
        assertTrue(r.steps().isEmpty());
        assertNull(r.startCmd());
    }

    @Test
    void fromImageWithRegistryCredentials() throws Exception {
        BuildRequest r = parse("""
                {"fromImage":"127.0.0.1:5000/team/app:1",
                 "fromImageRegistry":{"type":"registry","username":"u","password":"p4ss"}}""");
        assertEquals("127.0.0.1:5000/team/app:1", r.fromImage());
        assertEquals(new BuildRequest.RegistryLogin("u", "p4ss"), r.registry());
        assertFalse(r.registry().toString().contains("p4ss"), "the password never reaches a log line");
    }

    @Test
    void registryLoginsOtherThanUsernameAndPasswordAreRefusedByName() {
        assertTrue(refused("{\"fromImage\":\"x:1\",\"fromImageRegistry\":{\"type\":\"aws\",\"awsRegion\":\"r\"}}")
                .contains("'aws'"));
        assertTrue(refused("{\"fromImage\":\"x:1\",\"fromImageRegistry\":{\"type\":\"gcp\"}}").contains("'gcp'"));
        assertTrue(refused("{\"fromImage\":\"x:1\",\"fromImageRegistry\":{\"username\":\"u\",\"password\":\"p\"}}")
                .contains("is missing"));
        assertTrue(refused("{\"fromImage\":\"x:1\",\"fromImageRegistry\":{\"type\":\"registry\",\"username\":\"u\"}}")
                .contains("'password'"));
        assertTrue(refused("{\"fromImage\":\"x:1\",\"fromImageRegistry\":\"u:p\"}").contains("must be an object"));
        assertTrue(refused("{\"fromImageRegistry\":{\"type\":\"registry\",\"username\":\"u\",\"password\":\"p\"}}")
                .contains("only for a build 'fromImage'"));
    }

    @Test
    void malformedBodiesAre400sNamingTheField() {
        Map<String, String> cases = Map.ofEntries(
                Map.entry("[]", "JSON object"),
                Map.entry("{\"fromTemplate\":\"a\",\"fromImage\":\"b\"}", "not both"),
                Map.entry("{\"fromTemplate\":7}", "'fromTemplate' must be a string"),
                Map.entry("{\"startCmd\":[\"ls\"]}", "'startCmd' must be a string"),
                Map.entry("{\"steps\":{}}", "'steps' must be an array"),
                Map.entry("{\"steps\":[1]}", "steps[0] must be an object"),
                Map.entry("{\"steps\":[{\"type\":\"FROM\",\"args\":[\"x\"]}]}", "steps[0].type must be one of"),
                Map.entry("{\"steps\":[{\"args\":[\"x\"]}]}", "got nothing"),
                Map.entry("{\"steps\":[{\"type\":\"RUN\",\"args\":\"ls\"}]}", "array of strings"),
                Map.entry("{\"steps\":[{\"type\":\"RUN\",\"args\":[1]}]}", "array of strings"),
                Map.entry("{\"steps\":[{\"type\":\"RUN\",\"args\":[]}]}", "needs at least 1"),
                Map.entry("{\"steps\":[{\"type\":\"ENV\",\"args\":[\"A\",\"1\",\"B\"]}]}", "key/value pairs"),
                Map.entry("{\"steps\":[{\"type\":\"COPY\",\"args\":[\"a\",\"b\"]}]}", "'filesHash'"),
                Map.entry("{\"steps\":[{\"type\":\"COPY\",\"args\":[\"a\",\"b\"],\"filesHash\":\"../x\"}]}",
                        "'filesHash'"));
        cases.forEach((json, expected) -> {
            String message = refused(json);
            assertTrue(message.contains(expected), json + " → " + message);
        });
    }

    @Test
    void limitsOnStepsAndArguments() {
        StringBuilder many = new StringBuilder("{\"steps\":[");
        for (int i = 0; i <= BuildRequest.MAX_STEPS; i++) {
            many.append(i == 0 ? "" : ",").append("{\"type\":\"RUN\",\"args\":[\"true\"]}");
        }
        assertTrue(refused(many.append("]}").toString()).contains("at most " + BuildRequest.MAX_STEPS));
        String huge = "x".repeat(BuildRequest.MAX_ARG_CHARS + 1);
        assertTrue(refused("{\"steps\":[{\"type\":\"RUN\",\"args\":[\"" + huge + "\"]}]}").contains("characters"));
    }

    @Test
    void aStepKeepsFilesHashOnlyForCopy() throws Exception {
        BuildStep run = parse("{\"steps\":[{\"type\":\"RUN\",\"args\":[\"ls\"],\"filesHash\":\"ab\"}]}").steps().getFirst();
        assertNull(run.filesHash());
    }
}
