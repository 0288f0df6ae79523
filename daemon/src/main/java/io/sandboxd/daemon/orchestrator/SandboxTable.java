package io.sandboxd.daemon.orchestrator;

import io.sandboxd.daemon.runtime.RunningSandbox;
import io.sandboxd.daemon.store.SandboxRepository;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one owner of every sandbox's state on this host: its row in the store (the truth, shared with other nodes and
 * kept across restarts) and, for the sandboxes this process runs, the runtime handle and the routing entry the proxy
 * reads. Every change goes through here, store first: a transition is a compare-and-set on the row, and only the
 * request that wins it changes the in-memory entry, so the two never disagree about who moved a sandbox.
 */
final class SandboxTable {
    private final SandboxRepository store;
    private final ConcurrentHashMap<String, LiveSandbox> live = new ConcurrentHashMap<>();

    SandboxTable(SandboxRepository store) {
        this.store = store;
    }

    /**
     * A started sandbox becomes visible: its row is written, then it is routable.
     *
     * @throws RuntimeException when the row cannot be written; the caller still owns the handle and kills it
     */
    void add(SandboxRecord row, RunningSandbox handle, String trafficToken) {
        store.insert(row);
        live.put(row.id(), new LiveSandbox(row.id(), row.teamId(), handle, trafficToken, row.autoResume(), row.state()));
    }

    /**
     * A sandbox an earlier daemon ran and this one took over becomes routable again, in {@code state} (what the
     * runtime found: RUNNING or PAUSED), its row moved there from whatever the dead daemon left. Its TTL is the row's
     * end time, untouched: the timeout scheduler reads it from the store.
     *
     * @return false if the row changed since {@code row} was read (the caller then kills the handle)
     */
    boolean adopt(SandboxRecord row, Lifecycle state, RunningSandbox handle, String trafficToken) {
        if (state != Lifecycle.RUNNING && state != Lifecycle.PAUSED) {
            throw new IllegalArgumentException("an adopted sandbox is running or paused, not " + state);
        }
        if (row.state() != state && !store.transition(row.id(), row.state(), state)) {
            return false;
        }
        live.put(row.id(), new LiveSandbox(row.id(), row.teamId(), handle, trafficToken, row.autoResume(), state));
        return true;
    }

    /** Moves the sandbox from {@code from} to {@code to} if nobody else moved it first; true if this call did. */
    boolean transition(String sandboxId, Lifecycle from, Lifecycle to) {
        if (!store.transition(sandboxId, from, to)) {
            return false;
        }
        live.computeIfPresent(sandboxId, (id, s) -> s.withState(to));
        return true;
    }

    /** Records a sandbox's new egress settings (after its runtime applied them). */
    void setEgress(String sandboxId, boolean allowInternetAccess, List<String> allowOut, List<String> denyOut) {
        store.setEgress(sandboxId, allowInternetAccess, allowOut, denyOut);
    }

    /** The sandbox is gone: no longer routable, then its row is deleted. */
    void remove(String sandboxId) {
        live.remove(sandboxId);
        store.delete(sandboxId);
    }

    Optional<LiveSandbox> live(String sandboxId) {
        return Optional.ofNullable(live.get(sandboxId));
    }

    /** The runtime handle of a sandbox this process runs, if it does. */
    Optional<RunningSandbox> handle(String sandboxId) {
        return live(sandboxId).map(LiveSandbox::handle);
    }

    /** The sandboxes this process runs by state (lower-case state names, every state present), for the metrics. */
    Map<String, Long> countsByState() {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (Lifecycle state : Lifecycle.values()) {
            counts.put(state.name().toLowerCase(), 0L);
        }
        live.values().forEach(l -> counts.merge(l.state().name().toLowerCase(), 1L, Long::sum));
        return counts;
    }

    List<String> liveIds() {
        return List.copyOf(live.keySet());
    }

    List<LiveSandbox> all() {
        return List.copyOf(live.values());
    }

    boolean isLive(String sandboxId) {
        return live.containsKey(sandboxId);
    }
}
