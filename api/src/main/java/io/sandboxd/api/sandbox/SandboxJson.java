package io.sandboxd.api.sandbox;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.Json;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;

/** The wire shapes of spec section 1.5: Sandbox, SandboxDetail, ListedSandbox, SandboxMetric, log entries. */
final class SandboxJson {
    /** Legacy field the SDKs still require; upstream sends a constant. */
    static final String CLIENT_ID = "6532622b";
    private static final DateTimeFormatter RFC3339 = DateTimeFormatter.ISO_OFFSET_DATE_TIME.withZone(ZoneOffset.UTC);

    private SandboxJson() {}

    static String time(Instant t) {
        return RFC3339.format(t.truncatedTo(ChronoUnit.MILLIS));
    }

    static ObjectNode sandbox(Sandbox s) {
        ObjectNode n = Json.object();
        n.put("templateID", s.templateId());
        n.put("sandboxID", s.sandboxId());
        n.put("clientID", CLIENT_ID);
        n.put("envdVersion", s.envdVersion());
        putIfSet(n, "alias", s.alias());
        putIfSet(n, "envdAccessToken", s.envdAccessToken());
        putIfSet(n, "trafficAccessToken", s.trafficAccessToken());
        putIfSet(n, "domain", s.domain());
        return n;
    }

    /** ListedSandbox: the required fields of SandboxDetail plus alias, metadata and volume mounts. */
    static ObjectNode listed(SandboxDetail d) {
        ObjectNode n = Json.object();
        n.put("templateID", d.templateId());
        n.put("sandboxID", d.sandboxId());
        n.put("clientID", CLIENT_ID);
        n.put("startedAt", time(d.startedAt()));
        n.put("endAt", time(d.endAt()));
        n.put("envdVersion", d.envdVersion());
        n.put("cpuCount", d.cpuCount());
        n.put("memoryMB", d.memoryMb());
        n.put("diskSizeMB", d.diskSizeMb());
        n.put("state", d.state().wireName());
        putIfSet(n, "alias", d.alias());
        n.set("metadata", stringMap(d.metadata()));
        n.set("volumeMounts", volumeMounts(d.volumeMounts()));
        return n;
    }

    static ObjectNode detail(SandboxDetail d) {
        ObjectNode n = listed(d);
        putIfSet(n, "envdAccessToken", d.envdAccessToken());
        n.put("allowInternetAccess", d.allowInternetAccess());
        putIfSet(n, "domain", d.domain());
        n.set("network", network(d.network()));
        ObjectNode lifecycle = n.putObject("lifecycle");
        lifecycle.put("autoResume", d.autoResume());
        lifecycle.put("onTimeout", d.onTimeout().wireName());
        return n;
    }

    static ObjectNode network(NetworkConfig c) {
        ObjectNode n = Json.object();
        n.put("allowPublicTraffic", c.allowPublicTraffic());
        ArrayNode allow = n.putArray("allowOut");
        c.allowOut().forEach(allow::add);
        ArrayNode deny = n.putArray("denyOut");
        c.denyOut().forEach(deny::add);
        putIfSet(n, "maskRequestHost", c.maskRequestHost());
        return n;
    }

    static ObjectNode metric(SandboxMetric m) {
        ObjectNode n = Json.object();
        n.put("timestamp", time(m.timestamp()));
        n.put("timestampUnix", m.timestamp().getEpochSecond());
        n.put("cpuCount", m.cpuCount());
        n.put("cpuUsedPct", m.cpuUsedPct());
        n.put("memUsed", m.memUsed());
        n.put("memTotal", m.memTotal());
        n.put("memCache", m.memCache());
        n.put("diskUsed", m.diskUsed());
        n.put("diskTotal", m.diskTotal());
        return n;
    }

    static ObjectNode logEntry(LogEntry e) {
        ObjectNode n = Json.object();
        n.put("timestamp", time(e.timestamp()));
        n.put("level", e.level().wireName());
        n.put("message", e.message());
        n.set("fields", stringMap(e.fields()));
        return n;
    }

    static ObjectNode logLine(LogEntry e) {
        ObjectNode n = Json.object();
        n.put("timestamp", time(e.timestamp()));
        n.put("line", e.message());
        return n;
    }

    private static ObjectNode stringMap(Map<String, String> map) {
        ObjectNode n = Json.object();
        map.forEach(n::put);
        return n;
    }

    private static ArrayNode volumeMounts(List<VolumeMount> mounts) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (VolumeMount m : mounts) {
            a.addObject().put("name", m.name()).put("path", m.path());
        }
        return a;
    }

    private static void putIfSet(ObjectNode n, String field, String value) {
        if (value != null) {
            n.put(field, value);
        }
    }
}
