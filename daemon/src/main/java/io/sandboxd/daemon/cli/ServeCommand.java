package io.sandboxd.daemon.cli;

import io.sandboxd.api.ApiServer;
import io.sandboxd.api.ApiServices;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.proxy.SandboxProxyServer;
import io.sandboxd.daemon.envd.HttpEnvdClient;
import io.sandboxd.daemon.metrics.DaemonMetrics;
import io.sandboxd.daemon.orchestrator.Orchestrator;
import io.sandboxd.daemon.orchestrator.SecretManager;
import io.sandboxd.daemon.orchestrator.SnapshotManager;
import io.sandboxd.daemon.orchestrator.TemplateBuildService;
import io.sandboxd.daemon.template.TemplateStore;
import io.sandboxd.daemon.orchestrator.VolumeManager;
import io.sandboxd.daemon.secret.SecretCipher;
import io.sandboxd.daemon.secret.SecretKeyFile;
import io.sandboxd.daemon.orchestrator.OrchestratorRouter;
import io.sandboxd.daemon.orchestrator.cluster.ClusterMember;
import io.sandboxd.daemon.orchestrator.cluster.ClusterRouter;
import io.sandboxd.daemon.orchestrator.cluster.ClusterSandboxService;
import io.sandboxd.daemon.orchestrator.cluster.NodeInfo;
import io.sandboxd.daemon.orchestrator.cluster.NodeServer;
import io.sandboxd.daemon.orchestrator.cluster.NodeTransport;
import io.sandboxd.api.proxy.SandboxRouter;
import io.sandboxd.api.sandbox.SandboxService;
import io.sandboxd.daemon.orchestrator.TimeoutScheduler;
import io.sandboxd.daemon.orchestrator.ShutdownPolicy;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.jail.JailConfig;
import io.sandboxd.daemon.runtime.jail.JailRuntime;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.StoreApiKeyStore;
import io.sandboxd.daemon.store.StoreTeamKeys;
import io.sandboxd.daemon.template.BaseTemplateBuilder;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd serve}: the store, the runtime with its warm pool and the {@code base} template, the E2B API and
 * the sandbox proxy, until SIGTERM/SIGINT, which shuts everything down in reverse order of start: the API and the
 * proxy stop accepting first, the TTL timers stop, the sandboxes are handled by {@code --on-shutdown} (killed by
 * default), the runtime removes its pool, and the embedded database stops last.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Start the daemon: E2B API on :3000, sandbox proxy on :3002.")
final class ServeCommand implements Callable<Integer> {
    static final int EXIT_NOT_AVAILABLE = 3;
    static final int EXIT_START_FAILED = 1;
    static final int EXIT_USAGE = 2;
    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

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

    @Option(names = "--on-shutdown", defaultValue = "kill", paramLabel = "kill|pause|keep",
            converter = ShutdownPolicyConverter.class,
            description = "What SIGTERM does to the sandboxes: kill them (default), pause them or keep them running;"
                    + " paused and kept sandboxes are adopted again by the next start on the same data dir.")
    ShutdownPolicy onShutdown = ShutdownPolicy.KILL;

    @Option(names = "--mirror", description = "Debian mirror for the base template. Default: the host's apt mirror.")
    String mirror;

    @Option(names = "--host-prefix", defaultValue = "sbx", paramLabel = "LETTERS",
            description = "Prefix of everything this daemon makes on the host (network namespaces, veths, the nftables "
                    + "table, runc's state dir, the cgroup): two daemons on one host need different ones. 2-5 lower-case"
                    + " letters. Default: ${DEFAULT-VALUE}.")
    String hostPrefix;

    @Option(names = "--redis", defaultValue = "${env:SANDBOXD_REDIS_URL}", paramLabel = "URL",
            description = "Join a cluster: redis://host:port of its catalog (live nodes, sandbox routes). Needs "
                    + "--database-url shared by every node, and the same token-secret and secret-key files in every "
                    + "node's data dir. Without it the daemon runs alone, with no Redis.")
    String redis;

