package io.sandboxd.daemon.cli.systemd;

import static io.sandboxd.daemon.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.daemon.cli.CliRun;
import io.sandboxd.daemon.cli.admin.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code install} and {@code uninstall} where systemd is absent: the unit text, directive by directive, and the
 * steps, both as {@code --dry-run} prints them and as they are applied to a recording fake machine.
 */
class ServiceInstallTest {
    static final String JAVA = "/usr/lib/jvm/temurin-25/bin/java";
    static final String JAR = "/opt/sandboxd/daemon/target/sandboxd.jar";
    FakeServiceHost host;

    @BeforeEach
    void fake() {
        host = new FakeServiceHost();
        host.files.put(Path.of(JAVA), "");
        host.files.put(Path.of(JAR), "");
        StepRunner.host = () -> host;
    }

    @AfterEach
    void real() {
        StepRunner.host = ServiceHost::system;
    }

    static CliRun install(String... more) {
        List<String> a = new ArrayList<>(List.of("install", "--java", JAVA, "--jar", JAR));
        a.addAll(Arrays.asList(more));
        return run(a.toArray(String[]::new));
    }

    /** {@code Key=value} lines of the [Service] section. */
    static Map<String, String> service(String unit) {
        String section = unit.substring(unit.indexOf("[Service]"), unit.indexOf("[Install]"));
        return section.lines().filter(l -> l.contains("=") && !l.startsWith("#"))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
    }

    @Test
    void dryRunPrintsTheUnitAndTheStepsAndTouchesNothing() {
        CliRun r = install("--dry-run", "--data-dir", "/srv/sandboxd", "--api-port", "3100", "--bind", "0.0.0.0",
                "--domain", "sbx.example.com", "--warm-pool", "4");
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of(), host.calls, "a dry run does nothing");
        String unit = r.out().substring(r.out().indexOf("[Unit]"), r.out().indexOf("steps:"));
        Map<String, String> s = service(unit);
        assertEquals(JAVA + " --enable-native-access=ALL-UNNAMED -jar " + JAR + " serve --data-dir /srv/sandboxd"
                + " --on-shutdown kill --api-port 3100 --bind 0.0.0.0 --domain sbx.example.com --warm-pool 4",
                s.get("ExecStart"));
        assertEquals("root", s.get("User"));
        assertEquals("simple", s.get("Type"));
        assertEquals("on-failure", s.get("Restart"));
        assertEquals("mixed", s.get("KillMode"), "kill policy: SIGTERM to the daemon, SIGKILL to what is left after it");
        assertEquals("SIGTERM", s.get("KillSignal"));
        assertEquals("120", s.get("TimeoutStopSec"));
        assertEquals("1048576", s.get("LimitNOFILE"));
        assertEquals("infinity", s.get("LimitMEMLOCK"));
        assertEquals("infinity", s.get("TasksMax"));
        assertEquals("yes", s.get("Delegate"));
        assertEquals("/srv/sandboxd", s.get("WorkingDirectory"));
        assertTrue(unit.contains("\n[Install]\nWantedBy=multi-user.target\n"), unit);
        assertTrue(unit.contains("After=network-online.target"), unit);

