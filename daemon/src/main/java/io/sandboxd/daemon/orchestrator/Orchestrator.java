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
import io.sandboxd.daemon.network.EgressPolicy;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.RunningSandbox;
import io.sandboxd.daemon.runtime.SandboxRuntime;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.StepClock;
import io.sandboxd.daemon.runtime.SandboxStats;
import io.sandboxd.daemon.store.NetworkRow;
import io.sandboxd.daemon.store.SandboxRepository;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import io.sandboxd.daemon.store.Store;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

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

    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain) {
        this(store, runtime, tokens, envd, domain, Clock.systemUTC());
    }

    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, String domain,
                        Clock clock) {
        this.sandboxes = store.sandboxes();
        this.table = new SandboxTable(sandboxes);
        this.runtime = runtime;
        this.templates = new TemplateCatalog(store.templates(), runtime.name());
        this.tokens = tokens;
        this.envd = envd;
        this.domain = domain;
        this.clock = clock;
    }

    /**
     * Start-up reconciliation, before the first create: a fresh runtime holds no sandbox, so every sandbox the
     * store lists for this runtime is gone (its processes died with the previous daemon) and is removed; then the
     * runtime removes what the previous daemon left on the host.
     *
     * @return one line per thing removed
     */
    public List<String> reconcile() {
        List<String> removed = new ArrayList<>(reconcileStore());
        removed.addAll(runtime.reconcile());
        return removed;
    }

    /** The store half of {@link #reconcile()}: rows of sandboxes this process does not run. */
    List<String> reconcileStore() {
        List<String> removed = new ArrayList<>();
        for (SandboxRecord r : sandboxes.inStates(ALL)) {
            if (r.runtime().equals(runtime.name()) && !table.isLive(r.id()) && sandboxes.delete(r.id())) {
                removed.add("sandbox " + r.id() + " (" + r.state().name().toLowerCase() + " in the store, not running)");
            }
        }
        return removed;
    }

    /** Makes a template the runtime has prepared available to creates. */
    public void registerTemplate(PreparedTemplate prepared, int cpuCount, int memoryMb) {
        templates.register(prepared, cpuCount, memoryMb, DISK_SIZE_MB, ENVD_VERSION);
    }

    public String domain() {
        return domain;
    }

    @Override
    public Sandbox create(Team team, CreateSandbox request) {
        if (request.timeout() == null || request.timeout().isNegative() || request.timeout().isZero()) {
            throw SandboxException.invalid("timeout must be a positive number of seconds");
        }
        if (!request.volumeMounts().isEmpty()) {
            throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED,
                    "volume mounts are not supported by sandboxd yet");
        }
        EgressPolicy egress = egress(request.allowInternetAccess(), request.network().allowOut(), request.network().denyOut());
        StepClock steps = new StepClock();
        TemplateCatalog.Ready template = templates.resolve(request.templateId());
        steps.lap("template");
        String id = SandboxIds.next();
        Instant startedAt = clock.instant();
        RunningSandbox started;
        try {
            started = runtime.create(new SandboxSpec(id, template.template().id(), template.template().cpuCount(),
                    template.template().memoryMb(), request.envVars(), egress));
        } catch (RuntimeException e) {
            throw RuntimeErrors.map(runtime.name(), "starting the sandbox", e);
        }
        steps.lap("runtime");
        String envdToken = request.secure() ? tokens.envdAccessToken(id) : null;
        try {
            envd.init(started.envdAddress(), new EnvdClient.Init(envdToken, request.envVars(), DEFAULT_USER,
                    DEFAULT_WORKDIR, clock.instant()));
        } catch (RuntimeException e) {
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
        steps.lap("insert");
        steps.log(LOG, "create " + id);
        return sandbox(record, envdToken, trafficToken);
    }

    @Override
    public void updateNetwork(Team team, String sandboxId, NetworkUpdate update) {
        SandboxRecord r = find(team, sandboxId);
        EgressPolicy egress = egress(update.allowInternetAccess(), update.allowOut(), update.denyOut());
        RunningSandbox handle = handleOf(r.id());
        // one update at a time per sandbox, so the firewall and the row end with the same (last) configuration
        synchronized (handle) {
            try {
                handle.updateEgress(egress);
            } catch (RuntimeException e) {
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
                network(r.network()), r.autoPause() ? OnTimeout.PAUSE : OnTimeout.KILL, r.autoResume(), List.of());
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
        SandboxRecord r = find(team, sandboxId);
        killRecord(r);
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
            table.handle(r.id()).ifPresent(Orchestrator::killQuietly);
        } finally {
            table.remove(r.id());
        }
    }

    /**
     * Ends the sandbox's processes and host resources. What a failed kill leaves behind is logged; the sandbox is
     * gone for its client either way, and the runtime's reconciliation removes the rest at the next start.
     */
    private static void killQuietly(RunningSandbox handle) {
        try {
            handle.kill();
        } catch (RuntimeException e) {
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
        SandboxRecord r = find(team, sandboxId);
        switch (r.state()) {
            case RUNNING -> {
                sandboxes.extendEndAt(sandboxId, clock.instant().plus(timeout));
                return new Connected(sandbox(r), false);
            }
            case PAUSED -> {
                // A jail keeps its memory while paused, so memory=false (a cold boot from disk) resumes it as well.
                resumeRecord(r, timeout);
                return new Connected(sandbox(r), true);
            }
            default -> throw SandboxException.conflict("sandbox " + sandboxId + " is "
                    + r.state().name().toLowerCase() + "; try again when that finishes");
        }
    }

    @Override
    public Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause) {
        SandboxRecord r = find(team, sandboxId);
        if (r.state() != Lifecycle.PAUSED) {
            throw SandboxException.conflict("sandbox " + sandboxId + " is " + r.state().name().toLowerCase()
                    + ", not paused");
        }
        resumeRecord(r, timeout);
        return sandbox(r);
    }

    private void resumeRecord(SandboxRecord r, Duration timeout) {
        RunningSandbox handle = handleOf(r.id());
        if (!table.transition(r.id(), Lifecycle.PAUSED, Lifecycle.RESUMING)) {
            throw raced(r.id());
        }
        try {
            handle.resume();
        } catch (RuntimeException e) {
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
            return true;
        } catch (SandboxException e) {
            return sandboxes.find(sandboxId).map(s -> s.state() == Lifecycle.RUNNING).orElse(false);
        }
    }

    @Override
    public void pause(Team team, String sandboxId, boolean memory) {
        pauseRecord(find(team, sandboxId));
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
        SandboxRecord now = sandboxes.find(r.id()).orElse(null);
        if (now == null || now.state() != Lifecycle.RUNNING || now.endAt().isAfter(clock.instant())) {
            return;
        }
        try {
            if (now.autoPause()) {
                pauseRecord(now);
            } else {
                killRecord(now);
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
        SandboxRecord r = find(team, sandboxId);
        RunningSandbox handle = table.handle(r.id()).orElseThrow(() -> SandboxException.notFound(sandboxId));
        SandboxStats s;
        try {
            s = handle.stats();
        } catch (RuntimeException e) {
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

    /**
     * Clean shutdown: every sandbox this process runs is killed and removed from the store (a jail does not outlive
     * the daemon, so keeping its row would only make start-up reconciliation remove it later).
     */
    @Override
    public void close() {
        for (String id : table.liveIds()) {
            table.handle(id).ifPresent(Orchestrator::killQuietly);
            table.remove(id);
        }
    }
}
