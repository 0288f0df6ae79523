package io.sandboxd.api.sandbox;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** One sandbox as get and list show it, running or paused. */
public record SandboxDetail(String sandboxId, String templateId, String alias, SandboxState state,
                            Instant startedAt, Instant endAt, String envdVersion, int cpuCount, int memoryMb,
                            int diskSizeMb, String envdAccessToken, boolean allowInternetAccess, String domain,
                            Map<String, String> metadata, NetworkConfig network, OnTimeout onTimeout,
                            boolean autoResume, List<VolumeMount> volumeMounts) {
    public SandboxDetail {
        metadata = Map.copyOf(metadata);
        volumeMounts = List.copyOf(volumeMounts);
    }
}
