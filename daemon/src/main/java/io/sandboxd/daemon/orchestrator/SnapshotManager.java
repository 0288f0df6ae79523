package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxDetail;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;
import io.sandboxd.api.sandbox.SnapshotService;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.jail.JailRuntime;
import io.sandboxd.daemon.store.TemplateRepository;
import io.sandboxd.daemon.store.TemplateRepository.BuildRecord;
import io.sandboxd.daemon.store.TemplateRepository.BuildStatus;
import io.sandboxd.daemon.store.TemplateRepository.SnapshotKind;
import io.sandboxd.daemon.store.TemplateRepository.SnapshotRecord;
import io.sandboxd.daemon.store.TemplateRepository.TemplateRecord;
import io.sandboxd.daemon.template.TemplateBuild;
import io.sandboxd.daemon.template.TemplateMetadata;
import io.sandboxd.daemon.template.TemplateStore;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Snapshots and forks on the {@code jail} runtime. A snapshot is a template whose top layer is a copy of the
 * sandbox's files (its overlay upper directory) over the layers of the template it ran, under
 * {@code templates/<snapshotID>/snapshot-layers/<build>}; it keeps the source template's user, workdir, environment
 * and start command, so sandboxes from it start like the source did, with its files. Processes are not carried: a
 * jail cannot be checkpointed (CRIU fails on this kernel). A fork is a hidden snapshot its sandboxes start from,
 * removed once the last of them is gone and nothing is built on it.
 */
