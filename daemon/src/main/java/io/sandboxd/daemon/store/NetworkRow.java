package io.sandboxd.daemon.store;

import java.util.List;

/**
 * A sandbox's network settings as the store keeps them (the {@code network} JSON column). The store's own shape, so
 * a change to the API's request types never changes what is on disk without a migration.
 *
 * @param allowPublicTraffic false: traffic to non-envd ports needs the traffic access token
 * @param allowOut           destinations allowed out (CIDRs or domains), winning over {@code denyOut}
 * @param denyOut            destinations denied out
 * @param maskRequestHost    the Host header the proxy sends upstream, null to pass it through
 */
public record NetworkRow(boolean allowPublicTraffic, List<String> allowOut, List<String> denyOut,
                         String maskRequestHost) {
    public static final NetworkRow DEFAULT = new NetworkRow(true, List.of(), List.of(), null);

    public NetworkRow {
        allowOut = allowOut == null ? List.of() : List.copyOf(allowOut);
        denyOut = denyOut == null ? List.of() : List.copyOf(denyOut);
    }
}
