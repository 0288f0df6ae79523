package io.sandboxd.daemon.orchestrator;

import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The sandboxes this process runs, by ID, mirroring the store's lifecycle state after every transition. */
final class LiveTable {
    private final ConcurrentHashMap<String, LiveSandbox> sandboxes = new ConcurrentHashMap<>();

    void put(LiveSandbox s) {
        sandboxes.put(s.sandboxId(), s);
    }

    Optional<LiveSandbox> get(String sandboxId) {
        return Optional.ofNullable(sandboxes.get(sandboxId));
    }

    void state(String sandboxId, Lifecycle state) {
        sandboxes.computeIfPresent(sandboxId, (id, s) -> s.withState(state));
    }

    void remove(String sandboxId) {
        sandboxes.remove(sandboxId);
    }

    List<String> ids() {
        return List.copyOf(sandboxes.keySet());
    }
}
