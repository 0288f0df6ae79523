package io.sandboxd.daemon.cli;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.block.nbd.Export;
import io.sandboxd.block.nbd.NbdLimits;
import io.sandboxd.block.nbd.NbdServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sandboxd nbd ...}: block-layer admin commands. */
@Command(name = "nbd", mixinStandardHelpOptions = true,
        description = "Block images over NBD.",
        subcommands = NbdCommand.Serve.class)
final class NbdCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * {@code sandboxd nbd serve --image PATH [--overlay PATH] [--port P]}: serves an image read-only, or read-write
     * through a copy-on-write overlay (created when missing, reopened when present), until interrupted.
     */
    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = {"Serve a block image over NBD (fixed newstyle; nbdinfo, nbdcopy, qemu-img and the kernel",
                    "client can use it). Without --overlay the export is read-only; with it, writes go to the overlay",
                    "and the image is never modified. Stop with Ctrl-C (the overlay is flushed)."})
    static final class Serve implements Callable<Integer> {
        static final int EXIT_BAD_INPUT = 1;

        @Spec
        CommandSpec spec;

        @Option(names = "--image", required = true, paramLabel = "PATH",
                description = "Raw image file or layered image header (e.g. rootfs.img or rootfs.header).")
        Path image;

        @Option(names = "--overlay", paramLabel = "PATH",
                description = "Copy-on-write overlay file (PATH and PATH.map); created if missing.")
        Path overlay;

        @Option(names = "--port", defaultValue = "10809", paramLabel = "P",
                description = "TCP port (default ${DEFAULT-VALUE}; 0 picks a free one).")
        int port;

        @Option(names = "--bind", defaultValue = "127.0.0.1", paramLabel = "ADDR",
                description = "Address to listen on (default ${DEFAULT-VALUE}).")
        String bind;

        @Option(names = "--name", paramLabel = "NAME",
                description = "Export name (default: the image file name). It is also the default export.")
        String name;

        private final CountDownLatch stop = new CountDownLatch(1);
        private final CountDownLatch cleanedUp = new CountDownLatch(1);
        private volatile NbdServer server;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            if (!Files.isRegularFile(image)) {
                err.println("nbd serve: image " + image + " does not exist or is not a regular file");
                return EXIT_BAD_INPUT;
            }
            if (port < 0 || port > 65535) {
                err.println("nbd serve: --port " + port + " is not a TCP port");
                return EXIT_BAD_INPUT;
            }
            try (LayeredImage base = LayeredImage.openAny(image, Overlay.BLOCK_SIZE);
                    BlockDevice device = overlay == null ? null : openOverlay(base, err)) {
                BlockDevice served = device == null ? base : device;
                String exportName = name != null ? name : image.getFileName().toString();
                String description = device == null ? "read-only image " + image
                        : "overlay " + overlay + " over " + image;
                try (NbdServer s = NbdServer.start(new InetSocketAddress(InetAddress.getByName(bind), port),
                        List.of(new Export(exportName, description, served)), NbdLimits.DEFAULT)) {
                    server = s;
                    // On Ctrl-C/SIGTERM the JVM halts once hooks return: the hook waits for the overlay's final flush.
                    Thread hook = new Thread(() -> {
                        stop.countDown();
                        try {
                            cleanedUp.await(30, java.util.concurrent.TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }, "nbd-serve-shutdown");
                    Runtime.getRuntime().addShutdownHook(hook);
                    out.printf("nbd: serving '%s' (%d bytes, %s) on nbd://%s:%d/%s%n", exportName, served.size(),
                            served.readOnly() ? "read-only" : "read-write", bind, s.port(), exportName);
                    out.flush();
                    stop.await();
                    try {
                        Runtime.getRuntime().removeShutdownHook(hook);
                    } catch (IllegalStateException shuttingDown) {
                        // the hook is what woke us
                    }
                }
                out.println("nbd: stopped");
                out.flush();
                return 0;
            } catch (IOException | IllegalArgumentException e) {
                err.println("nbd serve: " + e.getMessage());
                return EXIT_BAD_INPUT;
            } finally {
                cleanedUp.countDown();
            }
        }

        private BlockDevice openOverlay(LayeredImage base, PrintWriter err) throws IOException {
            if (Files.exists(overlay)) {
                return Overlay.open(overlay, base);
            }
            return Overlay.create(overlay, base);
        }

        /** The port being served, once started (for tests), else -1. */
        int servingPort() {
            NbdServer s = server;
            return s == null ? -1 : s.port();
        }

        /** Stops a running {@code serve} as Ctrl-C would. */
        void shutdown() {
            stop.countDown();
        }
    }
}
