package io.sandboxd.api.volume;

import io.sandboxd.api.auth.Team;
import java.util.List;

/**
 * Port: the team volumes behind {@code /volumes} and the volume file API behind {@code /volumecontent}. Calls come
 * from a worker thread and may block. Another team's volume is treated as absent. Refusals are
 * {@link io.sandboxd.api.sandbox.SandboxException}s whose reason decides the HTTP status.
 */
public interface VolumeService {
    /** A new empty volume; INVALID for a bad name, CONFLICT when the team has a volume of that name. */
    VolumeInfo create(Team team, String name);

    /** The team's volumes, oldest first, without tokens. */
    List<VolumeInfo> list(Team team);

    /** With its token; NOT_FOUND when the team has no such volume. */
    VolumeInfo get(Team team, String volumeId);

    /** Deletes the volume and its data; NOT_FOUND when absent, CONFLICT while a sandbox has it mounted. */
    void destroy(Team team, String volumeId);

    /** The files of the volume {@code token} opens, or empty when the token is not that volume's. */
    java.util.Optional<VolumeFiles> files(String volumeId, String token);
}
