package io.sandboxd.api.sandbox;

import io.sandboxd.api.auth.Team;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Port: everything the REST API asks of the sandbox orchestrator. Calls come from a worker thread and may block.
 * Every method acts for {@code team} and treats another team's sandbox as absent. Refusals are
 * {@link SandboxException}s whose reason decides the HTTP status.
 */
public interface SandboxService {
    Sandbox create(Team team, CreateSandbox request);

    SandboxPage list(Team team, SandboxQuery query);

    /** Running or paused. */
    SandboxDetail get(Team team, String sandboxId);

    /** Kills a running or paused sandbox; NOT_FOUND when there is none (the SDK then returns false). */
    void kill(Team team, String sandboxId);

    /** Sets the TTL to {@code timeout} from now (it may shorten it); NOT_FOUND for a paused sandbox. */
    void setTimeout(Team team, String sandboxId, Duration timeout);

    /** Extends the TTL by {@code duration}, or by the sandbox's default when null. */
    void refresh(Team team, String sandboxId, Duration duration);

    /**
     * Connects: a running sandbox's TTL is only ever extended to {@code timeout} from now; a paused one is resumed
     * ({@code memory=false}: rebooted cold from its filesystem) with that TTL.
     */
    Connected connect(Team team, String sandboxId, Duration timeout, boolean memory);

    /** The deprecated resume: CONFLICT if it is running. */
    Sandbox resume(Team team, String sandboxId, Duration timeout, boolean autoPause);

    /** CONFLICT when already paused or in a transition. */
    void pause(Team team, String sandboxId, boolean memory);

    /** Samples between {@code start} and {@code end} (both optional). */
    List<SandboxMetric> metrics(Team team, String sandboxId, Instant start, Instant end);

    List<LogEntry> logs(Team team, String sandboxId, LogQuery query);

    /**
     * Replaces a running or paused sandbox's egress configuration as a whole.
     *
     * @throws SandboxException NOT_FOUND for an unknown sandbox, INVALID for entries that are not addresses, CIDRs
     *                          or (allowOut only) domains
     */
    void updateNetwork(Team team, String sandboxId, NetworkUpdate update);
}
