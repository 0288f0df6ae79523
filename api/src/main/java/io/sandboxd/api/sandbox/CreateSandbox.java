package io.sandboxd.api.sandbox;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A validated create request (v1 or v2 body).
 *
 * @param templateId   template ID, name, {@code ns/name} or {@code name:tag}, as the client wrote it
 * @param timeout      TTL counted from start; positive
 * @param secure       issue an envd access token (v2 always does)
 * @param onTimeout    kill, or pause ({@code autoPause})
 * @param autoPauseMemory whether a pause on timeout keeps memory (true) or only the filesystem
 * @param autoResume   resume a paused sandbox when traffic for it reaches the proxy
 */
public record CreateSandbox(String templateId, Duration timeout, Map<String, String> metadata,
                            Map<String, String> envVars, boolean secure, boolean allowInternetAccess,
                            NetworkConfig network, OnTimeout onTimeout, boolean autoPauseMemory, boolean autoResume,
                            List<VolumeMount> volumeMounts) {
    public CreateSandbox {
        metadata = Map.copyOf(metadata);
        envVars = Map.copyOf(envVars);
        volumeMounts = List.copyOf(volumeMounts);
    }
}
