package io.sandboxd.api.sandbox;

import java.util.List;

/**
 * A running sandbox's new egress configuration ({@code PUT /sandboxes/{id}/network}), replacing the old one as a
 * whole: what the body leaves out is cleared.
 */
public record NetworkUpdate(boolean allowInternetAccess, List<String> allowOut, List<String> denyOut) {
    public NetworkUpdate {
        allowOut = List.copyOf(allowOut);
        denyOut = List.copyOf(denyOut);
    }
}
