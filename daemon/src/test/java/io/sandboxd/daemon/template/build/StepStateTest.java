package io.sandboxd.daemon.template.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StepStateTest {
    private static Step step(String type, String... args) {
        return new Step(type, List.of(args), null, false);
    }

    @Test
    void userWorkdirAndEnvCarryToLaterSteps() {
        StepState s = StepState.base();
        s = LayeredBuilder.apply(s, step("ENV", "A", "1", "B", "two words"));
        s = LayeredBuilder.apply(s, step("WORKDIR", "app"));
        s = LayeredBuilder.apply(s, step("USER", "root"));
        s = LayeredBuilder.apply(s, step("ENV", "A", "3"));
        s = LayeredBuilder.apply(s, step("RUN", "ls"));
        assertEquals("root", s.user());
        assertEquals("/home/user/app", s.workdir());
        assertEquals(Map.of("A", "3", "B", "two words"), s.env());
    }

    @Test
    void workdirsResolveAgainstTheCurrentOne() {
        assertEquals("/srv", LayeredBuilder.absolute("/home/user", "/srv/"));
        assertEquals("/home/user/a/b", LayeredBuilder.absolute("/home/user/", "a/b"));
        assertEquals("/", LayeredBuilder.absolute("/home", "/"));
    }

    @Test
    void aStepProcessSeesTheUsersHomeAndTheTemplateEnv() {
        StepState root = new StepState("root", "/", Map.of("PATH", "/opt/bin:/usr/bin", "X", "1"));
        Map<String, String> env = root.processEnv();
        assertEquals("/root", env.get("HOME"));
        assertEquals("/opt/bin:/usr/bin", env.get("PATH"), "a template's PATH wins over the default");
        assertEquals("1", env.get("X"));
        assertEquals("/home/user", StepState.base().processEnv().get("HOME"));
        assertEquals("noninteractive", env.get("DEBIAN_FRONTEND"));
    }

    @Test
    void quotingSurvivesSingleQuotes() {
        assertEquals("'it'\\''s'", LayeredBuilder.quote("it's"));
    }

    @Test
    void describeNamesTheStepAndCutsLongCommands() {
        assertEquals("RUN echo hi root", LayeredBuilder.describe(step("RUN", "echo hi", "root")));
        String d = LayeredBuilder.describe(step("RUN", "y".repeat(1000)));
        assertTrue(d.length() < 210 && d.endsWith("…"), d);
    }
}
