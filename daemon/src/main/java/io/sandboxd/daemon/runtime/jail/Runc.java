package io.sandboxd.daemon.runtime.jail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.daemon.host.CommandFailedException;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The {@code runc} command line, with a private state root so that every container listed there is ours.
 * Detached processes ({@code run -d}, {@code exec -d}) get a log file as stdout/stderr: a pipe would stay open
 * for as long as the container runs and block whoever reads it.
 */
final class Runc {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    /** What {@code runc state} says about a container. */
    enum Status { CREATED, RUNNING, PAUSED, STOPPED }

    private final Path root;

    Runc(Path root) {
        this.root = root;
    }

    Path root() {
        return root;
    }

    /** Starts the bundle's container detached; its output (and runc's errors) go to {@code log}. */
    void runDetached(String id, Path bundle, Path log) {
        List<String> argv = List.of("runc", "--root", root.toString(), "run", "--detach", "--bundle", bundle.toString(),
                "--pid-file", bundle.resolve("init.pid").toString(), id); // see Jail#initPidFile
        runWithLog(argv, log, "starting jail " + id);
    }

    /** Runs {@code args} inside the container and waits for it, capturing its output. */
    HostCommand.Result exec(String id, List<String> args, Duration timeout) {
        List<String> argv = new ArrayList<>(List.of("runc", "--root", root.toString(), "exec", id));
        argv.addAll(args);
        return HostCommand.run(argv, null, timeout);
    }

    /** Starts {@code args} inside the container in the background; its output goes to {@code log}. */
    void execDetached(String id, List<String> args, Path log) {
        List<String> argv = new ArrayList<>(List.of("runc", "--root", root.toString(), "exec", "--detach", id));
        argv.addAll(args);
        runWithLog(argv, log, "starting a process in jail " + id);
    }

    void pause(String id) {
        HostCommand.check(List.of("runc", "--root", root.toString(), "pause", id));
    }

    void resume(String id) {
        HostCommand.check(List.of("runc", "--root", root.toString(), "resume", id));
    }

    /** Kills everything in the container and removes runc's record of it; a container runc does not know is fine. */
    void deleteForce(String id) {
        HostCommand.Result r = HostCommand.run(List.of("runc", "--root", root.toString(), "delete", "--force", id));
        if (!r.ok() && state(id).isPresent()) {
            throw new CommandFailedException(r);
        }
    }

    /** Changes the container's cgroup limits while it runs. */
    void update(String id, long memoryBytes, long cpuQuota, long cpuPeriod, long cpuShares) {
        HostCommand.check(List.of("runc", "--root", root.toString(), "update", "--memory", String.valueOf(memoryBytes),
                "--cpu-quota", String.valueOf(cpuQuota), "--cpu-period", String.valueOf(cpuPeriod),
                "--cpu-share", String.valueOf(cpuShares), id));
    }

    /** The container's status, or empty when runc has no container by that ID. */
    Optional<Status> state(String id) {
        HostCommand.Result r = HostCommand.run(List.of("runc", "--root", root.toString(), "state", id));
        if (!r.ok()) {
            if (r.stderr().contains("does not exist")) {
                return Optional.empty();
            }
            throw new CommandFailedException(r);
        }
        try {
            String s = JSON.readTree(r.stdout()).path("status").asText();
            return Optional.of(Status.valueOf(s.toUpperCase(java.util.Locale.ROOT)));
        } catch (IOException | IllegalArgumentException e) {
            throw new SandboxRuntimeException("runc state printed something this code cannot read: " + r.stdout(), e);
        }
    }

    /** IDs of the containers under this root. */
    List<String> list() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        String out = HostCommand.check(List.of("runc", "--root", root.toString(), "list", "--format", "json"));
        List<String> ids = new ArrayList<>();
        try {
            JsonNode n = JSON.readTree(out.isBlank() ? "[]" : out);
            for (JsonNode c : n) {
                ids.add(c.path("id").asText());
            }
        } catch (IOException e) {
            throw new SandboxRuntimeException("runc list printed something this code cannot read: " + out, e);
        }
        return ids;
    }

    /** One {@code runc events --stats} sample: the {@code data} object. */
    JsonNode stats(String id) {
        String out = HostCommand.check(List.of("runc", "--root", root.toString(), "events", "--stats", id));
        try {
            return JSON.readTree(out).path("data");
        } catch (IOException e) {
            throw new SandboxRuntimeException("runc events printed something this code cannot read: " + out, e);
        }
    }

    private static void runWithLog(List<String> argv, Path log, String what) {
        Process p;
        try {
            p = new ProcessBuilder(argv)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new SandboxRuntimeException("cannot start runc: " + e.getMessage() + " (apt-get install -y runc)", e);
        }
        try {
            if (!p.waitFor(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new SandboxRuntimeException(what + ": runc did not return within " + START_TIMEOUT);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new SandboxRuntimeException(what + ": interrupted", e);
        }
        if (p.exitValue() != 0) {
            throw new SandboxRuntimeException(what + " failed: runc exited with " + p.exitValue() + ": " + tail(log));
        }
    }

    /** The last lines of a jail's log, for error messages. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n  ", lines.subList(Math.max(0, lines.size() - 10), lines.size())).strip();
        } catch (IOException e) {
            return "(no output: " + log + " cannot be read: " + e.getMessage() + ")";
        }
    }
}
