package io.sandboxd.api.sandbox;

import io.sandboxd.api.auth.Team;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * An in-memory {@link SandboxService} for driving the API over HTTP: it keeps the state rules the API relies on
 * (running/paused, 404 for another team's sandbox, 409 for the wrong state) without any runtime.
 */
final class FakeSandboxService implements SandboxService {
    static final String DOMAIN = "sandbox.test";
    static final String ENVD_VERSION = "0.6.13";

    final Map<String, Stored> sandboxes = new ConcurrentHashMap<>();
    final List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger sequence = new AtomicInteger();
    volatile Instant now = Instant.parse("2026-01-02T03:04:05Z");
    /** Runs at the start of create; tests use it to block a call. */
    volatile Consumer<CreateSandbox> onCreate = r -> {};

    static final class Stored {
        final Team team;
        final String id;
        final CreateSandbox request;
        final Instant startedAt;
        volatile Instant endAt;
        volatile SandboxState state = SandboxState.RUNNING;
        volatile NetworkUpdate network;

        Stored(Team team, String id, CreateSandbox request, Instant startedAt) {
            this.team = team;
            this.id = id;
            this.request = request;
            this.startedAt = startedAt;
            this.endAt = startedAt.plus(request.timeout());
        }
    }

    @Override
    public Sandbox create(Team team, CreateSandbox request) {
        onCreate.accept(request);
        calls.add("create");
        if (request.templateId().equals("missing")) {
            throw new SandboxException(SandboxException.Reason.NOT_FOUND, "template 'missing' not found");
        }
        String id = String.format("sbx%017d", sequence.incrementAndGet());
        // Each create starts one second later so ordering and startedAfter are testable.
        Instant start = now.plusSeconds(sequence.get());
        Stored s = new Stored(team, id, request, start);
        sandboxes.put(id, s);
        return sandbox(s);
    }

    private Sandbox sandbox(Stored s) {
        return new Sandbox(s.id, s.request.templateId(), null, ENVD_VERSION,
                s.request.secure() ? "token-" + s.id : null,
                s.request.network().allowPublicTraffic() ? null : "traffic-" + s.id, DOMAIN);
    }

    private Stored find(Team team, String id) {
        Stored s = sandboxes.get(id);
        if (s == null || !s.team.equals(team)) {
            throw SandboxException.notFound(id);
        }
        return s;
    }

    private SandboxDetail detail(Stored s) {
        CreateSandbox r = s.request;
        return new SandboxDetail(s.id, r.templateId(), null, s.state, s.startedAt, s.endAt, ENVD_VERSION, 2, 512,
                1024, r.secure() ? "token-" + s.id : null, r.allowInternetAccess(), DOMAIN, r.metadata(),
                r.network(), r.onTimeout(), r.autoResume(), r.volumeMounts());
    }

    @Override
    public SandboxPage list(Team team, SandboxQuery q) {
        calls.add("list");
        Comparator<Stored> byStart = Comparator.comparing((Stored s) -> s.startedAt).thenComparing(s -> s.id);
        List<Stored> matching = sandboxes.values().stream()
                .filter(s -> s.team.equals(team))
                .filter(s -> q.states().contains(s.state))
                .filter(s -> s.request.metadata().entrySet().containsAll(q.metadata().entrySet()))
                .filter(s -> q.template() == null || q.template().equals(s.request.templateId()))
                .filter(s -> q.startedAfter() == null || s.startedAt.isAfter(q.startedAfter()))
                .sorted(q.order() == SandboxQuery.Order.ASCENDING ? byStart : byStart.reversed())
                .toList();
        int offset = 0;
        if (q.pageToken() != null) {
            if (!q.pageToken().matches("o[0-9]{1,6}")) {
                throw SandboxException.invalid("Invalid nextToken");
            }
            offset = Integer.parseInt(q.pageToken().substring(1));
        }
        int end = (int) Math.min((long) offset + q.limit(), matching.size());
        List<SandboxDetail> page = matching.subList(Math.min(offset, end), end).stream().map(this::detail).toList();
        return new SandboxPage(page, end < matching.size() ? "o" + end : null);
    }

    @Override
    public SandboxDetail get(Team team, String sandboxId) {
        return detail(find(team, sandboxId));
    }

    @Override
    public void kill(Team team, String sandboxId) {
        find(team, sandboxId);
        sandboxes.remove(sandboxId);
    }

    @Override
    public void setTimeout(Team team, String sandboxId, Duration timeout) {
        Stored s = find(team, sandboxId);
        if (s.state == SandboxState.PAUSED) {
            throw SandboxException.notFound(sandboxId);
        }
        s.endAt = now.plus(timeout);
    }

    @Override
    public void refresh(Team team, String sandboxId, Duration duration) {
        Stored s = find(team, sandboxId);
        s.endAt = s.endAt.plus(duration == null ? s.request.timeout() : duration);
    }

    @Override
    public Connected connect(Team team, String sandboxId, Duration timeout, boolean memory) {
        Stored s = find(team, sandboxId);
        Instant wanted = now.plus(timeout);
        if (s.state == SandboxState.PAUSED) {
            s.state = SandboxState.RUNNING;
            s.endAt = wanted;
            return new Connected(sandbox(s), true);
        }
        if (wanted.isAfter(s.endAt)) {
            s.endAt = wanted;
        }
        return new Connected(sandbox(s), false);
    }

    @Override
    public Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause) {
        Stored s = find(team, sandboxId);
        if (s.state == SandboxState.RUNNING) {
            throw SandboxException.conflict("sandbox " + sandboxId + " is already running");
        }
        s.state = SandboxState.RUNNING;
        s.endAt = now.plus(timeout);
        return sandbox(s);
    }

    @Override
    public void updateNetwork(Team team, String sandboxId, NetworkUpdate update) {
        find(team, sandboxId).network = update;
    }

    @Override
    public void pause(Team team, String sandboxId, boolean memory) {
        Stored s = find(team, sandboxId);
        if (s.state == SandboxState.PAUSED) {
            throw SandboxException.conflict("sandbox " + sandboxId + " is already paused");
        }
        s.state = SandboxState.PAUSED;
    }

    @Override
    public List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end) {
        Stored s = find(team, sandboxId);
        List<SandboxMetric> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Instant t = s.startedAt.plusSeconds(5L * i);
            if ((start == null || !t.isBefore(start)) && (end == null || !t.isAfter(end))) {
                out.add(new SandboxMetric(t, 2, 10.5 * i, 1000L * i, 512L << 20, 7, 100L * i, 1L << 30));
            }
        }
        return out;
    }

    @Override
    public List<LogEntry> logs(Team team, String sandboxId, LogQuery query) {
        Stored s = find(team, sandboxId);
        List<LogEntry> all = List.of(
                new LogEntry(s.startedAt, LogLevel.DEBUG, "booting", Map.of()),
                new LogEntry(s.startedAt.plusMillis(10), LogLevel.INFO, "envd started", Map.of("port", "49983")),
                new LogEntry(s.startedAt.plusMillis(20), LogLevel.ERROR, "disk almost full", Map.of()));
        List<LogEntry> kept = new ArrayList<>(all.stream()
                .filter(e -> query.minLevel() == null || e.level().compareTo(query.minLevel()) >= 0)
                .filter(e -> query.search() == null || e.message().contains(query.search()))
                .filter(e -> query.cursor() == null || (query.direction() == LogQuery.Direction.FORWARD
                        ? !e.timestamp().isBefore(query.cursor()) : !e.timestamp().isAfter(query.cursor())))
                .toList());
        if (query.direction() == LogQuery.Direction.BACKWARD) {
            java.util.Collections.reverse(kept);
        }
        return kept.subList(0, Math.min(query.limit(), kept.size()));
    }
}
