package io.sandboxd.api.sandbox;

import java.util.List;

/** One page of a list; {@code nextToken} is null on the last page (and then no X-Next-Token header is sent). */
public record SandboxPage(List<SandboxDetail> sandboxes, String nextToken) {
    public SandboxPage {
        sandboxes = List.copyOf(sandboxes);
    }
}
