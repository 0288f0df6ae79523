package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogQuery;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.NetworkUpdate;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxDetail;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxMetric;
import io.sandboxd.api.sandbox.SandboxPage;
import io.sandboxd.api.sandbox.SandboxQuery;
import io.sandboxd.api.sandbox.SandboxService;
import io.sandboxd.api.sandbox.SandboxState;
import io.sandboxd.daemon.envd.EnvdClient;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.logging.SandboxLogContext;
import io.sandboxd.daemon.metrics.DaemonMetrics;
import io.sandboxd.daemon.metrics.DaemonMetrics.Cause;
import io.sandboxd.daemon.network.EgressPolicy;
import io.sandboxd.daemon.runtime.AdoptedSandbox;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.RunningSandbox;
import io.sandboxd.daemon.runtime.SandboxRuntime;
import io.sandboxd.daemon.runtime.SandboxSnapshot;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.StepClock;
import io.sandboxd.daemon.runtime.SandboxStats;
import io.sandboxd.daemon.store.NetworkRow;
import io.sandboxd.daemon.store.SandboxRepository;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import io.sandboxd.daemon.store.TemplateRepository.BuildRecord;
import io.sandboxd.daemon.store.TemplateRepository.TemplateRecord;
import io.sandboxd.daemon.store.Store;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The sandbox lifecycle on one host: the API's {@link SandboxService} over a {@link SandboxTable} (the one owner of
 * every sandbox's state: the store's row, with compare-and-set transitions so concurrent requests on one sandbox get
 * one winner, and the runtime handle) and a {@link SandboxRuntime} (where sandboxes run). A request that finds the
 * sandbox mid-transition gets 409; failures below map to statuses in {@link RuntimeErrors}. Time comes from the
 * injected {@link Clock}, so TTLs can be tested without waiting.
 */
