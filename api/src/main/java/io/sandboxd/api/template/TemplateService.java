package io.sandboxd.api.template;

import io.sandboxd.api.auth.Team;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;

/**
 * Port: template builds as the E2B API serves them (spec 1.6). Failures are {@code SandboxException}s with the
 * reason's status (404 unknown, 409 in use or name taken, 400 bad value).
 */
public interface TemplateService {

    record Created(String templateId, String buildId, List<String> names, List<String> tags, boolean isPublic) {}

    /** A template and its newest build, as list/get show them. */
    record Info(String templateId, String buildId, List<String> names, boolean isPublic, int cpuCount, int memoryMB,
                String buildStatus, Instant createdAt, Instant updatedAt, long spawnCount) {}

    record LogLine(Instant timestamp, String level, String message, String step) {}

    record Status(String templateId, String buildId, String status, List<LogLine> logs, String reasonMessage,
                  String reasonStep) {}

    /** @param name {@code name} or {@code name:tag} */
    Created create(Team team, String name, List<String> tags, Integer cpuCount, Integer memoryMB);

    /** Whether the files of {@code hash} are stored for the team; when not, the token to upload them with. */
    record FilesLink(boolean present, String uploadToken) {}

    FilesLink filesLink(Team team, String templateId, String hash);

    /** Stores an upload; the token comes from {@link #filesLink}. */
    void upload(String templateId, String hash, String token, InputStream tar);

    void startBuild(Team team, String templateId, String buildId, BuildRequest request);

    /** @param logsOffset how many log entries the caller has seen */
    Status status(Team team, String templateId, String buildId, int logsOffset);

    /** The template a name or alias points to: 404 when absent, 403 when it is another team's private one. */
    Info byAlias(Team team, String alias);

    List<Info> list(Team team);

    Info get(Team team, String templateIdOrName);

    /** 409 while sandboxes of it exist. */
    void delete(Team team, String templateIdOrName);

    /** A tag and the build it names. */
    record TagInfo(String tag, String buildId, Instant createdAt) {}

    /** @param buildId the build {@code target} named, which the tags now name too */
    record Assigned(String buildId, List<String> tags) {}

    /**
     * Points {@code tags} at the build {@code target} ({@code name:tag}, or {@code name} for its default) names.
     *
     * @throws io.sandboxd.api.sandbox.SandboxException NOT_FOUND for an unknown template or tag, INVALID for a bad tag
     */
    Assigned assignTags(Team team, String target, List<String> tags);

    /** Removes tags from the team's template {@code name}; {@code default} cannot be removed (INVALID). */
    void removeTags(Team team, String name, List<String> tags);

    /** The template's tags, {@code default} (its newest ready build) first. */
    List<TagInfo> tags(Team team, String templateIdOrName);
}
