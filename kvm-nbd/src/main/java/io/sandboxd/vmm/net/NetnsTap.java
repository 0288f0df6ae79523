package io.sandboxd.vmm.net;

import io.sandboxd.ffi.Libc;
import io.sandboxd.ffi.Namespaces;
import io.sandboxd.ffi.Tun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace of its own with a tap device inside, for one VM's virtio-net: the host side of the guest's
 * link lives in the namespace, so nothing the guest does reaches the host's own interfaces. Made with iproute2
 * ({@code ip netns add}, {@code ip -n}); the tap is opened from a thread that entered the namespace, so it belongs
 * there and lives exactly as long as its fd.
 */
public final class NetnsTap implements AutoCloseable {
    private static final Path NETNS_DIR = Path.of("/run/netns");
    private final String netns;
    private final String tapName;
    private Tun.Device tap;
    private boolean closed;

    private final String hostCidr;

    private NetnsTap(String netns, String tapName, String hostCidr) {
        this.netns = netns;
        this.tapName = tapName;
        this.hostCidr = hostCidr;
    }

    /**
     * Opens a new tap of the same name and address in the namespace, after the last one was taken and closed (a
     * tap lives as long as its fd): what a restored VM gets.
     */
    public synchronized void openTap() throws IOException {
        if (tap != null) {
            throw new IllegalStateException("the namespace's tap is still here; take it first");
        }
        Tun.Device t = call(() -> Tun.openTap(tapName));
        try {
            t.setVnetHeaderSize(12);
            ip("-n", netns, "addr", "add", hostCidr, "dev", t.name());
            ip("-n", netns, "link", "set", t.name(), "up");
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
        tap = t;
    }

    /**
     * Creates namespace {@code netns} (refused if it exists), a tap {@code tapName} in it with {@code hostCidr}
     * (e.g. {@code 172.16.0.1/24}), both up, and loopback up.
     */
    public static NetnsTap create(String netns, String tapName, String hostCidr) throws IOException {
        if (!netns.matches("[A-Za-z0-9_.-]{1,32}")) {
            throw new IllegalArgumentException("not a network namespace name: " + netns);
        }
        ip("netns", "add", netns);
        NetnsTap n = new NetnsTap(netns, tapName, hostCidr);
        try {
            n.openTap();
            ip("-n", netns, "link", "set", "lo", "up");
            return n;
        } catch (IOException | RuntimeException e) {
            try {
                n.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    public String netns() {
        return netns;
    }

    public String tapName() {
        return tapName;
    }

    /** Hands the tap to its user (a virtio-net device), which then owns and closes it. */
    public synchronized Tun.Device takeTap() {
        if (tap == null) {
            throw new IllegalStateException("the tap was already taken");
        }
        Tun.Device t = tap;
        tap = null;
        return t;
    }

    /**
     * Runs {@code task} on a new platform thread inside the namespace (sockets it opens stay in the namespace) and
     * returns its result.
     */
    public <T> T call(Callable<T> task) throws IOException {
        FutureTask<T> f = new FutureTask<>(() -> {
            int fd = Libc.open(NETNS_DIR.resolve(netns).toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
            try {
                Namespaces.setns(fd, Namespaces.CLONE_NEWNET);
            } finally {
                Libc.close(fd);
            }
            return task.call(); // the thread ends here: nothing else ever runs in its namespace
        });
        Thread t = Thread.ofPlatform().name("netns-" + netns).daemon(true).start(f);
        try {
            return f.get(5, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            t.interrupt();
            throw new IOException("interrupted while running a task in " + netns, e);
        } catch (java.util.concurrent.TimeoutException e) {
            t.interrupt();
            throw new IOException("a task in network namespace " + netns + " did not finish in 5 minutes", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        }
    }

    /** Closes the tap (if not taken) and deletes the namespace. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (tap != null) {
            tap.close();
            tap = null;
        }
        if (Files.exists(NETNS_DIR.resolve(netns))) {
            try {
                ip("netns", "del", netns);
            } catch (IOException e) {
                throw new IllegalStateException("could not delete network namespace " + netns + ": " + e.getMessage(), e);
            }
        }
    }

    private static final java.io.File DEV_NULL = new java.io.File("/dev/null");

    static void ip(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("ip");
        cmd.addAll(List.of(args));
        Process p;
        try {
            // no stdin pipe, and the output pipe closed here: left to the JDK they close some time after the exit
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(DEV_NULL))
                    .start();
        } catch (IOException e) {
            throw new IOException("cannot run ip (apt-get install iproute2): " + e.getMessage(), e);
        }
        String out;
        try (var output = p.getInputStream()) {
            out = new String(output.readAllBytes(), StandardCharsets.UTF_8).strip();
        }
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish in 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", cmd), e);
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out);
        }
    }
}
