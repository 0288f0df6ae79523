package io.sandboxd.daemon.cli;

import io.sandboxd.api.ApiServer;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.proxy.SandboxProxyServer;
import io.sandboxd.daemon.envd.HttpEnvdClient;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import io.sandboxd.daemon.orchestrator.OrchestratorRouter;
import io.sandboxd.daemon.orchestrator.TimeoutScheduler;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.jail.JailConfig;
import io.sandboxd.daemon.runtime.jail.JailRuntime;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.template.BaseTemplateBuilder;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd serve}: the store, the runtime with its warm pool and the {@code base} template, the E2B API and
 * the sandbox proxy, until SIGTERM/SIGINT, which shuts everything down in reverse order (sandboxes killed, the
 * embedded database stopped).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Start the daemon: E2B API on :3000, sandbox proxy on :3002.")
final class ServeCommand implements Callable<Integer> {
    static final int EXIT_NOT_AVAILABLE = 3;
    static final int EXIT_START_FAILED = 1;

    enum RuntimeChoice { jail, vm, auto }

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    StoreOptions store = new StoreOptions();

    @Option(names = "--api-port", defaultValue = "3000", description = "E2B API port. Default: ${DEFAULT-VALUE}.")
    int apiPort;

    @Option(names = "--proxy-port", defaultValue = "3002", description = "Sandbox proxy port. Default: ${DEFAULT-VALUE}.")
    int proxyPort;

    @Option(names = "--bind", defaultValue = "127.0.0.1",
            description = "Address the API and proxy listen on. Default: ${DEFAULT-VALUE}.")
    String bind;

    @Option(names = "--domain", defaultValue = "localhost",
            description = "Sandbox domain (the proxy routes <port>-<id>.<domain>). Default: ${DEFAULT-VALUE}.")
    String domain;

    @Option(names = "--runtime", defaultValue = "auto", description = "jail, vm or auto (= jail). Default: ${DEFAULT-VALUE}.")
    RuntimeChoice runtime;

    @Option(names = "--warm-pool", description = "Started sandboxes kept ready per template. Default: "
            + JailConfig.POOL_SIZE_DEFAULT + ".")
    Integer warmPool;

    @Option(names = "--envd-jar", description = "envd's jar. Default: envd/target/envd.jar of the checkout this jar was built in.")
    Path envdJar;