public final class Orchestrator implements SandboxService, AutoCloseable {
    public static final String ENVD_VERSION = EnvdLaunch.VERSION;
    public static final String DEFAULT_USER = "user";
    public static final String DEFAULT_WORKDIR = "/home/user";
    /** The TTL a refresh without a duration adds (the create default of the SDKs). */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);
    static final int DISK_SIZE_MB = 10_240;
    private static final System.Logger LOG = System.getLogger(Orchestrator.class.getName());
    private static final Set<Lifecycle> ALL = EnumSet.allOf(Lifecycle.class);

    private final SandboxRepository sandboxes;
    private final SandboxTable table;
    private final SandboxRuntime runtime;
    private final TemplateCatalog templates;
    private final SandboxTokens tokens;
    private final EnvdClient envd;
    private final String domain;
    private final Clock clock;
    /** Null: creates with volume mounts are refused (501). */
    private final VolumeManager volumes;
    /**
     * Creates hold the read side while they run; shutdown raises {@link #shuttingDown} (no create starts after it)
     * and then takes the write side, so it handles the sandboxes once the creates in flight are in the table.
     */
    private final ReentrantReadWriteLock creates = new ReentrantReadWriteLock();
    private volatile boolean shuttingDown;
    /** Shutdown stopped waiting for a create: that create removes its own sandbox when it finishes. */
    private volatile boolean createsAbandoned;
    /** How long shutdown waits for creates in flight (an envd start is a few seconds at most). */
    static final Duration SHUTDOWN_CREATE_WAIT = Duration.ofSeconds(30);
    private final DaemonMetrics metrics;
    /** Null: a create whose envVars use a secret placeholder is refused (501). */
    private final SecretManager secrets;

    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain) {
        this(store, runtime, tokens, envd, domain, Clock.systemUTC());
    }

    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain,
                        Clock clock) {
        this(store, runtime, tokens, envd, domain, clock, null);
    }

    /** With team volumes, which creates can mount ({@code volumeMounts}). */
    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain,
                        Clock clock, VolumeManager volumes) {
        this(store, runtime, tokens, envd, domain, clock, volumes, new DaemonMetrics(), null);
    }

    /**
     * Counting what it does into {@code metrics}, which from then on reads the sandboxes by state from this
     * orchestrator and the pool levels from {@code runtime}.
     */
    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain,
                        Clock clock, VolumeManager volumes, DaemonMetrics metrics) {
        this(store, runtime, tokens, envd, domain, clock, volumes, metrics, null);
    }

    /** With team secrets, which creates' {@code envVars} can name ({@code ${e2b.secrets.<name>}}). */
    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain,
                        Clock clock, VolumeManager volumes, DaemonMetrics metrics, SecretManager secrets) {
        this.volumes = volumes;
        this.metrics = metrics;
        this.secrets = secrets;
        this.sandboxes = store.sandboxes();
        this.table = new SandboxTable(sandboxes);
        this.runtime = runtime;
        this.templates = new TemplateCatalog(store.templates(), runtime.name());
        this.tokens = tokens;
        this.envd = envd;
        this.domain = domain;
        this.clock = clock;
        metrics.observeSandboxes(table::countsByState);
        metrics.observeRuntime(runtime);
    }

    /**
     * Start-up reconciliation, before the first create: sandboxes the store lists as running or paused (or caught
     * mid-pause, mid-resume) are taken over from what the previous daemon left, if their runtime still has them
     * ({@link SandboxRuntime#adopt}); every other row of this runtime is removed; then the runtime removes what was
     * left on the host and not adopted.
     *
     * @return one line per sandbox adopted ({@code adopted sandbox X (running)}) and per thing removed
     */
    public List<String> reconcile() {
        List<String> lines = new ArrayList<>(reconcileStore());
        lines.addAll(runtime.reconcile());
        return lines;
    }

    /**
     * The store half of {@link #reconcile()}: rows of sandboxes this process does not run yet are adopted when they
     * were live and the runtime still has them, else deleted.
     */
    List<String> reconcileStore() {
        List<String> lines = new ArrayList<>();
        for (SandboxRecord r : sandboxes.inStates(ALL)) {
            if (!r.runtime().equals(runtime.name()) || table.isLive(r.id())) {
                continue;
            }
            String why = "not running";
            if (ADOPTABLE.contains(r.state())) {
                try {
                    String adopted = adopt(r);
                    if (adopted != null) {
                        lines.add(adopted);
                        continue;
                    }
                    why = "changed while it was taken over";
                } catch (RuntimeException e) {
                    why = e.getMessage();
                    LOG.log(Level.INFO, "not adopting sandbox " + r.id() + ": " + e.getMessage());
                }
            }
            if (sandboxes.delete(r.id())) {
                lines.add("sandbox " + r.id() + " (" + r.state().name().toLowerCase() + " in the store, " + why + ")");
            }
        }
        return lines;
    }

    /** Rows whose sandbox a dead daemon may have left running or paused. */
    private static final Set<Lifecycle> ADOPTABLE = EnumSet.of(Lifecycle.RUNNING, Lifecycle.PAUSED, Lifecycle.PAUSING,
            Lifecycle.RESUMING);

    /**
     * Takes one sandbox over from the runtime, in the state the runtime found it in (a pause or resume the dead
     * daemon was in the middle of ended wherever runc got to). Null if its row changed meanwhile.
     */
    private String adopt(SandboxRecord r) {
        EgressPolicy egress = EgressPolicy.of(r.allowInternetAccess(), r.network().allowOut(), r.network().denyOut());
        AdoptedSandbox adopted = runtime.adopt(r.id(), egress);
        Lifecycle state = adopted.paused() ? Lifecycle.PAUSED : Lifecycle.RUNNING;
        String trafficToken = r.network().allowPublicTraffic() ? null : tokens.trafficAccessToken(r.id());
        boolean ok;
        try {
            ok = table.adopt(r, state, adopted.handle(), trafficToken);
        } catch (RuntimeException e) {
            killQuietly(adopted.handle());
            throw e;
        }
        if (!ok) {
            killQuietly(adopted.handle());
            return null;
        }
        if (state == Lifecycle.RUNNING && (r.state() == Lifecycle.PAUSED || r.state() == Lifecycle.RESUMING)) {
            // the resume went through but its TTL was not written: count the resume's default from now
            sandboxes.extendEndAt(r.id(), clock.instant().plus(DEFAULT_TIMEOUT));
        }
        return "adopted sandbox " + r.id() + " (" + state.name().toLowerCase() + ")";
    }

    /** Makes a template the runtime has prepared available to creates. */
    public void registerTemplate(PreparedTemplate prepared, int cpuCount, int memoryMb) {
        templates.register(prepared, cpuCount, memoryMb, DISK_SIZE_MB, ENVD_VERSION);
    }

    /** Makes a tagged build the runtime prepared (as {@code TemplateStore.taggedId}) available as {@code name:tag}. */
    public void registerTagged(PreparedTemplate prepared, TemplateRecord template, BuildRecord build) {
        templates.registerTagged(prepared, template, build);
    }

    /** Takes a removed tag out of the creates' reach. */
    public void forgetTagged(String taggedId) {
        templates.forgetTagged(taggedId);
    }

    /** Takes a deleted template (and its tags) out of the creates' reach. */
    public void forgetTemplate(String templateId) {
        templates.forget(templateId);
    }

    public String domain() {
        return domain;
    }

    DaemonMetrics metrics() {
        return metrics;
    }

    /** Counted (result and latency) and logged as about the new sandbox's ID from the first step on. */
    @Override
    public Sandbox create(Team team, CreateSandbox request) {
        if (shuttingDown) {
            throw shuttingDownRefusal();
        }
        creates.readLock().lock();
        try {
            if (shuttingDown) {
                throw shuttingDownRefusal();
            }
            return createWhileOpen(team, request);
        } finally {
            creates.readLock().unlock();
        }
    }

    private static SandboxException shuttingDownRefusal() {
        return new SandboxException(SandboxException.Reason.BUSY, "the daemon is shutting down; try again when it is back");
    }

    private Sandbox createWhileOpen(Team team, CreateSandbox request) {
        long t0 = System.nanoTime();
        String id = SandboxIds.next();
        try {
            Sandbox created = SandboxLogContext.call(id, () -> start(team, request, id));
            metrics.createSucceeded(System.nanoTime() - t0);
            return created;
        } catch (SandboxException e) {
            metrics.createFailed(e.reason().name().toLowerCase());
            throw e;
        } catch (RuntimeException e) {
            metrics.createFailed("error");
            throw e;
        }
    }

    private Sandbox start(Team team, CreateSandbox request, String id) {
        if (request.timeout() == null || request.timeout().isNegative() || request.timeout().isZero()) {
            throw SandboxException.invalid("timeout must be a positive number of seconds");
        }
        if (!request.volumeMounts().isEmpty() && volumes == null) {
            throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED,
                    "volume mounts are not enabled in this sandboxd");
        }
        EgressPolicy egress = egress(request.allowInternetAccess(), request.network().allowOut(), request.network().denyOut());
        StepClock steps = new StepClock();
        // Checked before anything starts: a bad path is 400, an unknown volume 404.
        List<VolumeManager.ResolvedMount> mounts = request.volumeMounts().isEmpty() ? List.of()
                : volumes.resolve(team, request.volumeMounts());
        Map<String, String> envVars = envVars(team, request.envVars());
        TemplateCatalog.Ready template = templates.resolve(request.templateId());
        steps.lap("template");
        Instant startedAt = clock.instant();
        RunningSandbox started;
        try {
            started = runtime.create(new SandboxSpec(id, template.runtimeId(), template.template().cpuCount(),
                    template.template().memoryMb(), envVars, egress, mounts.stream()
                    .map(m -> new SandboxSpec.BindMount(m.hostDir(), m.path())).toList()));
        } catch (RuntimeException e) {
            throw RuntimeErrors.map(runtime.name(), "starting the sandbox", e);
        }
        steps.lap("runtime");
        String envdToken = request.secure() ? tokens.envdAccessToken(id) : null;
        try {
            envd.init(started.envdAddress(), new EnvdClient.Init(envdToken, envVars, DEFAULT_USER,
                    DEFAULT_WORKDIR, clock.instant()));
        } catch (RuntimeException e) {
            metrics.envdError("init");
            killQuietly(started);
            throw RuntimeErrors.map(runtime.name(), "handing the sandbox its settings (/init)", e);
        }
        steps.lap("init");
        // One row, written once the sandbox is usable: until then no request can name it (the ID is not out yet),
        // and a daemon that dies before this leaves only host state, which the runtime's reconciliation removes.
        // The TTL counts from now.
        SandboxRecord record = new SandboxRecord(id, team.id(), template.template().id(), template.build().id(), null,
                Lifecycle.RUNNING, request.metadata(), template.template().cpuCount(), template.template().memoryMb(),
                DISK_SIZE_MB, ENVD_VERSION, request.secure(), request.allowInternetAccess(), row(request.network()),
                request.onTimeout() == OnTimeout.PAUSE, request.autoPauseMemory(), request.autoResume(),
                runtime.name(), startedAt, clock.instant().plus(request.timeout()));
        String trafficToken = request.network().allowPublicTraffic() ? null : tokens.trafficAccessToken(id);
        try {
            table.add(record, started, trafficToken);
        } catch (RuntimeException e) {
            killQuietly(started);
            throw RuntimeErrors.map(runtime.name(), "recording the sandbox", e);
        }
        if (!mounts.isEmpty()) {
            try {
                volumes.recordMounts(id, mounts);
            } catch (RuntimeException e) {
                // the volume was destroyed while the sandbox started: the sandbox must not keep a deleted directory
                try {
                    killRecord(record);
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw RuntimeErrors.map(runtime.name(), "recording the sandbox's volume mounts", e);
            }
        }
        if (createsAbandoned) {
            // Shutdown gave up waiting for this create: the sandbox must not outlive what shutdown handled.
            try {
                killRecord(record);
            } catch (RuntimeException e) {
                killQuietly(started);
            }
            throw shuttingDownRefusal();
        }
        steps.lap("insert");
        steps.log(LOG, "create " + id);
        return sandbox(record, envdToken, trafficToken);
    }

    /**
     * The environment the sandbox gets: {@code requested} with secret placeholders resolved (checked before
     * anything starts, so an unknown secret is a 404 with nothing to undo). The result holds values: it goes to the
     * runtime and envd only, never into the store, a log line or a response.
     */
    private Map<String, String> envVars(Team team, Map<String, String> requested) {
        boolean placeholders = requested.values().stream().anyMatch(v -> v.contains("${e2b.secrets."));
        if (!placeholders) {
            return requested;
        }
        if (secrets == null) {
            throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED,
                    "secrets are not enabled in this sandboxd (envVars use ${e2b.secrets.<name>})");
        }
        return secrets.resolveEnv(team, requested);
    }

    @Override
    public void updateNetwork(Team team, String sandboxId, NetworkUpdate update) {
        SandboxLogContext.run(sandboxId, () -> network(team, sandboxId, update));
    }

    private void network(Team team, String sandboxId, NetworkUpdate update) {
        SandboxRecord r = find(team, sandboxId);
        EgressPolicy egress = egress(update.allowInternetAccess(), update.allowOut(), update.denyOut());
        RunningSandbox handle = handleOf(r.id());
        // one update at a time per sandbox, so the firewall and the row end with the same (last) configuration
        synchronized (handle) {
            try {
                handle.updateEgress(egress);
            } catch (RuntimeException e) {
                metrics.operationFailed("network");
                throw RuntimeErrors.map(runtime.name(), "updating the network of sandbox " + r.id(), e);
            }
            table.setEgress(r.id(), update.allowInternetAccess(), update.allowOut(), update.denyOut());
        }
    }

    /** The policy of E2B's egress fields, or a 400 that names the entry that is wrong. */
    private static EgressPolicy egress(boolean allowInternetAccess, List<String> allowOut, List<String> denyOut) {
        try {
            return EgressPolicy.of(allowInternetAccess, allowOut, denyOut);
        } catch (IllegalArgumentException e) {
            throw SandboxException.invalid(e.getMessage());
        }
    }

    private static NetworkRow row(NetworkConfig n) {
        return new NetworkRow(n.allowPublicTraffic(), n.allowOut(), n.denyOut(), n.maskRequestHost());
    }

    private static NetworkConfig network(NetworkRow n) {
        return new NetworkConfig(n.allowPublicTraffic(), n.allowOut(), n.denyOut(), n.maskRequestHost());
    }

    private Sandbox sandbox(SandboxRecord r, String envdToken, String trafficToken) {
        return new Sandbox(r.id(), r.templateId(), r.alias(), r.envdVersion(), envdToken, trafficToken, domain);
    }

    private Sandbox sandbox(SandboxRecord r) {
        return sandbox(r, r.secure() ? tokens.envdAccessToken(r.id()) : null,
                r.network().allowPublicTraffic() ? null : tokens.trafficAccessToken(r.id()));
    }

    /** Creating and killing sandboxes are invisible; pausing counts as running and resuming as paused. */
    private static SandboxState visible(Lifecycle state) {
        return switch (state) {
            case RUNNING, PAUSING -> SandboxState.RUNNING;
            case PAUSED, RESUMING -> SandboxState.PAUSED;
            case CREATING, KILLING -> null;
        };
    }

    private SandboxDetail detail(SandboxRecord r) {
        return new SandboxDetail(r.id(), r.templateId(), r.alias(), visible(r.state()), r.startedAt(), r.endAt(),
                r.envdVersion(), r.cpuCount(), r.memoryMb(), r.diskSizeMb(),
                r.secure() ? tokens.envdAccessToken(r.id()) : null, r.allowInternetAccess(), domain, r.metadata(),
                network(r.network()), r.autoPause() ? OnTimeout.PAUSE : OnTimeout.KILL, r.autoResume(),
                volumes == null ? List.of() : volumes.mountsOf(r.id()));
    }

    /** The team's sandbox in a state a client can see, or NOT_FOUND. */
    private SandboxRecord find(Team team, String sandboxId) {
        SandboxRecord r = sandboxes.findForTeam(team.id(), sandboxId).orElseThrow(() -> SandboxException.notFound(sandboxId));
        if (visible(r.state()) == null) {
            throw SandboxException.notFound(sandboxId);
        }
        return r;
    }

    @Override
    public SandboxPage list(Team team, SandboxQuery query) {
        Set<Lifecycle> states = EnumSet.noneOf(Lifecycle.class);
        for (SandboxState s : query.states()) {
            states.addAll(s == SandboxState.RUNNING ? List.of(Lifecycle.RUNNING, Lifecycle.PAUSING)
                    : List.of(Lifecycle.PAUSED, Lifecycle.RESUMING));
        }
        if (states.isEmpty()) {
            return new SandboxPage(List.of(), null);
        }
        SandboxRepository.Page page;
        try {
            page = sandboxes.page(team.id(), new SandboxRepository.Filter(states, query.metadata(), query.template(),
                    query.startedAfter(), query.order() == SandboxQuery.Order.ASCENDING), query.limit(), query.pageToken());
        } catch (IllegalArgumentException e) {
            throw SandboxException.invalid(e.getMessage());
        }
        return new SandboxPage(page.sandboxes().stream().map(this::detail).toList(), page.nextToken());
    }

    @Override
    public SandboxDetail get(Team team, String sandboxId) {
        return detail(find(team, sandboxId));
    }

    @Override
    public void kill(Team team, String sandboxId) {
        SandboxLogContext.run(sandboxId, () -> killRecord(find(team, sandboxId)));
        metrics.killed(Cause.REQUEST);
    }

    private void killRecord(SandboxRecord r) {
        Lifecycle from = r.state();
        if (from != Lifecycle.RUNNING && from != Lifecycle.PAUSED) {
            throw SandboxException.conflict("sandbox " + r.id() + " is " + from.name().toLowerCase()
                    + "; try again when that finishes");
        }
        if (!table.transition(r.id(), from, Lifecycle.KILLING)) {
            throw raced(r.id());
        }
        try {
            table.handle(r.id()).ifPresent(this::killQuietly);
        } finally {
            table.remove(r.id());
        }
    }

    /**
     * Ends the sandbox's processes and host resources. What a failed kill leaves behind is logged; the sandbox is
     * gone for its client either way, and the runtime's reconciliation removes the rest at the next start.
     */
    private void killQuietly(RunningSandbox handle) {
        try {
            handle.kill();
        } catch (RuntimeException e) {
            metrics.operationFailed("kill");
            LOG.log(Level.WARNING, "killing sandbox " + handle.sandboxId() + " left something behind: " + e.getMessage(), e);
        }
    }

    /** The handle of a sandbox this process runs; one in the store without a handle is not running here. */
    private RunningSandbox handleOf(String sandboxId) {
        return table.handle(sandboxId).orElseThrow(() -> new SandboxException(SandboxException.Reason.CONFLICT,
                "sandbox " + sandboxId + " is not running on this host (the daemon restarted since it was created)"));
    }

    /** Another request changed the sandbox between our read and our transition. */
    private SandboxException raced(String sandboxId) {
        SandboxRecord now = sandboxes.find(sandboxId).orElse(null);
        if (now == null) {
            return SandboxException.notFound(sandboxId);
        }
        return SandboxException.conflict("sandbox " + sandboxId + " is " + now.state().name().toLowerCase()
                + " (another request changed it); try again");
    }

    @Override
    public void setTimeout(Team team, String sandboxId, Duration timeout) {
        SandboxRecord r = find(team, sandboxId);
        if (visible(r.state()) != SandboxState.RUNNING) {
            throw SandboxException.notFound(sandboxId);
        }
        sandboxes.setEndAt(sandboxId, clock.instant().plus(timeout));
    }

    @Override
    public void refresh(Team team, String sandboxId, Duration duration) {
        SandboxRecord r = find(team, sandboxId);
        if (visible(r.state()) != SandboxState.RUNNING) {
            throw SandboxException.notFound(sandboxId);
        }
        sandboxes.extendEndAt(sandboxId, clock.instant().plus(duration == null ? DEFAULT_TIMEOUT : duration));
    }

    @Override
    public Connected connect(Team team, String sandboxId, Duration timeout, boolean memory) {
        return SandboxLogContext.call(sandboxId, () -> connectRecord(find(team, sandboxId), timeout));
    }

    private Connected connectRecord(SandboxRecord r, Duration timeout) {
        String sandboxId = r.id();
        switch (r.state()) {
            case RUNNING -> {
                sandboxes.extendEndAt(sandboxId, clock.instant().plus(timeout));
                return new Connected(sandbox(r), false);
            }
            case PAUSED -> {
                // A jail keeps its memory while paused, so memory=false (a cold boot from disk) resumes it as well.
                resumeRecord(r, timeout);
                metrics.resumed(Cause.REQUEST);
                return new Connected(sandbox(r), true);
            }
            default -> throw SandboxException.conflict("sandbox " + sandboxId + " is "
                    + r.state().name().toLowerCase() + "; try again when that finishes");
        }
    }

    @Override
    public Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause) {
        return SandboxLogContext.call(sandboxId, () -> {
            SandboxRecord r = find(team, sandboxId);
            if (r.state() != Lifecycle.PAUSED) {
                throw SandboxException.conflict("sandbox " + sandboxId + " is " + r.state().name().toLowerCase()
                        + ", not paused");
            }
            resumeRecord(r, timeout);
            metrics.resumed(Cause.REQUEST);
            return sandbox(r);
        });
    }

    private void resumeRecord(SandboxRecord r, Duration timeout) {
        RunningSandbox handle = handleOf(r.id());
        if (!table.transition(r.id(), Lifecycle.PAUSED, Lifecycle.RESUMING)) {
            throw raced(r.id());
        }
        try {
            handle.resume();
        } catch (RuntimeException e) {
            metrics.operationFailed("resume");
            table.transition(r.id(), Lifecycle.RESUMING, Lifecycle.PAUSED);
            throw RuntimeErrors.map(runtime.name(), "resuming sandbox " + r.id(), e);
        }
        sandboxes.setEndAt(r.id(), clock.instant().plus(timeout));
        table.transition(r.id(), Lifecycle.RESUMING, Lifecycle.RUNNING);
    }

    /**
     * Resumes a paused sandbox because traffic for it reached the proxy (autoResume), with the TTL it was created
     * with counted from now. False when it is not paused any more or not auto-resumable.
     */
    boolean resumeForTraffic(String sandboxId) {
        return SandboxLogContext.call(sandboxId, () -> resumeRecordForTraffic(sandboxId));
    }

    private boolean resumeRecordForTraffic(String sandboxId) {
        SandboxRecord r = sandboxes.find(sandboxId).orElse(null);
        if (r == null || !r.autoResume()) {
            return false;
        }
        if (r.state() == Lifecycle.RUNNING) {
            return true;
        }
        if (r.state() != Lifecycle.PAUSED) {
            return false;
        }
        try {
            resumeRecord(r, DEFAULT_TIMEOUT);
            metrics.resumed(Cause.TRAFFIC);
            return true;
        } catch (SandboxException e) {
            return sandboxes.find(sandboxId).map(s -> s.state() == Lifecycle.RUNNING).orElse(false);
        }
    }

    /** A sandbox's files captured for a snapshot or a fork, with the record it was taken from. */
    record Capture(SandboxRecord source, SandboxSnapshot snapshot) {}

    /**
     * Captures a running or paused sandbox's files into {@code layer} ({@link RunningSandbox#snapshot}); the sandbox
     * keeps its state, ID and TTL.
     */
    Capture capture(Team team, String sandboxId, Path layer) {
        return SandboxLogContext.call(sandboxId, () -> {
            SandboxRecord r = find(team, sandboxId);
            if (r.state() != Lifecycle.RUNNING && r.state() != Lifecycle.PAUSED) {
                throw SandboxException.conflict("sandbox " + r.id() + " is " + r.state().name().toLowerCase()
                        + "; try again when that finishes");
            }
            RunningSandbox handle = handleOf(r.id());
            try {
                return new Capture(r, handle.snapshot(layer));
            } catch (RuntimeException e) {
                metrics.operationFailed("snapshot");
                throw RuntimeErrors.map(runtime.name(), "capturing sandbox " + r.id(), e);
            }
        });
    }

    /**
     * What a fork of {@code source} is created with: its metadata, security and network settings, a new TTL. Its
     * environment variables are not carried: they went to the source's envd and are kept nowhere (they may hold
     * secrets); the fork's processes start afresh anyway.
     */
    static CreateSandbox forkOf(SandboxDetail source, String templateId, Duration timeout) {
        return new CreateSandbox(templateId, timeout, source.metadata(), Map.of(), source.envdAccessToken() != null,
                source.allowInternetAccess(), source.network(), OnTimeout.KILL, true, false, List.of());
    }

    @Override
    public void pause(Team team, String sandboxId, boolean memory) {
        SandboxLogContext.run(sandboxId, () -> pauseRecord(find(team, sandboxId)));
        metrics.paused(Cause.REQUEST);
    }

    private void pauseRecord(SandboxRecord r) {
        if (r.state() != Lifecycle.RUNNING) {
            throw SandboxException.conflict("sandbox " + r.id() + " is " + r.state().name().toLowerCase()
                    + (r.state() == Lifecycle.PAUSED ? " already" : "; try again when that finishes"));
        }
        RunningSandbox handle = handleOf(r.id());
        if (!table.transition(r.id(), Lifecycle.RUNNING, Lifecycle.PAUSING)) {
            throw raced(r.id());
        }
        try {
            handle.pause();
        } catch (RuntimeException e) {
            metrics.operationFailed("pause");
            table.transition(r.id(), Lifecycle.PAUSING, Lifecycle.RUNNING);
            throw RuntimeErrors.map(runtime.name(), "pausing sandbox " + r.id(), e);
        }
        table.transition(r.id(), Lifecycle.PAUSING, Lifecycle.PAUSED);
    }

    /**
     * The TTL ran out: kill, or pause when the sandbox was created with autoPause. A sandbox whose TTL was moved
     * or whose state changed since {@code r} was read is left alone.
     */
    void expire(SandboxRecord r) {
        SandboxLogContext.run(r.id(), () -> expireRecord(r));
    }

    private void expireRecord(SandboxRecord r) {
        SandboxRecord now = sandboxes.find(r.id()).orElse(null);
        if (now == null || now.state() != Lifecycle.RUNNING || now.endAt().isAfter(clock.instant())) {
            return;
        }
        try {
            if (now.autoPause()) {
                pauseRecord(now);
                metrics.paused(Cause.TIMEOUT);
            } else {
                killRecord(now);
                metrics.killed(Cause.TIMEOUT);
            }
        } catch (SandboxException e) {
            LOG.log(Level.DEBUG, "timeout of " + r.id() + " lost a race: " + e.getMessage());
        }
    }

    /** Running sandboxes whose TTL has ended. */
    List<SandboxRecord> expired() {
        return sandboxes.expired(clock.instant());
    }

    @Override
    public List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end) {
        return SandboxLogContext.call(sandboxId, () -> usage(team, sandboxId, start, end));
    }

    private List<SandboxMetric> usage(Team team, String sandboxId, Instant start, Instant end) {
        SandboxRecord r = find(team, sandboxId);
        RunningSandbox handle = table.handle(r.id()).orElseThrow(() -> SandboxException.notFound(sandboxId));
        SandboxStats s;
        try {
            s = handle.stats();
        } catch (RuntimeException e) {
            metrics.operationFailed("stats");
            throw RuntimeErrors.map(runtime.name(), "reading the usage of sandbox " + r.id(), e);
        }
        if ((start != null && s.timestamp().isBefore(start)) || (end != null && s.timestamp().isAfter(end))) {
            return List.of();
        }
        // The runtime reports memory without reclaimable cache, so there is no separate cache figure.
        return List.of(new SandboxMetric(s.timestamp(), s.cpuCount(), s.cpuUsedPct(), s.memUsed(), s.memTotal(), 0,
                s.diskUsed(), s.diskTotal()));
    }

    @Override
    public List<LogEntry> logs(Team team, String sandboxId, LogQuery query) {
        SandboxRecord r = find(team, sandboxId);
        return table.handle(r.id()).flatMap(RunningSandbox::logFile).map(f -> SandboxLogReader.read(f, query))
                .orElse(List.of());
    }

    /** The sandboxes this process runs, as the proxy reads them. */
    java.util.Optional<LiveSandbox> live(String sandboxId) {
        return table.live(sandboxId);
    }

    /** A sandbox this process runs or holds paused, as other hosts of a cluster see it. */
    public record HostedSandbox(String sandboxId, String teamId, String state) {}

    /** Every sandbox this process runs or holds paused (in a transition too), for the node service and routes. */
    public List<HostedSandbox> hosted() {
        return table.all().stream().map(l -> new HostedSandbox(l.sandboxId(), l.teamId(),
                l.state().name().toLowerCase(java.util.Locale.ROOT))).toList();
    }

    /** Whether this process runs (or holds paused) that sandbox. */
    public boolean hosts(String sandboxId) {
        return table.isLive(sandboxId);
    }

    /** Templates (and tagged builds) creates can start from on this host. */
    public Set<String> readyTemplates() {
        return templates.readyKeys();
    }

    /**
     * The {@link #readyTemplates()} entry a create naming {@code reference} needs, whichever host has it; empty for
     * a template the store does not know (a create then fails with the catalog's own NOT_FOUND).
     */
    public java.util.Optional<String> templateKey(String reference) {
        return templates.keyOf(reference);
    }

    /**
     * Clean shutdown with the {@link ShutdownPolicy#KILL} policy. Only a daemon that dies without this (kill -9, a
     * crash) leaves sandboxes for the next one to adopt.
     */
    @Override
    public void close() {
        shutdown(ShutdownPolicy.KILL);
    }

    /**
     * Clean shutdown: no create starts from now on (503), the creates in flight are waited for, then every sandbox
     * this process runs is handled by {@code policy}. KILL kills each and removes its row (a jail does not outlive
     * the daemon, so a kept row would only make start-up reconciliation remove it later); PAUSE pauses the running
     * ones and keeps every row; KEEP touches nothing. A sandbox that fails to pause is killed, so PAUSE never leaves
     * a running sandbox nobody recorded as such. A second call does nothing more.
     */
    public ShutdownReport shutdown(ShutdownPolicy policy) {
        shuttingDown = true;
        boolean waited = false;
        try {
            waited = creates.writeLock().tryLock(SHUTDOWN_CREATE_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (waited) {
            creates.writeLock().unlock();
        } else {
            createsAbandoned = true;
            LOG.log(Level.WARNING, "shutdown: a create was still running after " + SHUTDOWN_CREATE_WAIT
                    + "; it will remove its own sandbox");
        }
        int killed = 0;
        int paused = 0;
        int kept = 0;
        List<String> failures = new ArrayList<>();
        for (String id : table.liveIds()) {
            SandboxRecord r = sandboxes.find(id).orElse(null);
            try {
                switch (policy) {
                    case KILL -> {
                        SandboxLogContext.run(id, () -> table.handle(id).ifPresent(this::killQuietly));
                        table.remove(id);
                        killed++;
                    }
                    case PAUSE -> {
                        if (r != null && r.state() == Lifecycle.RUNNING) {
                            pauseRecord(r);
                            paused++;
                        } else {
                            kept++;
                        }
                    }
                    case KEEP -> kept++;
                }
            } catch (RuntimeException e) {
                failures.add(id + ": " + e.getMessage());
                LOG.log(Level.WARNING, "shutdown: " + policy.optionName() + " of sandbox " + id + " failed ("
                        + e.getMessage() + "); killing it", e);
                table.handle(id).ifPresent(this::killQuietly);
                table.remove(id);
                killed++;
            }
        }
        ShutdownReport report = new ShutdownReport(policy, killed, paused, kept, failures);
        LOG.log(Level.INFO, report.line());
        return report;
    }
}
