package io.sandboxd.daemon.host;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a host tool ({@code runc}, {@code ip}, {@code nft}, {@code mount}, {@code debootstrap}) to completion and
 * captures what it printed. Runtimes drive these tools rather than re-implementing them; this class is where the
 * exit status, the output and the timeout of every such call are handled the same way.
 */
public final class HostCommand {
    /** Long enough for a slow runc or nft under load, short enough that a wedged tool does not hang a create. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private HostCommand() {
    }

    /** The outcome of one run. */
    public record Result(List<String> argv, int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** Throws unless the command exited 0. */
        public Result orThrow() {
            if (exitCode != 0) {
                throw new CommandFailedException(this);
            }
            return this;
        }
    }

    /** Runs {@code argv}; fails unless it exits 0. Returns its standard output. */
    public static String check(List<String> argv) {
        return run(argv, null, DEFAULT_TIMEOUT).orThrow().stdout();
    }

    /** Runs {@code argv} with {@code stdin} fed to it; fails unless it exits 0. Returns its standard output. */
    public static String check(List<String> argv, String stdin) {
        return run(argv, stdin, DEFAULT_TIMEOUT).orThrow().stdout();
    }

    /** Runs {@code argv} and reports how it ended, whatever the exit code. */
    public static Result run(List<String> argv) {
        return run(argv, null, DEFAULT_TIMEOUT);
    }

    /**
     * Runs {@code argv}, feeding {@code stdin} (or nothing) and waiting at most {@code timeout}; a command that
     * outlives it is killed and reported as failed with exit code -1.
     */
    public static Result run(List<String> argv, String stdin, Duration timeout) {
        ProcessBuilder pb = new ProcessBuilder(argv);
        if (stdin == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new HostException("cannot start " + argv.getFirst() + ": " + e.getMessage()
                    + " (is it installed? see the README's list of Debian packages)", e);
        }
        // Both pipes are drained concurrently: a tool that fills stderr while we block on stdout would deadlock.
        CompletableFuture<String> err = drain(p.getErrorStream());
        CompletableFuture<String> out = drain(p.getInputStream());
        try {
            if (stdin != null) {
                try (OutputStream os = p.getOutputStream()) {
                    os.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                return new Result(List.copyOf(argv), -1, out.join(), "timed out after " + timeout + "; " + err.join());
            }
            return new Result(List.copyOf(argv), p.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            p.destroyForcibly();
            throw new UncheckedIOException("writing to " + argv.getFirst() + " failed", e);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new HostException("interrupted while waiting for " + String.join(" ", argv), e);
        }
    }

    private static CompletableFuture<String> drain(InputStream in) {
        CompletableFuture<String> f = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (in) {
                f.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                f.complete("");
            }
        });
        return f;
    }
}
