package io.sandboxd.daemon.cli.admin;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.Connected;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogLevel;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/** Sandboxes the CLI tests put in place by hand, served through the real {@code ApiServer}. */
final class FakeSandboxes implements SandboxService {
    static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");
    final Map<String, SandboxDetail> sandboxes = new ConcurrentSkipListMap<>();
    final List<String> kills = new ArrayList<>();
    volatile List<LogEntry> logs = List.of();
    volatile LogQuery lastLogQuery;

    SandboxDetail add(String id, SandboxState state, Map<String, String> metadata) {
        SandboxDetail d = new SandboxDetail(id, "base", null, state, T0, T0.plusSeconds(300), "0.6.13", 2, 512, 10240,
                "tok-" + id, true, "localhost", metadata, NetworkConfig.DEFAULT, OnTimeout.KILL, false, List.of());
        sandboxes.put(id, d);
        return d;
    }

    void log(String message) {
        List<LogEntry> l = new ArrayList<>(logs);
        l.add(new LogEntry(T0.plusSeconds(l.size()), LogLevel.INFO, message, Map.of()));
        logs = l;
    }

    @Override
    public SandboxPage list(Team team, SandboxQuery query) {
        List<SandboxDetail> matching = sandboxes.values().stream()
                .filter(d -> query.states().contains(d.state()))
                .filter(d -> d.metadata().entrySet().containsAll(query.metadata().entrySet()))
                .toList();
        int from = query.pageToken() == null ? 0 : Integer.parseInt(query.pageToken());
        int to = (int) Math.min(matching.size(), (long) from + query.limit());
        return new SandboxPage(matching.subList(from, to), to < matching.size() ? Integer.toString(to) : null);
    }

    @Override
    public SandboxDetail get(Team team, String sandboxId) {
        SandboxDetail d = sandboxes.get(sandboxId);
        if (d == null) {
            throw SandboxException.notFound(sandboxId);
        }
        return d;
    }

    @Override
    public synchronized void kill(Team team, String sandboxId) {
        if (sandboxId.startsWith("busy")) {
            throw SandboxException.conflict("sandbox " + sandboxId + " is pausing");
        }
        if (sandboxes.remove(sandboxId) == null) {
            throw SandboxException.notFound(sandboxId);
        }
        kills.add(sandboxId);
    }

    @Override
    public List<LogEntry> logs(Team team, String sandboxId, LogQuery query) {
        get(team, sandboxId);
        lastLogQuery = query;
        return logs.stream().limit(query.limit()).toList();
    }

    @Override
    public Sandbox create(Team team, CreateSandbox request) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }

    @Override
    public void setTimeout(Team team, String sandboxId, Duration timeout) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }

    @Override
    public void refresh(Team team, String sandboxId, Duration duration) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }

    @Override
    public Connected connect(Team team, String sandboxId, Duration timeout, boolean memory) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }

    @Override
    public Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }

    @Override
    public void pause(Team team, String sandboxId, boolean memory) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }

    @Override
    public List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end) {
        return List.of();
    }

    @Override
    public void updateNetwork(Team team, String sandboxId, NetworkUpdate update) {
        throw new SandboxException(SandboxException.Reason.NOT_IMPLEMENTED, "not in this test");
    }
}
