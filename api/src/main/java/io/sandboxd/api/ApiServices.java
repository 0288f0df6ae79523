package io.sandboxd.api;

import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.metrics.ApiMetrics;
import io.sandboxd.api.sandbox.SandboxService;
import io.sandboxd.api.sandbox.SnapshotService;
import io.sandboxd.api.secret.SecretService;
import io.sandboxd.api.team.TeamKeys;
import io.sandboxd.api.template.TemplateService;
import io.sandboxd.api.volume.VolumeService;

/**
 * What the API serves from: the sandbox service and the credential check always; metrics ({@link ApiMetrics#NONE}:
 * not counted, no {@code /metrics}); each optional area (null: its
 * routes answer 501 as an area sandboxd does not serve) as the daemon provides it.
 */
public record ApiServices(SandboxService sandboxes, ApiKeyStore keys, VolumeService volumes, TeamKeys teamKeys,
                          ApiMetrics metrics, SecretService secrets, TemplateService templates,
                          SnapshotService snapshots) {

    public static ApiServices of(SandboxService sandboxes, ApiKeyStore keys) {
        return new ApiServices(sandboxes, keys, null, null, ApiMetrics.NONE, null, null, null);
    }

    public ApiServices withVolumes(VolumeService volumes) {
        return new ApiServices(sandboxes, keys, volumes, teamKeys, metrics, secrets, templates, snapshots);
    }

    public ApiServices withTeamKeys(TeamKeys teamKeys) {
        return new ApiServices(sandboxes, keys, volumes, teamKeys, metrics, secrets, templates, snapshots);
    }

    /** Requests are counted into {@code metrics}, which {@code GET /metrics} serves (unless {@link ApiMetrics#NONE}). */
    public ApiServices withMetrics(ApiMetrics metrics) {
        return new ApiServices(sandboxes, keys, volumes, teamKeys, metrics, secrets, templates, snapshots);
    }

    public ApiServices withSecrets(SecretService secrets) {
        return new ApiServices(sandboxes, keys, volumes, teamKeys, metrics, secrets, templates, snapshots);
    }

    public ApiServices withTemplates(TemplateService templates) {
        return new ApiServices(sandboxes, keys, volumes, teamKeys, metrics, secrets, templates, snapshots);
    }

    public ApiServices withSnapshots(SnapshotService snapshots) {
        return new ApiServices(sandboxes, keys, volumes, teamKeys, metrics, secrets, templates, snapshots);
    }
}
