package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.envd.EnvdAotCache;
import io.sandboxd.daemon.envd.EnvdInstall;
import io.sandboxd.daemon.network.SandboxNetworks;
import io.sandboxd.daemon.pool.PoolRefiller;
import io.sandboxd.daemon.pool.WarmPool;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.MountTable;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.network.EgressPolicy;
import io.sandboxd.daemon.network.NetworkSlot;
import io.sandboxd.daemon.runtime.AdoptedSandbox;
import io.sandboxd.daemon.runtime.CapacityException;
import io.sandboxd.daemon.runtime.PoolLevel;
import io.sandboxd.daemon.runtime.NotAdoptableException;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.SandboxRuntime;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.StepClock;
import io.sandboxd.daemon.runtime.TemplateNotPreparedException;
import io.sandboxd.daemon.template.BaseTemplateBuilder;
import io.sandboxd.daemon.template.TemplateBuild;
import io.sandboxd.daemon.template.TemplateStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The {@code jail} runtime: every sandbox is an OCI container run by runc on an overlayfs over the template's
 * rootfs, in its own network namespace, with envd as its first process. Creates take a started jail from the
 * template's warm pool and only adjust it (its CPU weight, cgroup limits when the spec differs from the pool's,
 * internet access when it is off, the record of which sandbox it is): no process is spawned on that path. When the
 * pool is empty a create waits for the next jail the refill agents (one per CPU) finish. A create with volume mounts
 * is the exception: runc fixes a container's mounts when it starts it, so that jail is started for the create.
 *
 * <p>Pause freezes the jail's cgroup; memory and files stay. Snapshots are not possible (CRIU does not work on
 * the hosts this runtime is for). A jail does not depend on the daemon's process: a daemon killed with
 * {@code kill -9} leaves its claimed jails running or paused, each with a {@link JailClaim} in its directory, and
 * the next daemon takes them over with {@link #adopt}; {@link #reconcile()} then removes what was not adopted.
 */
public final class JailRuntime implements SandboxRuntime {
    public static final String NAME = "jail";
    /**
     * A restarted daemon {@link #adopt adopts} the jails its store lists (their claim files, containers, mounts and
     * slots are still there), so {@code serve --on-shutdown pause|keep} can leave them for the next start.
     */
    public static final boolean ADOPTS_SANDBOXES_AT_START = true;
    private static final System.Logger LOG = System.getLogger(JailRuntime.class.getName());

    private final JailConfig config;
    private final TemplateStore templates;
    private final SandboxNetworks networks;
    private final Runc runc;
    private final JailFactory factory;
    private final PoolRefiller<TemplateBuild, Jail> refiller;
    private final Map<String, WarmPool<TemplateBuild, Jail>> pools = new ConcurrentHashMap<>();
    /** Jails handed out as sandboxes and not killed yet: not the sandboxes' state, only what close and reconcile must not lose. */
    private final Set<JailSandbox> claimed = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private volatile String baseMirror;

    private JailRuntime(JailConfig config, SandboxNetworks networks) {
        this.config = config;
        this.templates = new TemplateStore(config.dataDir());
        this.networks = networks;
        this.runc = new Runc(config.runcRoot());
        this.factory = new JailFactory(config, networks, runc);
        this.refiller = new PoolRefiller<>("jail", pools::values, factory, Math.max(1, Runtime.getRuntime().availableProcessors()),
                PoolRefiller.SETTLE_DEFAULT);
    }

    /**
     * Checks the host (root, runc, ip, nft, mount), installs the firewall table and starts the pool refill thread.
     * Call {@link #reconcile()} next if an earlier daemon may have left jails behind.
     */
    public static JailRuntime start(JailConfig config) {
        requireRoot();
        for (List<String> probe : List.of(List.of("runc", "--version"), List.of("ip", "-V"), List.of("nft", "--version"))) {
            HostCommand.Result r;
            try {
                r = HostCommand.run(probe);
            } catch (io.sandboxd.daemon.host.HostException e) {
                throw new SandboxRuntimeException(probe.getFirst() + " is missing: apt-get install -y runc iproute2 nftables", e);
            }
            if (!r.ok()) {
                throw new SandboxRuntimeException(probe.getFirst() + " does not work: " + r.stderr().strip());
            }
        }
        try {
            Files.createDirectories(config.sandboxesDir());
            Files.createDirectories(config.runcRoot());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + config.sandboxesDir() + " or " + config.runcRoot(), e);
        }
        // before the first pool refill, so that every pooled envd starts from it
        EnvdInstall envd = config.envdInstall();
        if (envd != null) {
            EnvdAotCache.ensure(envd);
        }
        JailRuntime rt = new JailRuntime(config, SandboxNetworks.start(config.network()));
        rt.refiller.startThreads();
        return rt;
    }

    /** The Debian mirror the base template is built from; default: the one this host's apt uses. */
    public void baseMirror(String mirror) {
        this.baseMirror = mirror;
    }

    @Override
    public String name() {
        return NAME;
    }

    public JailConfig config() {
        return config;
    }

    @Override
    public PreparedTemplate prepareTemplate(String templateId, Consumer<String> progress) {
        ensureOpen();
        TemplateBuild build;
        if (templateId.equals(BaseTemplateBuilder.TEMPLATE_ID)) {
            BaseTemplateBuilder builder = baseMirror == null ? BaseTemplateBuilder.withHostMirror(templates)
                    : new BaseTemplateBuilder(templates, baseMirror);
            build = builder.ensureBuilt(progress);
        } else {
            build = templates.latest(templateId).orElseThrow(() -> new SandboxRuntimeException("template '" + templateId
                    + "' has no build under " + templates.templateDir(templateId)));
        }
        List<WarmPool<TemplateBuild, Jail>> replaced = new ArrayList<>();
        pools.compute(templateId, (id, existing) -> {
            if (existing != null && existing.key().buildId().equals(build.buildId())) {
                return existing;
            }
            if (existing != null) {
                replaced.add(existing);
            }
            return new WarmPool<>(build, config.poolSize());
        });
        // Jails of an older build are not handed out any more.
        for (WarmPool<TemplateBuild, Jail> old : replaced) {
            List<RuntimeException> failures = new ArrayList<>();
            old.drain(new SandboxRuntimeException("template '" + templateId + "' was rebuilt")).forEach(j -> destroyInto(failures, j));
            if (!failures.isEmpty()) {
                throw failures.getFirst();
            }
        }
        refiller.wake();
        return new PreparedTemplate(templateId, build.buildId(), build.directory());
    }

    /**
     * Stops creating sandboxes of a deleted template: its pooled jails are destroyed (sandboxes already handed out
     * are the orchestrator's; it refuses the delete while any exist).
     */
    public void dropTemplate(String templateId) {
        WarmPool<TemplateBuild, Jail> pool = pools.remove(templateId);
        if (pool == null) {
            return;
        }
        List<RuntimeException> failures = new ArrayList<>();
        pool.drain(new SandboxRuntimeException("template '" + templateId + "' was deleted")).forEach(j -> destroyInto(failures, j));
        if (!failures.isEmpty()) {
            throw failures.getFirst();
        }
    }

    /**
     * Waits until the template's pool holds its full number of started jails (for start-up and benchmarks).
     *
     * @return false if {@code timeout} passed first
     */
    public boolean awaitPoolFull(String templateId, Duration timeout) {
        WarmPool<TemplateBuild, Jail> pool = pools.get(templateId);
        if (pool == null) {
            throw new TemplateNotPreparedException(NAME, templateId);
        }
        return awaitPooled(templateId, pool.target(), timeout);
    }

    /**
     * Waits until the template's pool holds {@code count} started jails: for a template with a start command, that
     * the command ran and its ready command passed in a real jail (a template build checks it before it is ready).
     *
     * @return false if {@code timeout} passed first
     */
    public boolean awaitPooled(String templateId, int count, Duration timeout) {
        WarmPool<TemplateBuild, Jail> pool = pools.get(templateId);
        if (pool == null) {
            throw new TemplateNotPreparedException(NAME, templateId);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (pool.readyCount() < Math.min(count, pool.target())) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** Why the last pool start failed (any template), if one did. */
    public Optional<String> lastPoolStartError() {
        return Optional.ofNullable(refiller.lastError()).map(e -> String.valueOf(e.getMessage()));
    }

    /** Started jails waiting in the template's pool. */
    public int pooled(String templateId) {
        WarmPool<TemplateBuild, Jail> pool = pools.get(templateId);
        return pool == null ? 0 : pool.readyCount();
    }

    @Override
    public JailSandbox create(SandboxSpec spec) {
        ensureOpen();
        WarmPool<TemplateBuild, Jail> pool = pools.get(spec.templateId());
        if (pool == null) {
            throw new TemplateNotPreparedException(NAME, spec.templateId());
        }
        Jail jail = null;
        StepClock clock = new StepClock();
        try {
            jail = spec.mounts().isEmpty() ? takeLiveJail(pool, clock) : factory.make(pool.key(), true, spec.mounts());
            OciSpec.Limits want = new OciSpec.Limits(spec.cpuCount(), spec.memoryMB(), config.pidsLimit());
            synchronized (jail) {
                // A pooled jail runs at the lowest CPU weight (see OciSpec#POOLED_CPU_SHARES); claimed, it gets its own.
                if (!want.equals(jail.limits()) || !CgroupCpu.claim(config.cgroupParent(), jail.id(), want.cpuShares())) {
                    runc.update(jail.id(), want.memoryBytes(), want.cpuQuota(), OciSpec.CPU_PERIOD_US, want.cpuShares());
                    jail.limits(want);
                }
                clock.lap("limits");
                // Pooled jails are allowed out (see JailFactory#prepare): only a create with rules changes the
                // firewall, and it does so before anything of the user's can run.
                if (!spec.egress().isOpen()) {
                    networks.applyEgress(jail.slot(), spec.egress());
                    clock.lap("egress rules");
                }
            }
            Instant startedAt = Instant.now();
            // Before the handle exists: a daemon that dies after this can hand the sandbox to the next one.
            new JailClaim(spec.sandboxId(), jail.id(), jail.slot().index(), jail.slot().sandboxIp(), EnvdLaunch.PORT,
                    pool.key().templateId(), pool.key().buildId(), config.cgroupParent(), want.cpuCount(),
                    want.memoryMB(), want.pids(), startedAt).writeTo(jail.dir());
            clock.lap("claim");
            // The template's start command already runs in it: JailFactory ran it when it started the jail.
            JailSandbox sandbox = new JailSandbox(jail, spec.sandboxId(), startedAt, runc, networks, this::destroyClaimed);
            claimed.add(sandbox);
            clock.log(LOG, "jail create " + spec.sandboxId() + " (" + jail.id() + ")");
            return sandbox;
        } catch (RuntimeException e) {
            if (jail != null) {
                try {
                    factory.destroy(jail);
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    /**
     * Takes over the jail whose {@link JailClaim} names {@code sandboxId}, left by a daemon that died: its runc
     * container must be running or paused, its overlay mounted, its template build and network slot there. The
     * slot is claimed again with {@code policy} (this runtime's firewall table is new). A jail that fails any check
     * is left as it is; {@link #reconcile()} removes it.
     */
    @Override
    public synchronized AdoptedSandbox adopt(String sandboxId, EgressPolicy policy) {
        ensureOpen();
        if (claimed.stream().anyMatch(s -> s.sandboxId().equals(sandboxId))) {
            throw new NotAdoptableException(sandboxId, "this runtime already runs it");
        }
        JailClaim claim = findClaim(sandboxId).orElseThrow(() -> new NotAdoptableException(sandboxId,
                "no jail under " + config.sandboxesDir() + " claims it"));
        Path dir = config.sandboxesDir().resolve(claim.jailId());
        Runc.Status status = runc.state(claim.jailId()).orElseThrow(() -> new NotAdoptableException(sandboxId,
                "runc has no container " + claim.jailId()));
        if (status != Runc.Status.RUNNING && status != Runc.Status.PAUSED) {
            throw new NotAdoptableException(sandboxId, "its container " + claim.jailId() + " is "
                    + status.name().toLowerCase(java.util.Locale.ROOT));
        }
        if (!claim.cgroupParent().equals(config.cgroupParent())) {
            throw new NotAdoptableException(sandboxId, "its cgroups are under " + claim.cgroupParent()
                    + ", this daemon's under " + config.cgroupParent());
        }
        Path rootfs = dir.resolve("rootfs");
        if (MountTable.under(dir).stream().noneMatch(m -> m.mountPoint().equals(rootfs))) {
            throw new NotAdoptableException(sandboxId, "its root file system " + rootfs + " is not mounted");
        }
        TemplateBuild template = templates.find(claim.templateId(), claim.buildId()).orElseThrow(() ->
                new NotAdoptableException(sandboxId, "its template build " + claim.templateId() + "/" + claim.buildId()
                        + " is gone"));
        NetworkSlot slot;
        try {
            slot = networks.adopt(claim.slotIndex(), policy);
        } catch (RuntimeException e) {
            throw new NotAdoptableException(sandboxId, "its network slot " + claim.slotIndex() + ": " + e.getMessage(), e);
        }
        if (!slot.sandboxIp().equals(claim.sandboxIp())) {
            networks.forget(slot);
            throw new NotAdoptableException(sandboxId, "its address was " + claim.sandboxIp() + ", slot "
                    + claim.slotIndex() + " of this daemon's network is " + slot.sandboxIp());
        }
        Jail jail = new Jail(claim.jailId(), dir, slot, template,
                new OciSpec.Limits(claim.cpuCount(), claim.memoryMB(), claim.pidsLimit()));
        jail.markStarted(); // CPU use is averaged from here: the old daemon's samples died with it
        JailSandbox sandbox = new JailSandbox(jail, sandboxId, claim.startedAt(), runc, networks, this::destroyClaimed);
        claimed.add(sandbox);
        LOG.log(System.Logger.Level.INFO, "adopted sandbox " + sandboxId + " (" + claim.jailId() + ", "
                + status.name().toLowerCase(java.util.Locale.ROOT) + ")");
        return new AdoptedSandbox(sandbox, status == Runc.Status.PAUSED);
    }

    /** The claim naming {@code sandboxId} among the jail directories; unreadable claims are logged and skipped. */
    private Optional<JailClaim> findClaim(String sandboxId) {
        for (Path dir : inventory().jailDirs()) {
            try {
                Optional<JailClaim> c = JailClaim.read(dir);
                if (c.isPresent() && c.get().sandboxId().equals(sandboxId)) {
                    return c;
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "ignoring the claim in " + dir + ": " + e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** A killed sandbox's jail: removed from the host, then forgotten. */
    private void destroyClaimed(Jail jail) {
        try {
            factory.destroy(jail);
        } finally {
            claimed.removeIf(s -> s.jail() == jail);
        }
    }

    /**
     * A started jail whose first process still runs: from the pool, or else the next one the refill agents finish
     * (the take itself makes them start one). A jail can wait in the pool for hours; if envd died in the meantime
     * it is destroyed here rather than handed out. Checked through /proc, not runc: a spawn would cost more than
     * the rest of the create.
     */
    private Jail takeLiveJail(WarmPool<TemplateBuild, Jail> pool, StepClock clock) {
        long deadline = System.nanoTime() + takeTimeout().toNanos();
        while (true) {
            CompletableFuture<Jail> next = pool.take();
            refiller.wake();
            Jail jail;
            if (next.isDone()) {
                jail = next.join();
                clock.lap("pool");
            } else {
                jail = awaitJail(pool, next, deadline);
                clock.lap("pool empty: waited for a start");
            }
            if (jail.initAlive()) {
                return jail;
            }
            LOG.log(System.Logger.Level.WARNING, "pooled jail " + jail.id() + " lost its first process; discarding it. "
                    + "Its output:\n  " + Runc.tail(jail.log()));
            try {
                synchronized (jail) {
                    factory.destroy(jail);
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "discarding jail " + jail.id() + " failed: " + e.getMessage(), e);
            }
        }
    }

    private Jail awaitJail(WarmPool<TemplateBuild, Jail> pool, CompletableFuture<Jail> next, long deadline) {
        try {
            return next.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            pool.cancel(next);
            RuntimeException last = refiller.lastError();
            throw new CapacityException("no jail of template '" + pool.key().templateId() + "' became ready within "
                    + takeTimeout() + " (" + pool.waitingCount() + " other creates waiting, " + refiller.agents()
                    + " starting at a time)" + (last == null ? "" : "; the last start failed: " + last.getMessage()), e);
        } catch (InterruptedException e) {
            pool.cancel(next);
            Thread.currentThread().interrupt();
            throw new SandboxRuntimeException("interrupted while waiting for a jail", e);
        } catch (ExecutionException e) {
            throw new SandboxRuntimeException("no jail for template '" + pool.key().templateId() + "': "
                    + e.getCause().getMessage(), e.getCause());
        }
    }

    /** How long a create waits for a jail when the pool is empty: a start, plus some queueing behind others. */
    private Duration takeTimeout() {
        return config.startTimeout().multipliedBy(2);
    }

    /** What exists on the host for this runtime's configuration. */
    public JailInventory inventory() {
        List<Path> mounts = MountTable.under(config.sandboxesDir()).stream().map(MountTable.Mount::mountPoint).toList();
        List<Path> dirs;
        try (Stream<Path> s = Files.isDirectory(config.sandboxesDir()) ? Files.list(config.sandboxesDir()) : Stream.empty()) {
            dirs = s.sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + config.sandboxesDir(), e);
        }
        return new JailInventory(runc.list(), mounts, dirs, cgroups(), networks.existingNamespaces(),
                networks.existingVeths(), networks.egressAllowed());
    }

    @Override
    public List<String> reconcile() {
        List<Jail> live = liveJails();
        Set<String> liveIds = new HashSet<>();
        live.forEach(j -> liveIds.add(j.id()));
        List<String> removed = new ArrayList<>();
        for (String id : runc.list()) {
            if (!liveIds.contains(id)) {
                runc.deleteForce(id);
                removed.add("runc container " + id);
            }
        }
        for (Path dir : inventory().jailDirs()) {
            if (!liveIds.contains(dir.getFileName().toString())) {
                for (MountTable.Mount m : MountTable.under(dir)) {
                    removed.add(m.fsType() + " mount " + m.mountPoint());
                }
                MountTable.unmountAllUnder(dir);
                DirectoryTrees.deleteRecursively(dir);
                removed.add("jail directory " + dir);
            }
        }
        for (Path cg : cgroups()) {
            if (!liveIds.contains(cg.getFileName().toString())) {
                for (Path p : JailFactory.removeCgroups(config.cgroupParent(), cg.getFileName().toString())) {
                    removed.add("cgroup " + p);
                }
            }
        }
        removed.addAll(networks.removeLeftovers(live.stream().map(Jail::slot).toList()));
        return removed;
    }

    @Override
    public boolean adoptsSandboxesAtStart() {
        return ADOPTS_SANDBOXES_AT_START;
    }

    /**
     * Shutdown that leaves the handed-out jails as they are (running or paused) for the next start to adopt: the
     * pool's jails go, the refills stop, the egress proxy stops; the firewall table stays, so a sandbox's rules keep
     * holding while no daemon runs (its proxied domains fail closed: nothing answers the redirected port).
     */
    @Override
    public void closeLeavingSandboxes() {
        if (closed) {
            return;
        }
        closed = true;
        refiller.stop();
        List<RuntimeException> failures = new ArrayList<>();
        drainPools(failures);
        LOG.log(System.Logger.Level.INFO, "leaving " + claimed.size() + " sandbox(es) for the next start to adopt");
        claimed.clear();
        try {
            networks.closeKeepingFirewall();
        } catch (RuntimeException e) {
            failures.add(e);
        }
        throwIfAny(failures);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        refiller.stop();
        List<RuntimeException> failures = new ArrayList<>();
        drainPools(failures);
        // through the handles, so one the orchestrator still holds knows it was killed
        for (JailSandbox s : List.copyOf(claimed)) {
            try {
                s.kill();
            } catch (RuntimeException e) {
                failures.add(e);
            }
        }
        try {
            networks.close();
        } catch (RuntimeException e) {
            failures.add(e);
        }
        removeEmptyCgroupParents();
        throwIfAny(failures);
    }

    /**
     * For tests that play a daemon killed with {@code kill -9}: stops the pool refills and leaves everything else
     * on the host as a dead process would (jails, mounts, slots, firewall table). {@link #close()} still works.
     */
    void stopRefillsAsIfKilled() {
        refiller.stop();
    }

    /** Failed pool refills so far (the refill thread logs each one). */
    public long poolErrors() {
        return refiller.errors();
    }

    @Override
    public List<PoolLevel> poolLevels() {
        List<PoolLevel> levels = new ArrayList<>();
        pools.forEach((templateId, p) -> levels.add(new PoolLevel(templateId, p.readyCount(), p.preparingCount(),
                p.waitingCount(), p.target())));
        return levels;
    }

    @Override
    public long poolStartFailures() {
        return refiller.errors();
    }

    private void drainPools(List<RuntimeException> failures) {
        for (WarmPool<TemplateBuild, Jail> pool : pools.values()) {
            for (Jail j : pool.drain(new SandboxRuntimeException("the jail runtime is closed"))) {
                destroyInto(failures, j);
            }
        }
    }

    private static void throwIfAny(List<RuntimeException> failures) {
        if (!failures.isEmpty()) {
            SandboxRuntimeException e = new SandboxRuntimeException("closing the jail runtime left something behind: "
                    + failures.getFirst().getMessage());
            failures.forEach(e::addSuppressed);
            throw e;
        }
    }

    private void destroyInto(List<RuntimeException> failures, Jail j) {
        try {
            synchronized (j) {
                factory.destroy(j);
            }
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    private List<Jail> liveJails() {
        List<Jail> live = new ArrayList<>(claimed.stream().map(JailSandbox::jail).toList());
        for (WarmPool<TemplateBuild, Jail> p : pools.values()) {
            live.addAll(p.snapshot());
        }
        return live;
    }

    /** runc creates the parent cgroups but never removes them; an empty one is ours to tidy. */
    private void removeEmptyCgroupParents() {
        for (Path parent : cgroupParents()) {
            try {
                Files.deleteIfExists(parent);
            } catch (IOException stillInUse) {
                // another jail (or another runtime with the same parent) still has a cgroup there
            }
        }
    }

    private List<Path> cgroupParents() {
        Path cg = Path.of("/sys/fs/cgroup");
        List<Path> parents = new ArrayList<>();
        parents.add(cg.resolve(config.cgroupParent()));
        try (Stream<Path> controllers = Files.list(cg)) {
            controllers.forEach(c -> parents.add(c.resolve(config.cgroupParent())));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + cg, e);
        }
        return parents.stream().filter(Files::isDirectory).toList();
    }

    private List<Path> cgroups() {
        List<Path> out = new ArrayList<>();
        for (Path parent : cgroupParents()) {
            try (Stream<Path> s = Files.list(parent)) {
                s.filter(Files::isDirectory).filter(p -> p.getFileName().toString().matches("j[0-9a-f]{12}"))
                        .forEach(out::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + parent, e);
            }
        }
        return out;
    }

    private void ensureOpen() {
        if (closed) {
            throw new SandboxRuntimeException("the jail runtime is closed");
        }
    }

    private static void requireRoot() {
        try {
            boolean root = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).map(l -> l.split("\\s+"))
                    .anyMatch(f -> f.length > 2 && f[2].equals("0"));
            if (!root) {
                throw new SandboxRuntimeException("the jail runtime needs root (namespaces, mounts, cgroups, nftables): "
                        + "run sandboxd as root, e.g. through its systemd unit");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/status", e);
        }
    }
}
