package io.sandboxd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.block.nbd.ClientHandshake;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sandboxd nbd serve} through picocli's real CommandLine, with captured output. */
class NbdCommandTest {
    @TempDir
    Path dir;

    record Run(CommandLine cl, StringWriter out, StringWriter err) {
        NbdCommand.Serve serve() {
            return cl.getSubcommands().get("nbd").getSubcommands().get("serve").getCommand();
        }
    }

    static Run commandLine() {
        CommandLine cl = SandboxdCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Run(cl, out, err);
    }

    @Test
    void missingImageIsAUsageError() {
        Run r = commandLine();
        assertEquals(2, r.cl().execute("nbd", "serve"));
        assertTrue(r.err().toString().contains("--image"), r.err().toString());
    }

    @Test
    void aNonexistentImageFailsWithAClearMessage() {
        Run r = commandLine();
        assertEquals(1, r.cl().execute("nbd", "serve", "--image", dir.resolve("nope.img").toString()));
        assertTrue(r.err().toString().contains("does not exist"), r.err().toString());
    }

    @Test
    void servesAnImageReadOnlyAndThroughAnOverlay() throws Exception {
        Path img = dir.resolve("rootfs.img");
        Files.write(img, new byte[1 << 20]);
        for (boolean withOverlay : new boolean[] {false, true}) {
            Run r = commandLine();
            Path ov = dir.resolve("sandbox.overlay");
            String[] args = withOverlay
                    ? new String[] {"nbd", "serve", "--image", img.toString(), "--overlay", ov.toString(), "--port", "0"}
                    : new String[] {"nbd", "serve", "--image", img.toString(), "--port", "0"};
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> r.cl().execute(args));
            NbdCommand.Serve serve = r.serve();
            for (int i = 0; i < 500 && serve.servingPort() <= 0 && !exit.isDone(); i++) {
                Thread.sleep(10);
            }
            assertFalse(exit.isDone(), () -> "serve exited early: " + r.err());
            try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", serve.servingPort()))) {
                ClientHandshake.Negotiated n = ClientHandshake.go(ClientHandshake.of(ch), "rootfs.img");
                assertEquals(1 << 20, n.size());
                assertEquals(!withOverlay, n.readOnly());
            }
            serve.shutdown();
            assertEquals(0, exit.get(10, TimeUnit.SECONDS));
            assertTrue(r.out().toString().contains("nbd: serving 'rootfs.img' (1048576 bytes, "
                    + (withOverlay ? "read-write" : "read-only") + ")"), r.out().toString());
            assertEquals(withOverlay, Files.exists(ov) && Files.exists(dir.resolve("sandbox.overlay.map")));
        }
    }
}
