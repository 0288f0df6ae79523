package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogQuery;
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
import io.sandboxd.daemon.runtime.SandboxNotFoundException;
import io.sandboxd.daemon.runtime.SandboxRuntime;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.StepClock;
import io.sandboxd.daemon.runtime.SandboxStats;
import io.sandboxd.daemon.store.SandboxRepository;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import io.sandboxd.daemon.store.Store;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The sandbox lifecycle on one host: the API's {@link SandboxService} over the store (the truth about what exists,
 * with compare-and-set transitions so concurrent requests on one sandbox get one winner) and a
 * {@link SandboxRuntime} (where sandboxes run). A request that finds the sandbox mid-transition gets 409.
 */
public final class Orchestrator implements SandboxService, AutoCloseable {
    public static final String ENVD_VERSION = "0.6.13";
    public static final String DEFAULT_USER = "user";
    public static final String DEFAULT_WORKDIR = "/home/user";
    /** The TTL a refresh without a duration adds (the create default of the SDKs). */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);
    static final int DISK_SIZE_MB = 10_240;
    private static final System.Logger LOG = System.getLogger(Orchestrator.class.getName());
    private static final Set<Lifecycle> ALL = EnumSet.allOf(Lifecycle.class);

    private final SandboxRepository sandboxes;
    private final SandboxRuntime runtime;
    private final TemplateCatalog templates;
    private final SandboxTokens tokens;
    private final EnvdClient envd;
    private final LogSource logs;
    private final String domain;
    private final LiveTable live = new LiveTable();

    public Orchestrator(Store store, SandboxRuntime runtime, SandboxTokens tokens, EnvdClient envd, LogSource logs,
                        String domain) {
        this.sandboxes = store.sandboxes();
        this.runtime = runtime;
        this.templates = new TemplateCatalog(store.templates(), runtime.name());
        this.tokens = tokens;
        this.envd = envd;
        this.logs = logs;
        this.domain = domain;
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
            if (r.runtime().equals(runtime.name()) && live.get(r.id()).isEmpty() && sandboxes.delete(r.id())) {
                removed.add("sandbox " + r.id() + " (" + r.state().name().toLowerCase() + " in the store, not running)");
            }
        }
        return removed;
    }

    /** Makes a template the runtime has prepared available to creates. */
    public void registerTemplate(io.sandboxd.daemon.runtime.PreparedTemplate prepared, int cpuCount, int memoryMb) {
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
        StepClock clock = new StepClock();
        TemplateCatalog.Ready template = templates.resolve(request.templateId());
        clock.lap("template");
        String id = SandboxIds.next();
        Instant startedAt = Instant.now();
        io.sandboxd.daemon.runtime.Sandbox started;
        try {
            started = runtime.create(new SandboxSpec(id, template.template().id(), template.template().cpuCount(),
                    template.template().memoryMb(), request.envVars(), request.allowInternetAccess()));
        } catch (RuntimeException e) {
            throw new SandboxException(SandboxException.Reason.BUSY, "the sandbox could not be started: "
                    + e.getMessage(), e);
        }
        clock.lap("runtime");
        String envdToken = request.secure() ? tokens.envdAccessToken(id) : null;
        try {
            envd.init(started.envdAddress(), new EnvdClient.Init(envdToken, request.envVars(), DEFAULT_USER,
                    DEFAULT_WORKDIR, Instant.now()));
        } catch (RuntimeException e) {
            killQuietly(id);
            throw new SandboxException(SandboxException.Reason.BUSY, "the sandbox's agent did not start: "
                    + e.getMessage(), e);
        }
        clock.lap("init");
        // One row, written once the sandbox is usable: until then no request can name it (the ID is not out yet),
        // and a daemon that dies before this leaves only host state, which the runtime's reconciliation removes.
        // The TTL counts from now.
        SandboxRecord record = new SandboxRecord(id, team.id(), template.template().id(), template.build().id(), null,
                Lifecycle.RUNNING, request.metadata(), template.template().cpuCount(), template.template().memoryMb(),
                DISK_SIZE_MB, ENVD_VERSION, request.secure(), request.allowInternetAccess(), request.network(),
                request.onTimeout() == OnTimeout.PAUSE, request.autoPauseMemory(), request.autoResume(),
                runtime.name(), startedAt, Instant.now().plus(request.timeout()));
        try {
            sandboxes.insert(record);
        } catch (RuntimeException e) {
            killQuietly(id);
            throw e;
        }
        clock.lap("insert");
        String trafficToken = request.network().allowPublicTraffic() ? null : tokens.trafficAccessToken(id);
        live.put(new LiveSandbox(id, team.id(), started.envdAddress(), trafficToken, request.autoResume(),
                Lifecycle.RUNNING));
        clock.log(LOG, "create " + id);
        return sandbox(record, envdToken, trafficToken);
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
                r.network(), r.autoPause() ? OnTimeout.PAUSE : OnTimeout.KILL, r.autoResume(), List.of());
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
        if (!sandboxes.transition(r.id(), from, Lifecycle.KILLING)) {
            throw raced(r.id());
        }
        live.state(r.id(), Lifecycle.KILLING);
        try {
            killQuietly(r.id());
        } finally {
            live.remove(r.id());
            sandboxes.delete(r.id());
        }
    }

    /** The runtime forgets the sandbox; one it no longer holds is already gone, which is what was asked. */
    private void killQuietly(String sandboxId) {
        try {
            runtime.kill(sandboxId);
        } catch (SandboxNotFoundException e) {
            // already gone
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "killing sandbox " + sandboxId + " left something behind: " + e.getMessage(), e);
        }
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
        sandboxes.setEndAt(sandboxId, Instant.now().plus(timeout));
    }

    @Override
    public void refresh(Team team, String sandboxId, Duration duration) {
        SandboxRecord r = find(team, sandboxId);
        if (visible(r.state()) != SandboxState.RUNNING) {
            throw SandboxException.notFound(sandboxId);
        }
        sandboxes.extendEndAt(sandboxId, Instant.now().plus(duration == null ? DEFAULT_TIMEOUT : duration));
    }

    @Override
    public Connected connect(Team team, String sandboxId, Duration timeout, boolean memory) {
        SandboxRecord r = find(team, sandboxId);
        switch (r.state()) {
            case RUNNING -> {
                sandboxes.extendEndAt(sandboxId, Instant.now().plus(timeout));
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
        if (!sandboxes.transition(r.id(), Lifecycle.PAUSED, Lifecycle.RESUMING)) {
            throw raced(r.id());
        }
        live.state(r.id(), Lifecycle.RESUMING);
        try {
            runtime.resume(r.id());
        } catch (RuntimeException e) {
            sandboxes.transition(r.id(), Lifecycle.RESUMING, Lifecycle.PAUSED);
            live.state(r.id(), Lifecycle.PAUSED);
            throw new SandboxException(SandboxException.Reason.BUSY, "resuming sandbox " + r.id() + " failed: "
                    + e.getMessage(), e);
        }
        sandboxes.setEndAt(r.id(), Instant.now().plus(timeout));
        sandboxes.transition(r.id(), Lifecycle.RESUMING, Lifecycle.RUNNING);
        live.state(r.id(), Lifecycle.RUNNING);
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
        if (!sandboxes.transition(r.id(), Lifecycle.RUNNING, Lifecycle.PAUSING)) {
            throw raced(r.id());
        }
        live.state(r.id(), Lifecycle.PAUSING);
        try {
            runtime.pause(r.id());
        } catch (RuntimeException e) {
            sandboxes.transition(r.id(), Lifecycle.PAUSING, Lifecycle.RUNNING);
            live.state(r.id(), Lifecycle.RUNNING);
            throw new SandboxException(SandboxException.Reason.BUSY, "pausing sandbox " + r.id() + " failed: "
                    + e.getMessage(), e);
        }
        sandboxes.transition(r.id(), Lifecycle.PAUSING, Lifecycle.PAUSED);
        live.state(r.id(), Lifecycle.PAUSED);
    }

    /**
     * The TTL ran out: kill, or pause when the sandbox was created with autoPause. A sandbox whose TTL was moved
     * or whose state changed since {@code r} was read is left alone.
     */
    void expire(SandboxRecord r) {
        SandboxRecord now = sandboxes.find(r.id()).orElse(null);
        if (now == null || now.state() != Lifecycle.RUNNING || now.endAt().isAfter(Instant.now())) {
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
        return sandboxes.expired(Instant.now());
    }

    @Override
    public List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end) {
        SandboxRecord r = find(team, sandboxId);
        SandboxStats s;
        try {
            s = runtime.stats(r.id());
        } catch (SandboxNotFoundException e) {
            throw SandboxException.notFound(sandboxId);
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
        return logs.logFile(r.id()).map(f -> SandboxLogReader.read(f, query)).orElse(List.of());
    }

    /** The routing table the proxy reads. */
    LiveTable live() {
        return live;
    }

    /**
     * Clean shutdown: every sandbox this process runs is killed and removed from the store (a jail does not outlive
     * the daemon, so keeping its row would only make start-up reconciliation remove it later).
     */
    @Override
    public void close() {
        for (String id : live.ids()) {
            killQuietly(id);
            live.remove(id);
            sandboxes.delete(id);
        }
    }
}
