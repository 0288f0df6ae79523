package io.sandboxd.api.sandbox;

import java.util.List;

/**
 * A sandbox's network settings as the client gave them. {@code allowPublicTraffic=false} means traffic to
 * non-envd ports needs the traffic access token; {@code allowOut} wins over {@code denyOut}.
 */
public record NetworkConfig(boolean allowPublicTraffic, List<String> allowOut, List<String> denyOut,
                            String maskRequestHost) {
    public static final NetworkConfig DEFAULT = new NetworkConfig(true, List.of(), List.of(), null);

    public NetworkConfig {
        allowOut = List.copyOf(allowOut);
        denyOut = List.copyOf(denyOut);
    }
}
