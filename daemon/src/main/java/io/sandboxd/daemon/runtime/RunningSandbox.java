package io.sandboxd.daemon.runtime;

import io.sandboxd.daemon.network.EgressPolicy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

/**
 * A sandbox a runtime started, as the orchestrator holds it: the handle is the runtime's only record of which
 * sandbox runs where, so the orchestrator's table is the one place a sandbox's state lives. The lifecycle (which
 * calls are legal when) is the orchestrator's; a handle serialises its own calls and refuses everything but
 * {@link #kill()} once killed.
 */
public interface RunningSandbox {
    /** The orchestrator's ID, from the spec. */
    String sandboxId();

    /** The runtime's own name for it (the runc container ID of a jail), for logs and reconciliation. */
    String runtimeId();

    /** Where envd listens: the sandbox's network slot address, port {@code EnvdLaunch.PORT}. */
    InetSocketAddress envdAddress();

    /** When the runtime handed it out. */
    Instant startedAt();

    /** Stops the sandbox's processes where they are; memory and files stay. */
    void pause();

    /** Lets a paused sandbox run again. */
    void resume();

    /**
     * Captures the sandbox's files (what it changed over its template) into {@code layer}, a directory that must not
     * exist yet, holding the sandbox still while copying so the copy is consistent; a running sandbox runs again
     * afterwards, a paused one stays paused.
     *
     * @throws UnsupportedRuntimeOperationException where the runtime cannot capture the sandbox
     */
    SandboxSnapshot snapshot(Path layer);

    /**
     * Replaces where the sandbox may connect to, at once and as a whole (E2B's {@code PUT /sandboxes/{id}/network});
     * connections already open stay open, as with any stateful firewall. Works while paused too.
     */
    void updateEgress(EgressPolicy policy);

    /** Current usage, for the metrics endpoints. */
    SandboxStats stats();

    /** What the sandbox's agent printed, for the logs endpoints; empty where the runtime keeps no such file. */
    Optional<Path> logFile();

    /**
     * Ends the sandbox and removes everything the runtime made for it (processes, files, mounts, network). A second
     * call does nothing.
     */
    void kill();
}
