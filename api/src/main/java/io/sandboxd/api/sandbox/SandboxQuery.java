package io.sandboxd.api.sandbox;

import java.time.Instant;
import java.util.Map;
import java.util.Set;

/**
 * A list request. All filters must hold (metadata: every pair equal).
 *
 * @param template     template ID or alias, or null for any
 * @param startedAfter only sandboxes started strictly after this instant, or null
 * @param limit        page size; {@link #UNLIMITED} for the v1 list, which has no paging
 * @param pageToken    the {@code nextToken} the previous page returned, or null for the first page; opaque to the
 *                     API, a service that cannot read it throws {@link SandboxException.Reason#INVALID}
 */
public record SandboxQuery(Set<SandboxState> states, Map<String, String> metadata, String template,
                           Instant startedAfter, Order order, int limit, String pageToken) {
    public static final int UNLIMITED = Integer.MAX_VALUE;

    /** Sort by start time. */
    public enum Order { ASCENDING, DESCENDING }

    public SandboxQuery {
        states = Set.copyOf(states);
        metadata = Map.copyOf(metadata);
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive");
        }
    }
}