    @Option(names = "--node-id", paramLabel = "ID",
            description = "This node's name in the cluster (1-32 of [a-z0-9-]). Default: the host name.")
    String nodeId;

    @Option(names = "--node-address", paramLabel = "HOST",
            description = "Where other nodes reach this one (its node service and proxy). Default: --bind.")
    String nodeAddress;

    @Option(names = "--node-port", defaultValue = "5008",
            description = "Port of the gRPC node service (cluster only). Default: ${DEFAULT-VALUE}.")
    int nodePort;

    @Option(names = "--node-capacity", defaultValue = "64",
            description = "Most sandboxes placement puts on this node (cluster only). Default: ${DEFAULT-VALUE}.")
    int nodeCapacity;

    @Option(names = "--node-tls-cert", paramLabel = "PEM",
            description = "Mutual TLS between the nodes (cluster only; with --node-tls-key and --node-tls-ca, the same "
                    + "way on every node): this node's certificate, whose subject alternative names hold its "
                    + "--node-address. Without the three, the node service is plaintext.")
    Path nodeTlsCert;

    @Option(names = "--node-tls-key", paramLabel = "PEM", description = "This node's private key (PKCS#8 PEM).")
    Path nodeTlsKey;

    @Option(names = "--node-tls-ca", paramLabel = "PEM",
            description = "The cluster's CA certificate(s): only nodes with a certificate it signed are let in.")
    Path nodeTlsCa;

