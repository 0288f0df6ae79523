package io.sandboxd.api.secret;

import java.time.Instant;
import java.util.Map;

/** What the API may say about a secret: everything but its value, which no read surface returns. */
public record SecretInfo(String secretId, String name, long currentVersion, Map<String, String> metadata,
                         Instant createdAt, Instant updatedAt) {
    public SecretInfo {
        metadata = Map.copyOf(metadata);
    }
}