    @Option(names = "--mirror", description = "Debian mirror for the base template. Default: the host's apt mirror.")
    String mirror;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (runtime == RuntimeChoice.vm) {
            err.println("sandboxd serve: the vm runtime needs hardware KVM and a guest kernel; not available in this version."
                    + " Use --runtime jail.");
            return EXIT_NOT_AVAILABLE;
        }
        CliLogging.quietLibraries();
        Deque<AutoCloseable> open = new ArrayDeque<>();
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            closeAll(open, err);
            stopped.countDown();
        }, "sandboxd-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Path dataDir = store.dataDir.toAbsolutePath();
            Files.createDirectories(dataDir);
            Path envFile = dataDir.resolve(EnvFile.NAME);
            Map<String, String> previous = EnvFile.read(envFile);
            Files.deleteIfExists(envFile);
            Path jar = resolveEnvdJar();

            err.println("sandboxd: opening the store" + (store.databaseUrl == null ? " (embedded PostgreSQL under "
                    + dataDir.resolve("db") + ")" : ""));
            Store st = store.open();
            open.push(st);
            SandboxTokens tokens = TokenSecret.loadOrCreate(dataDir);

            JailConfig config = JailConfig.defaults(dataDir, jar);
            if (warmPool != null) {
                config = config.withPoolSize(warmPool);
            }
            JailRuntime jail = JailRuntime.start(config);
            open.push(jail);
            if (mirror != null) {
                jail.baseMirror(mirror);
            }
            Orchestrator orchestrator = new Orchestrator(st, jail, tokens, new HttpEnvdClient(), domain);
            open.push(orchestrator);
            for (String line : orchestrator.reconcile()) {
                err.println("sandboxd: removed leftover " + line);
            }

            err.println("sandboxd: preparing the base template (the first build runs debootstrap, 1-3 minutes)");
            long t0 = System.nanoTime();
            PreparedTemplate base = jail.prepareTemplate(BaseTemplateBuilder.TEMPLATE_ID, line -> err.println("  | " + line));
            orchestrator.registerTemplate(base, config.defaultCpuCount(), config.defaultMemoryMB());
            err.printf("sandboxd: template base ready (build %s) in %.1f s; warming %d sandbox(es)%n", base.buildId(),
                    (System.nanoTime() - t0) / 1e9, config.poolSize());
            if (!jail.awaitPoolFull(BaseTemplateBuilder.TEMPLATE_ID, Duration.ofSeconds(120))) {
                err.println("sandboxd: the warm pool is not full yet (" + jail.pooled(BaseTemplateBuilder.TEMPLATE_ID)
                        + " ready); creates start cold until it fills");
            }

            TimeoutScheduler timers = TimeoutScheduler.start(orchestrator);
            open.push(timers);
            OrchestratorRouter router = new OrchestratorRouter(orchestrator);
            open.push(router);
            SandboxProxyServer proxy = SandboxProxyServer.start(new InetSocketAddress(bind, proxyPort), domain, router, 2);
            open.push(proxy);
            ApiServer api = ApiServer.start(new InetSocketAddress(bind, apiPort), orchestrator,
                    new io.sandboxd.daemon.store.StoreApiKeyStore(st.keys()));
            open.push(api);

            Team team = st.teams().ensureDefault();
            String apiKey = reuse(st, KeyHash.API_KEY, previous.get("E2B_API_KEY"));
            boolean newKey = apiKey == null;
            if (newKey) {
                apiKey = st.keys().create(KeyHash.API_KEY, team, "serve").plaintext();
            }
            String accessToken = reuse(st, KeyHash.ACCESS_TOKEN, previous.get("E2B_ACCESS_TOKEN"));
            if (accessToken == null) {
                accessToken = st.keys().create(KeyHash.ACCESS_TOKEN, team, "serve").plaintext();
            }
            String host = bind.equals("0.0.0.0") ? "localhost" : bind;
            String apiUrl = "http://" + host + ":" + api.port();
            String sandboxUrl = "http://" + host + ":" + proxy.port();
            Map<String, String> env = new LinkedHashMap<>();
            env.put("E2B_API_URL", apiUrl);
            env.put("E2B_SANDBOX_URL", sandboxUrl);
            env.put("E2B_DOMAIN", domain);
            env.put("E2B_API_KEY", apiKey);
            env.put("E2B_ACCESS_TOKEN", accessToken);
            EnvFile.write(envFile, env);

            out.println("sandboxd is ready (runtime " + jail.name() + ")");
            out.println("  API URL:      " + apiUrl);
            out.println("  sandbox URL:  " + sandboxUrl);
            out.println("  domain:       " + domain);
            out.println(newKey ? "  API key:      " + apiKey + "   (shown once; also in " + envFile + ")"
                    : "  API key:      reused, see " + envFile);
            out.println("  use it:       set -a; . " + envFile + "; set +a");
            out.flush();
            stopped.await();
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return EXIT_START_FAILED;
        } catch (Exception e) {
            err.println("sandboxd serve: " + e.getMessage());
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
                closeAll(open, err);
            } catch (IllegalStateException shuttingDown) {
                // the hook closes everything
            }
            return EXIT_START_FAILED;
        }
    }

    /** The credential from the previous sandboxd.env when it still authenticates, else null. */
    private static String reuse(Store st, KeyHash kind, String credential) {
        if (credential == null || !kind.matches(credential)) {
            return null;
        }
        return st.keys().authenticate(kind, credential).isPresent() ? credential : null;
    }

    private Path resolveEnvdJar() {
        if (envdJar != null) {
            if (!Files.isRegularFile(envdJar)) {
                throw new IllegalArgumentException("--envd-jar " + envdJar + " does not exist");
            }
            return envdJar.toAbsolutePath();
        }
        String env = System.getenv("SANDBOXD_ENVD_JAR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        try {
            // <checkout>/daemon/target/sandboxd.jar -> <checkout>/envd/target/envd.jar
            Path self = Path.of(ServeCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path checkout = self.getParent().getParent().getParent();
            Path candidate = checkout.resolve("envd/target/envd.jar");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
            throw new IllegalArgumentException("envd's jar is not at " + candidate
                    + ": build it with ./mvnw -pl envd -am package, or pass --envd-jar");
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalArgumentException("cannot locate envd's jar: pass --envd-jar", e);
        }
    }

    private static void closeAll(Deque<AutoCloseable> open, PrintWriter err) {
        AutoCloseable c;
        while ((c = open.poll()) != null) {
            try {
                c.close();
            } catch (Exception e) {
                err.println("sandboxd: shutting down " + c.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
    }
}
