package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.envd.EnvdException;
import io.sandboxd.daemon.envd.EnvdReadiness;
import io.sandboxd.daemon.network.NetworkSlot;
import io.sandboxd.daemon.pool.PoolItemFactory;
import io.sandboxd.daemon.network.SandboxNetworks;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.MountTable;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import io.sandboxd.daemon.runtime.SandboxSpec;
import io.sandboxd.daemon.runtime.StepClock;
import io.sandboxd.daemon.template.TemplateBuild;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Makes and unmakes jails: the network slot, the overlay mount, the bundle, the runc container, the readiness
 * wait; and in reverse order on destroy. Every step that fails undoes the steps before it.
 */
final class JailFactory implements PoolItemFactory<TemplateBuild, Jail> {
    private static final System.Logger LOG = System.getLogger(JailFactory.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Duration CGROUP_BUSY_WAIT = Duration.ofSeconds(2);

    private final JailConfig config;
    private final SandboxNetworks networks;
    private final Runc runc;

    JailFactory(JailConfig config, SandboxNetworks networks, Runc runc) {
        this.config = config;
        this.networks = networks;
        this.runc = runc;
    }

    /**
     * A new jail for {@code template}: mounted and configured, allowed out, not started. One a create is already
     * waiting for starts with a short warm-up ({@link JailConfig#commandForWaitingCreate()}).
     */
    private Jail prepare(TemplateBuild template, boolean createWaiting, List<SandboxSpec.BindMount> volumes) {
        String id = "j" + HexFormat.of().formatHex(randomBytes());
        Path dir = config.sandboxesDir().resolve(id);
        NetworkSlot slot = networks.create();
        Jail jail = new Jail(id, dir, slot, template,
                new OciSpec.Limits(config.defaultCpuCount(), config.defaultMemoryMB(), config.pidsLimit()));
        try {
            // Allowed out while it waits in the pool (only envd runs there, and nothing reaches it): most creates want
            // internet access, and this keeps the firewall change off their path. A create without it turns it off.
            networks.setInternetAccess(slot, true);
            Files.createDirectories(jail.upper());
            Files.createDirectories(jail.work());
            Files.createDirectories(jail.rootfs());
            HostCommand.check(List.of("mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=" + template.lowerDirs() + ",upperdir=" + jail.upper() + ",workdir=" + jail.work(),
                    jail.rootfs().toString()));
            Files.writeString(jail.resolvConf(), resolvConf());
            Files.writeString(jail.hosts(), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                    + slot.sandboxIp() + "\t" + Jail.HOSTNAME + "\n");
            Files.createFile(jail.log());
            OciSpec.write(OciSpec.build(config, createWaiting ? config.commandForWaitingCreate() : config.command(),
                    jail, jail.limits(), volumes), jail.configJson());
            return jail;
        } catch (IOException | RuntimeException e) {
            try {
                destroy(jail);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            if (e instanceof IOException io) {
                throw new UncheckedIOException("preparing jail " + id + " failed", io);
            }
            throw (RuntimeException) e;
        }
    }

    /** A started jail for the pool: prepared, then started; removed again if the start fails. */
    @Override
    public Jail make(TemplateBuild template, boolean forWaitingCreate) {
        return make(template, forWaitingCreate, List.of());
    }

    /**
     * A started jail with volumes mounted: mounts are fixed when runc starts a container, so a create with volumes
     * gets a jail of its own (started now, with the short warm-up) instead of a pooled one.
     */
    Jail make(TemplateBuild template, boolean forWaitingCreate, List<SandboxSpec.BindMount> volumes) {
        StepClock clock = new StepClock();
        Jail jail = prepare(template, forWaitingCreate, volumes);
        clock.lap("prepare");
        try {
            start(jail, clock);
        } catch (RuntimeException e) {
            try {
                destroy(jail);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        clock.log(LOG, "pool refill " + jail.id());
        return jail;
    }

    @Override
    public void discard(Jail jail) {
        destroy(jail);
    }

    @Override
    public String describe(TemplateBuild template) {
        return "template " + template.templateId();
    }

    /**
     * Starts the jail's container, waits until its first process is ready (see {@link JailConfig#readinessPort()}),
     * then runs the template's start command and waits for its ready command ({@link StartCommand}).
     */
    private void start(Jail jail, StepClock clock) {
        runc.runDetached(jail.id(), jail.dir(), jail.log());
        jail.markStarted();
        clock.lap("runc run");
        if (config.readinessPort() > 0) {
            InetSocketAddress addr = new InetSocketAddress(jail.slot().sandboxInetAddress(), config.readinessPort());
            try {
                EnvdReadiness.await(addr, config.readinessPath(), config.startTimeout(),
                        () -> runc.state(jail.id()).filter(st -> st != Runc.Status.STOPPED).isPresent(),
                        () -> Runc.tail(jail.log()));
            } catch (EnvdException e) {
                throw new EnvdException("jail " + jail.id() + ": " + e.getMessage(), e);
            }
            clock.lap("ready");
        }
        Map<String, Object> details = jail.template().metadata().details();
        if (StartCommand.has(details)) {
            StartCommand.run(runc, jail, jail.template().templateId(), details, StartCommand.READY_TIMEOUT);
            clock.lap("start and ready commands");
        }
    }

    /**
     * Removes everything of the jail: container (killing its processes, paused or not), overlay mount, directory,
     * leftover cgroups, network slot. Keeps going when a step fails and reports every failure at the end.
     */
    void destroy(Jail jail) {
        List<RuntimeException> failures = new ArrayList<>();
        step(failures, () -> runc.deleteForce(jail.id()));
        step(failures, () -> MountTable.unmountAllUnder(jail.dir()));
        step(failures, () -> DirectoryTrees.deleteRecursively(jail.dir()));
        step(failures, () -> removeCgroups(config.cgroupParent(), jail.id()));
        step(failures, () -> networks.destroy(jail.slot()));
        if (!failures.isEmpty()) {
            SandboxRuntimeException e = new SandboxRuntimeException("removing jail " + jail.id() + " left something behind: "
                    + failures.getFirst().getMessage());
            failures.forEach(e::addSuppressed);
            throw e;
        }
    }

    /**
     * runc removes the cgroups it made; this catches the ones of a container that never got a runc record (a
     * start that failed half-way) or whose record was lost with a crash. Only empty cgroups can be removed.
     */
    static List<Path> removeCgroups(String parent, String id) {
        List<Path> removed = new ArrayList<>();
        Path cg = Path.of("/sys/fs/cgroup");
        List<Path> candidates = new ArrayList<>();
        candidates.add(cg.resolve(parent).resolve(id)); // cgroup v2
        try (var controllers = Files.list(cg)) {
            controllers.forEach(c -> candidates.add(c.resolve(parent).resolve(id))); // cgroup v1, one per controller
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + cg, e);
        }
        // Every controller gets its attempt even when one fails, so one busy cgroup does not strand the others.
        IOException first = null;
        for (Path dir : candidates) {
            try {
                if (Files.isDirectory(dir) && removeCgroupDir(dir)) {
                    removed.add(dir);
                }
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw new UncheckedIOException("cannot remove the cgroups of jail " + id, first);
        }
        return removed;
    }

    /**
     * rmdir of a cgroup fails with EBUSY while a killed process in it has not finished exiting (seen on the hybrid
     * layout's unified hierarchy right after runc delete); such a cgroup empties within milliseconds.
     */
    private static boolean removeCgroupDir(Path dir) throws IOException {
        long deadline = System.nanoTime() + CGROUP_BUSY_WAIT.toNanos();
        while (true) {
            try {
                return Files.deleteIfExists(dir);
            } catch (java.nio.file.FileSystemException e) {
                if (e.getReason() == null || !e.getReason().contains("busy") || System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private String resolvConf() {
        StringBuilder b = new StringBuilder();
        for (String s : networks.config().dnsServers()) {
            b.append("nameserver ").append(s).append('\n');
        }
        return b.toString();
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        return b;
    }

    private static void step(List<RuntimeException> failures, Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }
}
