package io.sandboxd.daemon.runtime.jail;

import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.runtime.SandboxRuntimeException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A template's start and ready commands ({@code setStartCmd}/{@code setReadyCmd}): the start command is started in
 * the jail (detached, through a login shell, as the template's user, in its working directory) and the jail counts
 * as started once the ready command exits 0. The jail runtime cannot snapshot processes, so this runs when a jail
 * of the template is started for the warm pool: a create then claims a jail whose server already runs, as a
 * sandbox restored from E2B's build-time snapshot has it.
 */
final class StartCommand {
    static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration READY_INTERVAL = Duration.ofMillis(100);
    private static final Duration MIN_TRY = Duration.ofSeconds(1);

    private StartCommand() {
    }

    /** Template metadata keys the layered builder writes. */
    static final String START = "startCmd";
    static final String READY = "readyCmd";
    static final String USER = "user";
    static final String WORKDIR = "workdir";

    static boolean has(Map<String, Object> details) {
        return text(details, START) != null || text(details, READY) != null;
    }

    /** Where the commands run: a sandbox's {@code runc exec}, waited for or detached. */
    interface Target {
        HostCommand.Result exec(List<String> command, Duration timeout);

        void execDetached(List<String> command);
    }

    /** In a started jail, before it is pooled or handed out (see {@code JailFactory}). */
    static void run(Runc runc, Jail jail, String templateId, Map<String, Object> details, Duration timeout) {
        run(new Target() {
            @Override
            public HostCommand.Result exec(List<String> command, Duration t) {
                return runc.exec(jail.id(), command, t);
            }

            @Override
            public void execDetached(List<String> command) {
                runc.execDetached(jail.id(), command, jail.log());
            }
        }, templateId, details, timeout);
    }

    /**
     * Each try of the ready command may take the rest of {@code timeout}: {@code waitForTimeout(20_000)} (what the
     * SDK's Dockerfile parser makes of a CMD) is {@code sleep 20}, which a fixed per-try limit shorter than that
     * would kill on every try, so the create could never succeed.
     */
    static void run(Target jail, String templateId, Map<String, Object> details, Duration timeout) {
        String user = text(details, USER) == null ? "root" : text(details, USER);
        String workdir = text(details, WORKDIR) == null ? "/" : text(details, WORKDIR);
        String start = text(details, START);
        if (start != null) {
            jail.execDetached(shell(user, workdir, start));
        }
        String ready = text(details, READY);
        if (ready == null) {
            return;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        HostCommand.Result last = null;
        while (System.nanoTime() < deadline) {
            long left = Math.max(deadline - System.nanoTime(), MIN_TRY.toNanos());
            last = jail.exec(shell(user, workdir, ready), Duration.ofNanos(left));
            if (last.ok()) {
                return;
            }
            try {
                Thread.sleep(READY_INTERVAL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        String out = last == null ? "" : (last.stdout() + last.stderr()).strip();
        throw new SandboxRuntimeException("template '" + templateId + "': the ready command '" + ready
                + "' did not succeed within " + timeout.toSeconds() + " s of the start command"
                + (out.isEmpty() ? "" : "; its last output: " + (out.length() > 500 ? out.substring(0, 500) : out)));
    }

    static List<String> shell(String user, String workdir, String command) {
        String script = "cd " + quote(workdir) + " 2>/dev/null; " + command;
        return user.equals("root") ? List.of("/bin/bash", "-l", "-c", script)
                : List.of("runuser", "-u", user, "--", "/bin/bash", "-l", "-c", script);
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static String text(Map<String, Object> details, String key) {
        Object v = details == null ? null : details.get(key);
        return v instanceof String s && !s.isBlank() ? s : null;
    }
}