        List<String> steps = r.out().substring(r.out().indexOf("steps:")).lines().skip(1).map(String::strip).toList();
        assertEquals(5, steps.size(), r.out());
        assertEquals("1. mkdir -p /srv/sandboxd && chmod 0711 /srv/sandboxd", steps.get(0));
        assertEquals("2. write /etc/systemd/system/sandboxd.service (mode 0644)", steps.get(1));
        assertTrue(steps.get(2).startsWith("3. systemctl daemon-reload"), steps.get(2));
        assertTrue(steps.get(3).startsWith("4. systemctl enable sandboxd.service"), steps.get(3));
        assertTrue(steps.get(4).startsWith("5. systemctl start sandboxd.service"), steps.get(4));
    }

    @Test
    void policiesThatLeaveSandboxesKeepSystemdAwayFromThem() {
        ServiceLayout pause = new ServiceLayout(ServiceLayout.UNIT_NAME, ServiceLayout.UNIT_DIR, Path.of(JAVA), Path.of(JAR),
                null, Path.of("/var/lib/sandboxd"), io.sandboxd.daemon.orchestrator.ShutdownPolicy.PAUSE, List.of());
        Map<String, String> s = service(SystemdUnit.render(pause));
        assertEquals("process", s.get("KillMode"));
        assertTrue(s.get("ExecStart").contains("--on-shutdown pause"), s.get("ExecStart"));

        CliRun keep = install("--dry-run", "--on-shutdown", "keep");
        assertEquals(0, keep.exit(), keep.err());
        assertTrue(keep.out().contains("--on-shutdown keep"), keep.out());
        assertFalse(install("--dry-run", "--no-start").out().contains("systemctl start"), "--no-start");
        assertEquals(ExitCode.USAGE, install("--dry-run", "--on-shutdown", "explode").exit());
        assertEquals(ExitCode.USAGE, install("--dry-run", "--data-dir", "relative/dir").exit());
    }

    @Test
    void wordsSystemdWouldSplitOrExpandAreQuoted() {
        assertEquals("\"/srv/my data\"", SystemdUnit.quote("/srv/my data"));
        assertEquals("\"a%%b\"", SystemdUnit.quote("a%b"));
        assertEquals("\"$$HOME\"", SystemdUnit.quote("$HOME"));
        assertEquals("\"say \\\"hi\\\" \\\\o/\"", SystemdUnit.quote("say \"hi\" \\o/"));
        assertEquals("/usr/bin/java", SystemdUnit.quote("/usr/bin/java"));
        CliRun r = install("--dry-run", "--data-dir", "/srv/my data");
        assertTrue(service(r.out()).get("ExecStart").contains("--data-dir \"/srv/my data\" "), r.out());
    }

    @Test
    void installAppliesTheStepsInOrder() throws Exception {
        CliRun r = install("--data-dir", "/srv/sandboxd");
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("mkdir /srv/sandboxd rwx--x--x", "write /etc/systemd/system/sandboxd.service rw-r--r--",
                "run systemctl daemon-reload", "run systemctl enable sandboxd.service", "run systemctl start sandboxd.service"),
                host.calls);
        String written = host.files.get(Path.of("/etc/systemd/system/sandboxd.service"));
        assertTrue(written.contains("ExecStart=" + JAVA), written);
        assertTrue(r.out().contains("[5/5] systemctl start"), r.out());

        host.calls.clear();
        CliRun j = install("--no-start", "--format", "json", "--unit-dir", "/run/systemd/system");
        assertEquals(0, j.exit(), j.err());
        JsonNode report = StepRunner.JSON.readTree(j.out());
        assertEquals("/run/systemd/system/sandboxd.service", report.get("unitFile").asText());
        assertEquals(4, report.get("steps").size());
        assertFalse(host.calls.contains("run systemctl start sandboxd.service"));
    }

    @Test
    void theFirstFailingStepStopsTheInstallAndIsNamed() {
        host.answers.put("systemctl enable sandboxd.service", new ServiceHost.Outcome(1, "Failed to enable unit: nope"));
        CliRun r = install();
        assertEquals(ExitCode.FAILED, r.exit());
        assertTrue(r.err().contains("step 4 of 5 failed (systemctl enable sandboxd.service")
                && r.err().contains("Failed to enable unit: nope") && r.err().contains("steps before it were done"), r.err());
        assertFalse(host.calls.contains("run systemctl start sandboxd.service"), "nothing after the failure");
    }

    @Test
    void installRefusesWithoutRootOrSystemd() {
        host.root = false;
        assertEquals(ExitCode.AUTH, install().exit());
        host.root = true;
        host.systemd = false;
        CliRun r = install();
        assertEquals(ExitCode.UNREACHABLE, r.exit());
        assertTrue(r.err().contains("systemd is not running") && r.err().contains("--dry-run"), r.err());
        assertEquals(List.of(), host.calls);
        assertEquals(0, install("--dry-run").exit(), "a dry run works where systemd is absent");
        host.systemd = true;
        CliRun missing = run("install", "--java", JAVA, "--jar", "/nowhere/sandboxd.jar");
        assertEquals(ExitCode.USAGE, missing.exit());
        assertTrue(missing.err().contains("--jar /nowhere/sandboxd.jar is not a file"), missing.err());
        assertEquals(List.of(), host.calls);
    }

    @Test
    void uninstallKeepsTheDataUnlessPurged() {
        Path unit = Path.of("/etc/systemd/system/sandboxd.service");
        host.files.put(unit, "[Service]\nExecStart=/j -jar /x.jar serve --data-dir /srv/sbx --on-shutdown kill\n");
        host.files.put(Path.of("/srv/sbx/db/PG_VERSION"), "16");
        host.answers.put("systemctl stop sandboxd.service", new ServiceHost.Outcome(5, "Unit sandboxd.service not loaded."));
        CliRun r = run("uninstall");
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("run systemctl stop sandboxd.service", "run systemctl disable sandboxd.service",
                "delete " + unit, "run systemctl daemon-reload", "run systemctl reset-failed sandboxd.service"), host.calls);
        assertTrue(r.out().contains("/srv/sbx kept"), r.out());

        host.calls.clear();
        host.files.put(unit, "[Service]\nExecStart=/j -jar /x.jar serve --data-dir /srv/sbx --on-shutdown kill\n");
        CliRun p = run("uninstall", "--purge");
        assertEquals(0, p.exit(), p.err());
        assertTrue(host.calls.contains("deleteTree /srv/sbx"), "the data dir named in the installed unit: " + host.calls);
        assertEquals("run userdel sandboxd-pg", host.calls.getLast());
    }

    @Test
    void purgeRefusesADirectoryServeDidNotWrite() {
        host.files.put(Path.of("/home/ana/notes.txt"), "mine");
        CliRun r = run("uninstall", "--purge", "--data-dir", "/home/ana");
        assertEquals(ExitCode.REFUSED, r.exit());
        assertTrue(r.err().contains("not a sandboxd data dir"), r.err());
        assertEquals(List.of(), host.calls, "nothing stopped, nothing deleted");
        CliRun dry = run("uninstall", "--dry-run", "--purge", "--data-dir", "/srv/none");
        assertEquals(0, dry.exit(), dry.err());
        assertFalse(dry.out().contains("rm -rf"), "a data dir that is not there is not deleted: " + dry.out());
    }

    @Test
    void thePackagedUnitCarriesTheSameDirectives() throws Exception {
        Path packaged = Path.of("..", "packaging", "systemd", "sandboxd.service");
        Map<String, String> shipped = service(Files.readString(packaged));
        CliRun r = run("install", "--dry-run", "--java", "/opt/sandboxd/jdk/bin/java", "--jar", "/opt/sandboxd/sandboxd.jar");
        Map<String, String> generated = service(r.out());
        generated.forEach((k, v) -> {
            if (!k.equals("ExecStart") && !k.equals("WorkingDirectory")) {
                assertEquals(v, shipped.get(k), k + " in " + packaged);
            }
        });
        assertEquals(generated.keySet(), shipped.keySet());
    }
}
