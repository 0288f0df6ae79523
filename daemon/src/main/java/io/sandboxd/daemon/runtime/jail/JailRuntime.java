package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.envd.EnvdAotCache;
import io.sandboxd.daemon.envd.EnvdInstall;
import io.sandboxd.daemon.network.SandboxNetworks;
import io.sandboxd.daemon.pool.PoolRefiller;
import io.sandboxd.daemon.pool.WarmPool;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.MountTable;
import io.sandboxd.daemon.runtime.CapacityException;
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
 * pool is empty a create waits for the next jail the refill agents (one per CPU) finish.
 *
 * <p>Pause freezes the jail's cgroup; memory and files stay. Snapshots are not possible (CRIU does not work on
 * the hosts this runtime is for), and a daemon restart loses the jails' processes: {@link #reconcile()} removes
 * what the previous run left.
 */
public final class JailRuntime implements SandboxRuntime {
    public static final String NAME = "jail";
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
     * Waits until the template's pool holds its full number of started jails (for start-up and benchmarks).
     *
     * @return false if {@code timeout} passed first
     */
    public boolean awaitPoolFull(String templateId, Duration timeout) {
        WarmPool<TemplateBuild, Jail> pool = pools.get(templateId);
        if (pool == null) {
            throw new TemplateNotPreparedException(NAME, templateId);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (pool.readyCount() < pool.target()) {
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
            jail = takeLiveJail(pool, clock);
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
            JailSandbox sandbox = new JailSandbox(jail, spec.sandboxId(), Instant.now(), runc, networks, this::destroyClaimed);
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
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        refiller.stop();
        List<RuntimeException> failures = new ArrayList<>();
        for (WarmPool<TemplateBuild, Jail> pool : pools.values()) {
            for (Jail j : pool.drain(new SandboxRuntimeException("the jail runtime is closed"))) {
                destroyInto(failures, j);
            }
        }
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
        if (!failures.isEmpty()) {
            SandboxRuntimeException e = new SandboxRuntimeException("closing the jail runtime left something behind: "
                    + failures.getFirst().getMessage());
            failures.forEach(e::addSuppressed);
            throw e;
        }
    }

    /** Failed pool refills so far (the refill thread logs each one). */
    public long poolErrors() {
        return refiller.errors();
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