public final class SnapshotManager implements SnapshotService, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SnapshotManager.class.getName());
    static final String LAYERS_DIR = "snapshot-layers";
    static final String TAG = ":default";

    private final TemplateRepository repo;
    private final TemplateStore store;
    private final JailRuntime runtime;
    private final Orchestrator orchestrator;
    private final Clock clock;
    /** One capture at a time per daemon: each copies a sandbox's files and the disk is the limit anyway. */
    private final Object captures = new Object();
    /** Fork captures whose sandboxes are still being created. */
    private final Set<String> forksStarting = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("fork-sweep").factory());

    public SnapshotManager(TemplateRepository repo, TemplateStore store, JailRuntime runtime, Orchestrator orchestrator,
                           Clock clock) {
        this.repo = repo;
        this.store = store;
        this.runtime = runtime;
        this.orchestrator = orchestrator;
        this.clock = clock;
    }

    /** Sweeps unused fork captures every {@code period} (their sandboxes are killed one by one, by TTL or request). */
    public SnapshotManager sweepingEvery(Duration period) {
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                sweepForks();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "sweeping fork captures failed: " + e.getMessage(), e);
            }
        }, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }

    @Override
    public SnapshotInfo create(Team team, String sandboxId, String name) {
        TemplateRecord existing = name == null ? null : repo.findByIdOrAlias(name).orElse(null);
        if (existing != null) {
            boolean ownSnapshot = team.id().equals(existing.teamId()) && repo.snapshot(existing.id())
                    .filter(s -> s.kind() == SnapshotKind.SNAPSHOT).isPresent();
            if (!ownSnapshot) {
                throw SandboxException.conflict("the name '" + name + "' is taken by a template that is not one of"
                        + " your snapshots");
            }
        }
        TemplateRecord t = capture(team, sandboxId, existing, name == null ? List.of() : List.of(name),
                SnapshotKind.SNAPSHOT);
        return info(t, sandboxId);
    }

    @Override
    public List<SnapshotInfo> list(Team team, String sandboxId, String name) {
        String bare = name == null ? null : TemplateBuildService.untagged(name);
        List<SnapshotInfo> out = new ArrayList<>();
        for (SnapshotRecord s : repo.snapshots(team.id(), SnapshotKind.SNAPSHOT)) {
            if (sandboxId != null && !s.sourceSandboxId().equals(sandboxId)) {
                continue;
            }
            if (bare != null && !s.template().id().equals(bare) && !s.template().aliases().contains(bare)) {
                continue;
            }
            out.add(info(s.template(), s.sourceSandboxId()));
        }
        return out;
    }

    @Override
    public List<ForkResult> fork(Team team, String sandboxId, int count, Duration timeout) {
        TemplateRecord t = capture(team, sandboxId, null, List.of(), SnapshotKind.FORK);
        SandboxDetail source = orchestrator.get(team, sandboxId);
        List<ForkResult> results = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                try {
                    Sandbox s = orchestrator.create(team, Orchestrator.forkOf(source, t.id(), timeout));
                    results.add(new ForkResult(s, null));
                } catch (SandboxException e) {
                    results.add(new ForkResult(null, e));
                } catch (RuntimeException e) {
                    results.add(new ForkResult(null, new SandboxException(Reason.FAILED, "starting fork " + (i + 1)
                            + " of " + sandboxId + ": " + e.getMessage(), e)));
                }
            }
        } finally {
            forksStarting.remove(t.id());
            sweepForks();
        }
        return results;
    }

    /**
     * Removes fork captures no sandbox uses any more (and no other template is built on); called after each fork and
     * by the daemon's periodic sweep.
     *
     * @return the template IDs removed
     */
    public List<String> sweepForks() {
        List<String> removed = new ArrayList<>();
        for (SnapshotRecord s : repo.snapshotsOfKind(SnapshotKind.FORK)) {
            String id = s.template().id();
            if (forksStarting.contains(id)) {
                continue;
            }
            try {
                if (repo.sandboxCount(id) == 0 && store.dependentsOf(id).isEmpty()) {
                    remove(id);
                    removed.add(id);
                }
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "cannot remove the fork capture " + id + " yet: " + e.getMessage());
            }
        }
        return removed;
    }

    private TemplateRecord capture(Team team, String sandboxId, TemplateRecord existing, List<String> aliases,
                                   SnapshotKind kind) {
        SandboxDetail source = orchestrator.get(team, sandboxId);
        synchronized (captures) {
            String id = existing != null ? existing.id() : TemplateIds.next();
            if (kind == SnapshotKind.FORK) {
                forksStarting.add(id); // the sweep leaves it alone until its sandboxes exist
            }
            TemplateRecord t = existing != null ? existing : repo.create(id, team.id(), false, source.cpuCount(),
                    source.memoryMb(), aliases);
            if (existing == null) {
                // marked first, so a template left by a failure below is still known as a snapshot (and not listed)
                repo.markSnapshot(t.id(), sandboxId, kind);
            }
            BuildRecord b = repo.createBuild(t.id(), source.cpuCount(), source.memoryMb(), Orchestrator.DISK_SIZE_MB,
                    JailRuntime.NAME);
            repo.updateBuild(b.id(), BuildStatus.BUILDING, null, null);
            String buildId = b.id().toString();
            Path layer = store.templateDir(t.id()).resolve(LAYERS_DIR).resolve(buildId);
            try {
                Orchestrator.Capture c = orchestrator.capture(team, sandboxId, layer);
                writeBuild(t.id(), buildId, c, layer);
                PreparedTemplate prepared = runtime.prepareTemplate(t.id(), line -> { });
                repo.updateBuild(b.id(), BuildStatus.READY, null, Orchestrator.ENVD_VERSION);
                orchestrator.registerTemplate(prepared, source.cpuCount(), source.memoryMb());
                return t;
            } catch (RuntimeException e) {
                repo.updateBuild(b.id(), BuildStatus.ERROR, String.valueOf(e.getMessage()), null);
                DirectoryTrees.deleteRecursively(layer);
                DirectoryTrees.deleteRecursively(store.buildDir(t.id(), buildId));
                if (existing == null) {
                    try {
                        remove(t.id());
                    } catch (RuntimeException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                }
                throw e;
            }
        }
    }

    /** The build: the layer stack and the source build's settings, so sandboxes of it start as the source did. */
    private void writeBuild(String templateId, String buildId, Orchestrator.Capture c, Path layer) {
        Optional<TemplateBuild> from = store.find(c.snapshot().templateId(), c.snapshot().buildId());
        Map<String, Object> details = new LinkedHashMap<>();
        from.ifPresent(f -> details.putAll(f.metadata().details()));
        details.put("snapshotOf", c.source().id());
        details.put("sourceTemplate", c.snapshot().templateId());
        details.put("sourceBuild", c.snapshot().buildId());
        details.put("memory", c.snapshot().memory());
        long below = from.map(f -> f.metadata().rootfsBytes()).orElse(0L);
        store.writeLayeredBuild(c.snapshot().lowerDirs(), new TemplateMetadata(templateId, buildId, "snapshot",
                clock.instant().toString(), below + DirectoryTrees.sizeOf(layer), details));
    }

    private void remove(String templateId) {
        orchestrator.forgetTemplate(templateId);
        runtime.dropTemplate(templateId);
        repo.delete(templateId);
        DirectoryTrees.deleteRecursively(store.templateDir(templateId));
    }

    private static SnapshotInfo info(TemplateRecord t, String sandboxId) {
        List<String> names = t.aliases().stream().map(a -> a + TAG).toList();
        return new SnapshotInfo((t.aliases().isEmpty() ? t.id() : t.aliases().getFirst()) + TAG, names, sandboxId);
    }

}
