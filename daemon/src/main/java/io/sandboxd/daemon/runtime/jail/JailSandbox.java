package io.sandboxd.daemon.runtime.jail;

import com.fasterxml.jackson.databind.JsonNode;
import io.sandboxd.daemon.envd.EnvdLaunch;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.network.EgressPolicy;
import io.sandboxd.daemon.network.NetworkSlot;
import io.sandboxd.daemon.network.SandboxNetworks;
import io.sandboxd.daemon.runtime.KilledSandboxException;
import io.sandboxd.daemon.runtime.RunningSandbox;
import io.sandboxd.daemon.runtime.SandboxSnapshot;
import io.sandboxd.daemon.runtime.SandboxStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A claimed jail as the orchestrator holds it. Every call takes the jail's monitor, so a kill waits for a pause or a
 * stats read in flight and nothing runs on a destroyed jail.
 */
public final class JailSandbox implements RunningSandbox {
    private final Jail jail;
    private final String sandboxId;
    private final Instant startedAt;
    private final Runc runc;
    private final Consumer<Jail> destroy;
    private final SandboxNetworks networks;
    /** A copy of a sandbox's files longer than this fails the snapshot (it is a 10 GiB disk at most). */
    static final Duration SNAPSHOT_COPY_TIMEOUT = Duration.ofMinutes(10);
    private boolean killed;

    JailSandbox(Jail jail, String sandboxId, Instant startedAt, Runc runc, SandboxNetworks networks, Consumer<Jail> destroy) {
        this.jail = jail;
        this.networks = networks;
        this.sandboxId = sandboxId;
        this.startedAt = startedAt;
        this.runc = runc;
        this.destroy = destroy;
    }

    @Override
    public String sandboxId() {
        return sandboxId;
    }

    /** The runc container ID, also the name of its cgroups and of its directory under sandboxes/. */
    @Override
    public String runtimeId() {
        return jail.id();
    }

    @Override
    public InetSocketAddress envdAddress() {
        return new InetSocketAddress(jail.slot().sandboxInetAddress(), EnvdLaunch.PORT);
    }

    @Override
    public Instant startedAt() {
        return startedAt;
    }

    @Override
    public void pause() {
        synchronized (jail) {
            live();
            runc.pause(jail.id());
        }
    }

    @Override
    public void resume() {
        synchronized (jail) {
            live();
            runc.resume(jail.id());
        }
    }

    /**
     * Copies the jail's overlay upper directory, whiteouts and xattrs included ({@code cp -a}), with the jail frozen
     * so no process writes mid-copy. Only files are captured: runc checkpoints need CRIU, which fails on this kernel,
     * so a sandbox started from the capture starts its processes afresh.
     */
    @Override
    public SandboxSnapshot snapshot(Path layer) {
        synchronized (jail) {
            live();
            if (Files.exists(layer)) {
                throw new IllegalArgumentException("snapshot layer " + layer + " exists already");
            }
            boolean running = runc.state(jail.id()).map(st -> st == Runc.Status.RUNNING).orElse(false);
            if (running) {
                runc.pause(jail.id());
            }
            try {
                Files.createDirectories(layer.getParent());
                HostCommand.run(List.of("cp", "-a", "--", jail.upper().toString(), layer.toString()), null,
                        SNAPSHOT_COPY_TIMEOUT).orThrow();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + layer.getParent(), e);
            } catch (RuntimeException e) {
                DirectoryTrees.deleteRecursively(layer);
                throw e;
            } finally {
                if (running) {
                    runc.resume(jail.id());
                }
            }
            List<String> lower = new ArrayList<>();
            lower.add(layer.toString());
            lower.addAll(List.of(jail.template().lowerDirs().split(":")));
            return new SandboxSnapshot(sandboxId, jail.template().templateId(), jail.template().buildId(), lower, false);
        }
    }

    @Override
    public void updateEgress(EgressPolicy policy) {
        synchronized (jail) {
            live();
            networks.applyEgress(jail.slot(), policy);
        }
    }

    @Override
    public SandboxStats stats() {
        JsonNode data;
        synchronized (jail) {
            live();
            data = runc.stats(jail.id());
        }
        long now = System.nanoTime();
        OciSpec.Limits limits = jail.limits();
        double busy = jail.cpuSince(data.path("cpu").path("usage").path("total").asLong(), now);
        JsonNode mem = data.path("memory");
        long usage = mem.path("usage").path("usage").asLong();
        // Page cache the kernel can drop is not "used", as in free(1) and docker stats.
        long inactiveFile = mem.path("raw").has("total_inactive_file") ? mem.path("raw").path("total_inactive_file").asLong()
                : mem.path("raw").path("inactive_file").asLong();
        long diskUsed = jail.template().metadata().rootfsBytes() + DirectoryTrees.sizeOf(jail.upper());
        long diskFree;
        try {
            diskFree = Files.getFileStore(jail.dir()).getUsableSpace();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read free space of " + jail.dir(), e);
        }
        return new SandboxStats(Instant.now(), limits.cpuCount(), Math.min(100.0, 100.0 * busy / limits.cpuCount()),
                Math.max(0, usage - inactiveFile), limits.memoryBytes(), diskUsed, diskUsed + diskFree);
    }

    @Override
    public Optional<Path> logFile() {
        return Optional.of(jail.log());
    }

    @Override
    public void kill() {
        synchronized (jail) {
            if (killed) {
                return;
            }
            killed = true;
            destroy.accept(jail);
        }
    }

    /** Runs a command inside the sandbox as root and waits for it (tests and diagnostics; envd runs user commands). */
    public HostCommand.Result exec(List<String> command, Duration timeout) {
        synchronized (jail) {
            live();
        }
        return runc.exec(jail.id(), command, timeout);
    }

    /** Starts a command inside the sandbox in the background; its output goes to the jail's log. */
    public void execDetached(List<String> command) {
        synchronized (jail) {
            live();
            runc.execDetached(jail.id(), command, jail.log());
        }
    }

    /** The sandbox's merged root filesystem as the host sees it. */
    public Path rootfs() {
        return jail.rootfs();
    }

    public NetworkSlot slot() {
        return jail.slot();
    }

    Jail jail() {
        return jail;
    }

    private void live() {
        if (killed) {
            throw new KilledSandboxException(JailRuntime.NAME, sandboxId);
        }
    }
}
