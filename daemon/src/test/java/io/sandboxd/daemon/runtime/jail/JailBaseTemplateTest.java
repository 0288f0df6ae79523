package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.envd.EnvdLaunch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.network.NetworkConfig;
import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.template.AptMirror;
import io.sandboxd.daemon.template.BaseTemplateBuilder;
import io.sandboxd.daemon.template.TemplateMetadata;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real {@code base} template: a debootstrap of Debian bookworm (about a minute, from the mirror this host's
 * apt uses), then a jail from it. Slow by nature; the only test that needs the Debian mirror.
 */
class JailBaseTemplateTest {
    @TempDir
    Path dataDir;

    /** envd's jar when the envd module has been packaged (then envd itself is started in the jail). */
    static Path envdJar() {
        return io.sandboxd.daemon.envd.EnvdAotCacheTest.envdJar();
    }

    @Test
    void baseTemplateIsBuiltOnceAndRunsPythonNodeSudoAndTheHostJre() throws Exception {
        HostAssumptions.assumeJailHost();
        HostAssumptions.assumeTool("debootstrap", "debootstrap");
        org.junit.jupiter.api.Assumptions.assumeTrue(AptMirror.fromHost().isPresent(), "needs a Debian mirror in /etc/apt");
        Path jar = envdJar();
        JailConfig config = JailRuntimeTest.testConfig(dataDir, 1)
                .withNetwork(NetworkConfig.defaults().withNamePrefix("sbxb").withSubnet("10.14.0.0/16").withDnsServers(List.of()));
        config = jar == null ? config.withCommand(List.of("/bin/sleep", "infinity"), 0)
                : new JailConfig(config.dataDir(), config.runcRoot(), config.cgroupParent(), config.network(),
                        config.javaHome(), jar, EnvdLaunch.COMMAND, EnvdLaunch.PORT, EnvdLaunch.HEALTH_PATH,
                        config.startTimeout(), config.poolSize(), config.defaultCpuCount(), 512, config.pidsLimit(), false, true);
        System.err.println(jar == null ? "envd jar not built: the base jail runs sleep instead of envd" : "envd: " + jar);

        try (JailRuntime runtime = JailRuntime.start(config)) {
            runtime.reconcile();
            List<String> progress = new ArrayList<>();
            long t0 = System.nanoTime();
            PreparedTemplate base = runtime.prepareTemplate("base", progress::add);
            System.err.printf("base template built in %.1f s (%d progress lines)%n", (System.nanoTime() - t0) / 1e9, progress.size());
            assertTrue(progress.contains("I: Base system installed successfully."), progress.toString());
            assertEquals(BaseTemplateBuilder.buildId(), base.buildId());
            TemplateMetadata md = TemplateMetadata.readFrom(base.directory());
            assertEquals("debootstrap", md.kind());
            assertTrue(md.rootfsBytes() > 100_000_000L, "a real rootfs: " + md.rootfsBytes());
            try (var s = Files.list(base.directory().getParent())) {
                assertEquals(List.of(base.buildId()), s.map(p -> p.getFileName().toString()).filter(n -> !n.equals(".lock")).toList(),
                        "only the finished build is left");
            }

            List<String> again = new ArrayList<>();
            PreparedTemplate reused = runtime.prepareTemplate("base", again::add);
            assertEquals(base, reused);
            assertEquals(List.of(), again, "built once, then reused");

            SandboxSpec spec = new SandboxSpec("base1", "base", 1, 512, Map.of(), false);
            JailSandbox sb = runtime.create(spec);
            assertEquals("2\n", sb.exec(List.of("python3", "-c", "print(1+1)"), Duration.ofSeconds(30)).orThrow().stdout());
            assertTrue(sb.exec(List.of("node", "--version"), Duration.ofSeconds(30)).orThrow().stdout().startsWith("v"));
            assertTrue(sb.exec(List.of("git", "--version"), Duration.ofSeconds(30)).ok());
            assertEquals("uid=1000(user) gid=1000(user) groups=1000(user)\n",
                    sb.exec(List.of("id", "user"), Duration.ofSeconds(10)).orThrow().stdout());
            assertEquals("/home/user\n", sb.exec(List.of("su", "-", "user", "-c", "echo $HOME"),
                    Duration.ofSeconds(10)).orThrow().stdout());
            assertEquals("0\n", sb.exec(List.of("su", "-", "user", "-c", "sudo -n id -u"),
                    Duration.ofSeconds(10)).orThrow().stdout(), "passwordless sudo for user");
            HostCommand.Result java = sb.exec(List.of(EnvdLaunch.JRE_PATH + "/bin/java", "-version"),
                    Duration.ofSeconds(30));
            assertEquals(0, java.exitCode(), "the host JRE runs on the bookworm rootfs: " + java);
            if (jar != null) {
                HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                                "http://" + sb.envdAddress().getAddress().getHostAddress() + ":" + EnvdLaunch.PORT + "/health"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                assertTrue(health.statusCode() / 100 == 2, "envd answers /health: " + health.statusCode() + " " + health.body());
            }
            sb.kill();
        } finally {
            // Our own delete: it never follows the rootfs's absolute symlinks (JUnit warns about each one).
            io.sandboxd.daemon.host.DirectoryTrees.deleteRecursively(dataDir.resolve("templates"));
        }
    }
}
