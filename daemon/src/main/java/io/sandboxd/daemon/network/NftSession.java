package io.sandboxd.daemon.network;

import io.sandboxd.daemon.host.HostException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One long-lived {@code nft -i} process that firewall changes are written to, so a sandbox's create or network
 * update costs a line on a pipe instead of a process start (an {@code nft} run is 2-5 ms of fork, exec and
 * netlink set-up here; several per create add up).
 *
 * <p>Each {@link #apply} is one input line, which nft runs as one netlink transaction: all of the line's commands
 * take effect or none do. nft prints nothing on success, so after each line a sync line follows that is a syntax
 * error on purpose; its error message echoes the line, and everything nft wrote to stderr before that echo belongs
 * to the command line. A process that died or stopped answering is replaced on the next call.
 */
public final class NftSession implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NftSession.class.getName());
    static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(10);
    private static final String EOF_MARK = "\u0000eof";

    private Process process;
    private Writer stdin;
    private BlockingQueue<String> stderr;
    private long syncs;
    private boolean closed;

    /**
     * Runs the commands as one transaction.
     *
     * @throws HostException with nft's error text when the transaction was refused (nothing of it took effect)
     */
    public synchronized void apply(List<String> commands) {
        if (closed) {
            throw new HostException("the nft session is closed");
        }
        String line = String.join("; ", commands);
        if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("an nft command cannot contain a line break: " + line);
        }
        ensureStarted();
        String mark = "sandboxdsync" + (++syncs);
        List<String> errors = new ArrayList<>();
        try {
            stdin.write(line + "\n" + mark + "\n");
            stdin.flush();
            long deadline = System.nanoTime() + ANSWER_TIMEOUT.toNanos();
            while (true) {
                String l = stderr.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (l == null || l.equals(EOF_MARK)) {
                    throw restartAfter(l == null ? "did not answer within " + ANSWER_TIMEOUT : "exited", line, errors);
                }
                if (l.equals(mark)) {
                    // the sync's "Error: syntax error ..." header came just before; its caret line comes next
                    if (!errors.isEmpty()) {
                        errors.removeLast();
                    }
                    stderr.poll(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                    break;
                }
                errors.add(l);
            }
        } catch (IOException e) {
            throw restartAfter("cannot be written to (" + e.getMessage() + ")", line, errors);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw restartAfter("was interrupted", line, errors);
        }
        if (!errors.isEmpty()) {
            throw new HostException("nft refused: " + String.join(" | ", errors).strip());
        }
    }

    public void apply(String... commands) {
        apply(List.of(commands));
    }

    /** The current nft process (tests kill it to see it replaced); -1 before the first call. */
    synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    @Override
    public synchronized void close() {
        closed = true;
        stop();
    }

    private void ensureStarted() {
        if (process != null && process.isAlive()) {
            return;
        }
        stop();
        try {
            process = new ProcessBuilder("nft", "-i").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new HostException("cannot start nft (apt-get install -y nftables): " + e.getMessage(), e);
        }
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        stderr = queue;
        Process p = process;
        Thread reader = Thread.ofPlatform().daemon().name("nft-session-stderr").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    queue.add(l);
                }
            } catch (IOException ignored) {
                // the process is gone; the EOF mark below tells the waiting caller
            }
            queue.add(EOF_MARK);
        });
        reader.setUncaughtExceptionHandler((t, e) -> LOG.log(System.Logger.Level.ERROR, "nft stderr reader failed", e));
    }

    private HostException restartAfter(String what, String line, List<String> errors) {
        stop();
        return new HostException("nft -i " + what + " while running: " + line
                + (errors.isEmpty() ? "" : " (it said: " + String.join(" | ", errors) + ")"));
    }

    private void stop() {
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        process = null;
        stdin = null;
        stderr = null;
    }
}
