package io.sandboxd.api.sandbox;

import io.sandboxd.api.auth.Team;
import java.time.Duration;
import java.util.List;

/**
 * Port: sandboxes captured as templates (E2B's snapshots) and forks. A snapshot is a template: sandboxes are created
 * from its ID, {@code DELETE /templates/{id}} removes it. Refusals are {@link SandboxException}s.
 */
public interface SnapshotService {
    /**
     * @param snapshotId what a create names: the name when one was given, else the template ID, with the tag
     * @param names      the snapshot's names with their tag (empty for an unnamed one)
     * @param sandboxId  the sandbox it was taken from
     */
    record SnapshotInfo(String snapshotId, List<String> names, String sandboxId) {
        public SnapshotInfo {
            names = List.copyOf(names);
        }
    }

    /** One fork's outcome: exactly one of the two is set. */
    record ForkResult(Sandbox sandbox, SandboxException error) {}

    /**
     * Captures a running or paused sandbox as a template. With a {@code name} taken by one of the team's snapshots,
     * the capture becomes that snapshot's new build.
     *
     * @throws SandboxException NOT_FOUND for an unknown sandbox, CONFLICT when it is in a transition or the name is
     *                          another kind of template's
     */
    SnapshotInfo create(Team team, String sandboxId, String name);

    /** The team's snapshots, oldest first, optionally only those of {@code sandboxId} or named {@code name}. */
    List<SnapshotInfo> list(Team team, String sandboxId, String name);

    /**
     * Captures the sandbox once and starts {@code count} sandboxes from the capture, each with {@code timeout}; the
     * source keeps running with its ID and TTL.
     */
    List<ForkResult> fork(Team team, String sandboxId, int count, Duration timeout);
}