    @Option(names = "--log-format", defaultValue = "text", description = "Log lines on stderr as text or json (one "
            + "object per line: time, level, logger, message, sandboxId). Default: ${DEFAULT-VALUE}.")
    CliLogging.LogFormat logFormat;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!hostPrefix.matches("[a-z]{2,5}")) {
            err.println("sandboxd serve: --host-prefix must be 2-5 lower-case letters, not '" + hostPrefix + "'");
            return EXIT_USAGE;
        }
        if (redis != null && store.databaseUrl == null) {
            err.println("sandboxd serve: --redis (a cluster) needs --database-url: the nodes share one PostgreSQL");
            return EXIT_USAGE;
        }
        int tlsFiles = (nodeTlsCert != null ? 1 : 0) + (nodeTlsKey != null ? 1 : 0) + (nodeTlsCa != null ? 1 : 0);
        if (tlsFiles != 0 && (tlsFiles != 3 || redis == null)) {
            err.println("sandboxd serve: node TLS needs all of --node-tls-cert, --node-tls-key and --node-tls-ca, and "
                    + "--redis (it is for the cluster's node service)");
            return EXIT_USAGE;
        }
        if (runtime == RuntimeChoice.vm) {
            err.println("sandboxd serve: the vm runtime needs hardware KVM and a guest kernel; not available in this version."
                    + " Use --runtime jail.");
            return EXIT_NOT_AVAILABLE;
        }
        CliLogging.quietLibraries();
        CliLogging.use(logFormat);
        // Progress lines are log lines too when a collector reads stderr as JSON; on a terminal they stay plain.
        Consumer<String> status = logFormat == CliLogging.LogFormat.json ? LOG::info : err::println;
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

            status.accept("sandboxd: opening the store" + (store.databaseUrl == null ? " (embedded PostgreSQL under "
                    + dataDir.resolve("db") + ")" : ""));
            NodeTransport nodeTransport = nodeTlsCert == null ? NodeTransport.plaintext()
                    : NodeTransport.mutualTls(nodeTlsCert, nodeTlsKey, nodeTlsCa);
            Cluster cluster = redis == null ? null : Cluster.join(redis, clusterNodeId(), dataDir);
            if (cluster != null) {
                open.push(cluster.catalog());
                status.accept("sandboxd: node " + cluster.nodeId() + " of the cluster at " + redis);
            }
            Store st = cluster == null ? store.open() : Store.openForNode(store.databaseUrl, cluster.nodeId());
            open.push(st);
            SandboxTokens tokens = TokenSecret.loadOrCreate(dataDir);
            SecretCipher secretKey = SecretKeyFile.loadOrCreate(dataDir);
            if (cluster != null) {
                cluster.checkSecrets(dataDir);
            }

            JailConfig config = JailConfig.defaults(dataDir, jar);
            if (!hostPrefix.equals(config.network().namePrefix())) {
                config = config.withNetwork(config.network().withNamePrefix(hostPrefix))
                        .withRuncRoot(Path.of("/run/sandboxd-" + hostPrefix + "/runc"))
                        .withCgroupParent("sandboxd-" + hostPrefix);
            }
            if (warmPool != null) {
                config = config.withPoolSize(warmPool);
            }
            JailRuntime jail = JailRuntime.start(config);
            // Closed after the orchestrator: with kill nothing is left to it but the pool; otherwise it leaves the sandboxes.
            open.push(onShutdown.leavesSandboxes() ? named("the jail runtime", jail::closeLeavingSandboxes) : jail);
            if (mirror != null) {
                jail.baseMirror(mirror);
            }
            VolumeManager volumes = new VolumeManager(st.volumes(), VolumeManager.volumesDir(dataDir), tokens,
                    Clock.systemUTC());
            DaemonMetrics metrics = new DaemonMetrics();
            SecretManager secrets = new SecretManager(st.secrets(), secretKey,
                    Clock.systemUTC());
            Orchestrator orchestrator = new Orchestrator(st, jail, tokens, new HttpEnvdClient(), domain,
                    Clock.systemUTC(), volumes, metrics, secrets);
            open.push(named("the sandboxes (--on-shutdown " + onShutdown.optionName() + ")", () -> {
                // plain stderr: at SIGTERM the logging framework may already be shut down by its own hook
                err.println("sandboxd: shutting down: " + orchestrator.shutdown(onShutdown).line());
                err.flush();
            }));
            // Sandboxes a killed or crashed daemon left running or paused are taken over; the rest is removed.
            for (String line : orchestrator.reconcile()) {
                status.accept(line.startsWith("adopted ") ? "sandboxd: " + line : "sandboxd: removed leftover " + line);
            }

            status.accept("sandboxd: preparing the base template (the first build runs debootstrap, 1-3 minutes)");
            long t0 = System.nanoTime();
            PreparedTemplate base = jail.prepareTemplate(BaseTemplateBuilder.TEMPLATE_ID, line -> status.accept("  | " + line));
            orchestrator.registerTemplate(base, config.defaultCpuCount(), config.defaultMemoryMB());
            status.accept(String.format("sandboxd: template base ready (build %s) in %.1f s; warming %d sandbox(es)",
                    base.buildId(), (System.nanoTime() - t0) / 1e9, config.poolSize()));
            if (!jail.awaitPoolFull(BaseTemplateBuilder.TEMPLATE_ID, Duration.ofSeconds(120))) {
                status.accept("sandboxd: the warm pool is not full yet (" + jail.pooled(BaseTemplateBuilder.TEMPLATE_ID)
                        + " ready); creates start cold until it fills");
            }

            TemplateBuildService templateBuilds = new TemplateBuildService(st.templates(), new TemplateStore(dataDir), jail,
                    orchestrator, System.getenv().getOrDefault("SANDBOXD_BUILD_JAIL_PREFIX", hostPrefix + "b"), Clock.systemUTC());
            open.push(templateBuilds);
            for (String id : templateBuilds.restoreBuilt()) {
                status.accept("sandboxd: template " + id + " ready (built earlier)");
            }

            SnapshotManager snapshots = new SnapshotManager(st.templates(), new TemplateStore(dataDir), jail, orchestrator,
                    Clock.systemUTC()).sweepingEvery(Duration.ofSeconds(30));
            open.push(snapshots);

            TimeoutScheduler timers = TimeoutScheduler.start(orchestrator);
            open.push(timers);
            OrchestratorRouter localRouter = new OrchestratorRouter(orchestrator);
            open.push(localRouter);
            SandboxRouter router = localRouter;
            SandboxService sandboxes = orchestrator;
            ClusterMember member = null;
            if (cluster != null) {
                String advertised = nodeAddress != null ? nodeAddress : bind;
                member = new ClusterMember(cluster.catalog(), orchestrator, new ClusterMember.Self(cluster.nodeId(),
                        advertised + ":" + nodePort, advertised + ":" + proxyPort, nodeCapacity, tokens.nodeServiceToken(),
                        nodeTransport),
                        Clock.systemUTC(),
                        status);
                NodeServer nodeServer = NodeServer.start(new InetSocketAddress(bind, nodePort), orchestrator, member);
                open.push(nodeServer);
                ClusterRouter clusterRouter = new ClusterRouter(localRouter, member);
                open.push(clusterRouter);
                router = clusterRouter;
                sandboxes = new ClusterSandboxService(orchestrator, member);
            }
            SandboxProxyServer proxy = SandboxProxyServer.start(new InetSocketAddress(bind, proxyPort), domain, router, 2);
            open.push(proxy);
            if (member != null) {
                // after the proxy listens: once the heartbeat is out, other nodes send traffic here
                open.push(member.start());
                status.accept("sandboxd: node service on " + bind + ":" + nodePort + " (" + nodeTransport + "); "
                        + member.membership().live().size() + " live node(s)");
            }
            StoreApiKeyStore keyStore = new StoreApiKeyStore(st.keys());
            ApiServer api = ApiServer.start(new InetSocketAddress(bind, apiPort), ApiServices.of(sandboxes, keyStore)
                    .withVolumes(volumes).withSecrets(secrets).withTeamKeys(new StoreTeamKeys(st.keys(), keyStore, tokens))
                    .withMetrics(metrics).withTemplates(templateBuilds).withSnapshots(snapshots), 2);
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
            // The SDK's Volume file API goes to https://api.<domain> unless told otherwise; here it is the API port.
            env.put("E2B_VOLUME_API_URL", apiUrl);
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
            if (logFormat == CliLogging.LogFormat.json) {
                LOG.log(Level.SEVERE, "sandboxd serve: " + e.getMessage(), e);
            } else {
                err.println("sandboxd serve: " + e.getMessage());
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
                closeAll(open, err);
            } catch (IllegalStateException shuttingDown) {
                // the hook closes everything
            }
            return EXIT_START_FAILED;
        }
    }

    private String clusterNodeId() {
        if (nodeId != null) {
            return NodeInfo.checkId(nodeId);
        }
        try {
            String host = java.net.InetAddress.getLocalHost().getHostName().toLowerCase(java.util.Locale.ROOT)
                    .replaceAll("[^a-z0-9-]", "-");
            return NodeInfo.checkId(host.length() > 32 ? host.substring(0, 32) : host);
        } catch (java.net.UnknownHostException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot make a node id from the host name (" + e.getMessage()
                    + "): pass --node-id");
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

    /** A shutdown step with a name for the log (a lambda's class name says nothing). */
    private record Named(String name, AutoCloseable step) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            step.close();
        }
    }

    private static AutoCloseable named(String name, AutoCloseable step) {
        return new Named(name, step);
    }

    static final class ShutdownPolicyConverter implements picocli.CommandLine.ITypeConverter<ShutdownPolicy> {
        @Override
        public ShutdownPolicy convert(String value) {
            for (ShutdownPolicy p : ShutdownPolicy.values()) {
                if (p.optionName().equals(value)) {
                    return p;
                }
            }
            throw new picocli.CommandLine.TypeConversionException("expected kill, pause or keep, not '" + value + "'");
        }
    }

    private static void closeAll(Deque<AutoCloseable> open, PrintWriter err) {
        AutoCloseable c;
        while ((c = open.poll()) != null) {
            try {
                c.close();
            } catch (Exception e) {
                String what = c instanceof Named n ? n.name() : c.getClass().getSimpleName();
                err.println("sandboxd: shutting down " + what + ": " + e.getMessage());
            }
        }
    }
}
