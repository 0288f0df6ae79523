package io.sandboxd.daemon.orchestrator.cluster;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.CreateSandbox;
import io.sandboxd.api.sandbox.LogEntry;
import io.sandboxd.api.sandbox.LogLevel;
import io.sandboxd.api.sandbox.LogQuery;
import io.sandboxd.api.sandbox.NetworkConfig;
import io.sandboxd.api.sandbox.OnTimeout;
import io.sandboxd.api.sandbox.Sandbox;
import io.sandboxd.api.sandbox.SandboxMetric;
import io.sandboxd.api.sandbox.VolumeMount;
import io.sandboxd.daemon.orchestrator.cluster.proto.CreateRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.LogLine;
import io.sandboxd.daemon.orchestrator.cluster.proto.LogsRequest;
import io.sandboxd.daemon.orchestrator.cluster.proto.Metric;
import io.sandboxd.daemon.orchestrator.cluster.proto.Network;
import io.sandboxd.daemon.orchestrator.cluster.proto.SandboxRef;
import io.sandboxd.daemon.orchestrator.cluster.proto.SandboxReply;
import io.sandboxd.daemon.orchestrator.cluster.proto.TeamRef;
import java.time.Duration;
import java.time.Instant;

/** The API's records to the node service's messages and back: one place, so both ends agree. */
final class NodeMessages {
    private NodeMessages() {
    }

    static TeamRef team(Team t) {
        return TeamRef.newBuilder().setId(t.id()).setName(t.name() == null ? "" : t.name()).build();
    }

    static Team team(TeamRef t) {
        return new Team(t.getId(), t.getName().isEmpty() ? null : t.getName());
    }

    static SandboxRef ref(Team t, String sandboxId) {
        return SandboxRef.newBuilder().setTeam(team(t)).setSandboxId(sandboxId).build();
    }

    static CreateRequest create(Team team, CreateSandbox c) {
        CreateRequest.Builder b = CreateRequest.newBuilder().setTeam(team(team))
                .setTemplateId(c.templateId() == null ? "" : c.templateId())
                .setTimeoutMs(c.timeout() == null ? 0 : c.timeout().toMillis())
                .putAllMetadata(c.metadata()).putAllEnvVars(c.envVars()).setSecure(c.secure())
                .setAllowInternetAccess(c.allowInternetAccess())
                .setOnTimeoutPause(c.onTimeout() == OnTimeout.PAUSE)
                .setAutoPauseMemory(c.autoPauseMemory()).setAutoResume(c.autoResume());
        if (c.network() != null) {
            b.setNetwork(network(c.network()));
        }
        for (VolumeMount m : c.volumeMounts()) {
            b.addVolumeMounts(io.sandboxd.daemon.orchestrator.cluster.proto.VolumeMount.newBuilder()
                    .setName(m.name()).setPath(m.path()));
        }
        return b.build();
    }

    static CreateSandbox create(CreateRequest r) {
        return new CreateSandbox(r.getTemplateId().isEmpty() ? null : r.getTemplateId(),
                r.getTimeoutMs() == 0 ? null : Duration.ofMillis(r.getTimeoutMs()), r.getMetadataMap(),
                r.getEnvVarsMap(), r.getSecure(), r.getAllowInternetAccess(),
                r.hasNetwork() ? network(r.getNetwork()) : null, r.getOnTimeoutPause() ? OnTimeout.PAUSE : OnTimeout.KILL,
                r.getAutoPauseMemory(), r.getAutoResume(),
                r.getVolumeMountsList().stream().map(m -> new VolumeMount(m.getName(), m.getPath())).toList());
    }

    static Network network(NetworkConfig n) {
        return Network.newBuilder().setAllowPublicTraffic(n.allowPublicTraffic()).addAllAllowOut(n.allowOut())
                .addAllDenyOut(n.denyOut()).setMaskRequestHost(n.maskRequestHost() == null ? "" : n.maskRequestHost())
                .build();
    }

    static NetworkConfig network(Network n) {
        return new NetworkConfig(n.getAllowPublicTraffic(), n.getAllowOutList(), n.getDenyOutList(),
                n.getMaskRequestHost().isEmpty() ? null : n.getMaskRequestHost());
    }

    static SandboxReply sandbox(Sandbox s) {
        return SandboxReply.newBuilder().setSandboxId(s.sandboxId()).setTemplateId(s.templateId())
                .setAlias(orEmpty(s.alias())).setEnvdVersion(s.envdVersion())
                .setEnvdAccessToken(orEmpty(s.envdAccessToken())).setTrafficAccessToken(orEmpty(s.trafficAccessToken()))
                .setDomain(orEmpty(s.domain())).build();
    }

    static Sandbox sandbox(SandboxReply s) {
        return new Sandbox(s.getSandboxId(), s.getTemplateId(), orNull(s.getAlias()), s.getEnvdVersion(),
                orNull(s.getEnvdAccessToken()), orNull(s.getTrafficAccessToken()), orNull(s.getDomain()));
    }

    static Metric metric(SandboxMetric m) {
        return Metric.newBuilder().setTimestampEpochMs(m.timestamp().toEpochMilli()).setCpuCount(m.cpuCount())
                .setCpuUsedPct(m.cpuUsedPct()).setMemUsed(m.memUsed()).setMemTotal(m.memTotal())
                .setMemCache(m.memCache()).setDiskUsed(m.diskUsed()).setDiskTotal(m.diskTotal()).build();
    }

    static SandboxMetric metric(Metric m) {
        return new SandboxMetric(Instant.ofEpochMilli(m.getTimestampEpochMs()), m.getCpuCount(), m.getCpuUsedPct(),
                m.getMemUsed(), m.getMemTotal(), m.getMemCache(), m.getDiskUsed(), m.getDiskTotal());
    }

    static LogsRequest logs(Team team, String sandboxId, LogQuery q) {
        return LogsRequest.newBuilder().setSandbox(ref(team, sandboxId))
                .setCursorEpochMs(q.cursor() == null ? 0 : q.cursor().toEpochMilli()).setLimit(q.limit())
                .setBackward(q.direction() == LogQuery.Direction.BACKWARD)
                .setMinLevel(q.minLevel() == null ? "" : q.minLevel().wireName()).setSearch(orEmpty(q.search())).build();
    }

    static LogQuery logs(LogsRequest r) {
        return new LogQuery(r.getCursorEpochMs() == 0 ? null : Instant.ofEpochMilli(r.getCursorEpochMs()), r.getLimit(),
                r.getBackward() ? LogQuery.Direction.BACKWARD : LogQuery.Direction.FORWARD,
                r.getMinLevel().isEmpty() ? null : LogLevel.fromWire(r.getMinLevel()), orNull(r.getSearch()));
    }

    static LogLine log(LogEntry e) {
        return LogLine.newBuilder().setTimestampEpochMs(e.timestamp().toEpochMilli())
                .setLevel(e.level() == null ? "" : e.level().wireName()).setMessage(e.message())
                .putAllFields(e.fields()).build();
    }

    static LogEntry log(LogLine l) {
        return new LogEntry(Instant.ofEpochMilli(l.getTimestampEpochMs()),
                l.getLevel().isEmpty() ? null : LogLevel.fromWire(l.getLevel()), l.getMessage(), l.getFieldsMap());
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }

    private static String orNull(String s) {
        return s.isEmpty() ? null : s;
    }
}
