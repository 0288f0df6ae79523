package io.sandboxd.daemon.runtime;

import io.sandboxd.daemon.network.EgressPolicy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A runtime that runs nothing: creates hand out {@link FakeSandbox}es that record what was done to them, and a test
 * can make the next create, pause or resume fail with the exception of its choice. For orchestrator tests that need
 * no root, runc or network.
 */
public final class FakeRuntime implements SandboxRuntime {
    private final String name;
    private final Clock clock;
    private final Set<String> prepared = ConcurrentHashMap.newKeySet();
    private final List<FakeSandbox> created = new CopyOnWriteArrayList<>();
    private final AtomicReference<RuntimeException> nextCreateFailure = new AtomicReference<>();
    private final AtomicInteger addresses = new AtomicInteger(1);
    private volatile boolean closed;
    private volatile List<PoolLevel> poolLevels = List.of();
    private volatile long poolStartFailures;

    /** @param name the runtime name it answers to ({@code jail} or {@code vm}: the store accepts only those) */
    public FakeRuntime(String name, Clock clock) {
        this.name = name;
        this.clock = clock;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public PreparedTemplate prepareTemplate(String templateId, Consumer<String> progress) {
        prepared.add(templateId);
        progress.accept("prepared " + templateId);
        return new PreparedTemplate(templateId, "b1", Path.of("/nonexistent/templates", templateId, "b1"));
    }

    @Override
    public FakeSandbox create(SandboxSpec spec) {
        if (closed) {
            throw new SandboxRuntimeException("the fake " + name + " runtime is closed");
        }
        RuntimeException failure = nextCreateFailure.getAndSet(null);
        if (failure != null) {
            throw failure;
        }
        if (!prepared.contains(spec.templateId())) {
            throw new TemplateNotPreparedException(name(), spec.templateId());
        }
        int n = addresses.getAndIncrement();
        FakeSandbox sb = new FakeSandbox(spec, new InetSocketAddress("127.0.0." + (1 + n % 250), 49983), clock.instant());
        created.add(sb);
        return sb;
    }

    /** The next create throws {@code e} (once). */
    public void failNextCreate(RuntimeException e) {
        nextCreateFailure.set(e);
    }

    public List<FakeSandbox> created() {
        return List.copyOf(created);
    }

    public FakeSandbox sandbox(String sandboxId) {
        return created.stream().filter(s -> s.sandboxId().equals(sandboxId)).findFirst()
                .orElseThrow(() -> new AssertionError("the fake runtime never created " + sandboxId));
    }

    /** Sandboxes created and not killed. */
    public List<FakeSandbox> running() {
        return created.stream().filter(s -> !s.killed()).toList();
    }

    /**
     * The runtime the next daemon gets after this one was killed with {@code kill -9}: this one's sandboxes that
     * were not killed are left on the "host" as they were (paused or not) for the new one to {@link #adopt}; this
     * object is dropped without a close, as a dead process is. Prepared templates stay (they are on disk).
     */
    public FakeRuntime afterCrash() {
        FakeRuntime next = new FakeRuntime(name, clock);
        next.prepared.addAll(prepared);
        for (FakeSandbox s : running()) {
            next.leftOver.put(s.sandboxId(), s);
        }
        next.addresses.set(addresses.get());
        return next;
    }

    /** What a previous daemon left and nobody adopted or removed yet. */
    private final Map<String, FakeSandbox> leftOver = new ConcurrentHashMap<>();

    /** The left-over sandbox's processes die before anyone adopts it (its jail is gone). */
    public void lose(String sandboxId) {
        if (leftOver.remove(sandboxId) == null) {
            throw new AssertionError(sandboxId + " was not left over");
        }
    }

    /** Sandboxes a previous daemon left that are neither adopted nor removed. */
    public List<String> leftOver() {
        return List.copyOf(leftOver.keySet());
    }

    @Override
    public AdoptedSandbox adopt(String sandboxId, EgressPolicy policy) {
        if (closed) {
            throw new SandboxRuntimeException("the fake " + name + " runtime is closed");
        }
        FakeSandbox old = leftOver.remove(sandboxId);
        if (old == null) {
            throw new NotAdoptableException(sandboxId, "the fake runtime has no left-over sandbox by that ID");
        }
        FakeSandbox sb = new FakeSandbox(old.spec, old.address, old.startedAt);
        synchronized (old) {
            sb.paused = old.paused;
        }
        sb.egress = policy;
        sb.calls.add("adopt");
        created.add(sb);
        return new AdoptedSandbox(sb, sb.paused);
    }

    /** Removes what a previous daemon left and nobody adopted, as the jail runtime's sweep does. */
    @Override
    public List<String> reconcile() {
        List<String> removed = leftOver.keySet().stream().sorted().map(id -> "fake sandbox " + id).toList();
        leftOver.clear();
        return removed;
    }

    /** What {@link #poolLevels()} reports from now on. */
    public void poolLevels(List<PoolLevel> levels, long startFailures) {
        this.poolLevels = List.copyOf(levels);
        this.poolStartFailures = startFailures;
    }

    @Override
    public List<PoolLevel> poolLevels() {
        return poolLevels;
    }

    @Override
    public long poolStartFailures() {
        return poolStartFailures;
    }

    @Override
    public void close() {
        closed = true;
        running().forEach(FakeSandbox::kill);
    }

    /** A sandbox of the fake runtime: its state is just what was last done to it. */
    public static final class FakeSandbox implements RunningSandbox {
        private final SandboxSpec spec;
        private final InetSocketAddress address;
        private final Instant startedAt;
        private final List<String> calls = new ArrayList<>();
        private RuntimeException nextFailure;
        private boolean paused;
        private boolean killed;
        private EgressPolicy egress;

        FakeSandbox(SandboxSpec spec, InetSocketAddress address, Instant startedAt) {
            this.spec = spec;
            this.egress = spec.egress();
            this.address = address;
            this.startedAt = startedAt;
        }

        public SandboxSpec spec() {
            return spec;
        }

        /** The next pause, resume or stats call throws {@code e} (once). */
        public synchronized void failNext(RuntimeException e) {
            nextFailure = e;
        }

        public synchronized boolean paused() {
            return paused;
        }

        public synchronized boolean killed() {
            return killed;
        }

        public synchronized List<String> calls() {
            return List.copyOf(calls);
        }

        @Override
        public String sandboxId() {
            return spec.sandboxId();
        }

        @Override
        public String runtimeId() {
            return "fake-" + spec.sandboxId();
        }

        @Override
        public InetSocketAddress envdAddress() {
            return address;
        }

        @Override
        public Instant startedAt() {
            return startedAt;
        }

        private void call(String what) {
            calls.add(what);
            if (killed) {
                throw new KilledSandboxException("fake", spec.sandboxId());
            }
            RuntimeException f = nextFailure;
            nextFailure = null;
            if (f != null) {
                throw f;
            }
        }

        @Override
        public synchronized void pause() {
            call("pause");
            paused = true;
        }

        @Override
        public synchronized void resume() {
            call("resume");
            paused = false;
        }

        @Override
        public SandboxSnapshot snapshot(Path layer) {
            throw new UnsupportedRuntimeOperationException("fake", "snapshot", "the fake runtime captures nothing");
        }

        /** The policy it was created with, or the last one an update gave it. */
        public synchronized EgressPolicy egress() {
            return egress;
        }

        @Override
        public synchronized void updateEgress(EgressPolicy policy) {
            call("updateEgress");
            egress = policy;
        }

        @Override
        public synchronized SandboxStats stats() {
            call("stats");
            return new SandboxStats(startedAt, spec.cpuCount(), 1.5, 1 << 20, (long) spec.memoryMB() << 20, 4096, 1 << 30);
        }

        @Override
        public Optional<Path> logFile() {
            return Optional.empty();
        }

        @Override
        public synchronized void kill() {
            calls.add("kill");
            killed = true;
        }
    }
}
