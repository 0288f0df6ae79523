package io.sandboxd.block.cow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sandboxd.block.RandomImage;
import io.sandboxd.block.layer.LayeredImage;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a JVM that is writing to an overlay (SIGKILL, so nothing in memory survives: the bitmap on disk is all the
 * reopened overlay has) and checks that every write acknowledged by a flush reads back. Bytes written after the last
 * acknowledged flush may or may not be there: each byte must be its flushed value or one of the values a later
 * operation could have left.
 */
class OverlayCrashTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    @Test
    void everyFlushedWriteSurvivesSigkill() throws Exception {
        RandomImage image = RandomImage.write(dir, SIZE, 11);
        Random rounds = new Random(12);
        for (int round = 0; round < 3; round++) {
            Path ov = dir.resolve("round" + round + ".overlay");
            try (LayeredImage img = LayeredImage.raw(image.path(), 4096); Overlay o = Overlay.create(ov, img)) {
                // created empty
            }
            long seed = 100 + round;
            int killAfter = 20 + rounds.nextInt(30) * 10;
            int flushed = runAndKill(image.path(), ov, seed, killAfter, rounds.nextInt(15));
            assertTrue(flushed >= killAfter, "child flushed " + flushed);
            verify(image.path(), ov, image.bytes(), new CrashOps(seed, SIZE), flushed);
        }
    }

    /** Starts the child, waits for "FLUSHED killAfter", lets it run a little more, SIGKILLs it. */
    private int runAndKill(Path base, Path ov, long seed, int killAfter, int extraMillis) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), OverlayCrashChild.class.getName(), base.toString(),
                ov.toString(), Long.toString(seed)).redirectErrorStream(true).start();
        int last = 0;
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
                if (line.startsWith("FLUSHED ")) {
                    last = Integer.parseInt(line.substring(8));
                    if (last >= killAfter) {
                        Thread.sleep(extraMillis);
                        // SIGKILL; through the handle, so our end of its stdout pipe stays open to drain
                        p.toHandle().destroyForcibly();
                        break;
                    }
                }
            }
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                fail("child did not die");
            }
            // Lines printed before death are still in the pipe: the last one is the last acknowledged flush.
            while ((line = r.readLine()) != null) {
                lines.add(line);
                if (line.startsWith("FLUSHED ")) {
                    last = Integer.parseInt(line.substring(8));
                }
            }
        }
        if (last < killAfter) {
            fail("child ended early: " + String.join("\n", lines));
        }
        assertEquals(137, p.exitValue(), "killed by SIGKILL");
        return last;
    }

    private static void verify(Path basePath, Path ov, byte[] base, CrashOps ops, int flushed) throws Exception {
        byte[] expect = base.clone();
        for (int i = 0; i < flushed; i++) {
            apply(expect, ops.op(i));
        }
        // Operations after the last acknowledged flush: at most one flush interval ran to completion (its FLUSHED line
        // may not have been printed) plus the one in progress.
        List<CrashOps.Op> maybe = new ArrayList<>();
        for (int i = flushed; i < flushed + 2 * CrashOps.FLUSH_EVERY + 1; i++) {
            maybe.add(ops.op(i));
        }
        byte[] got;
        try (LayeredImage img = LayeredImage.raw(basePath, 4096); Overlay o = Overlay.open(ov, img)) {
            got = OverlayTest.read(o, 0, SIZE);
        }
        int mismatches = 0;
        int firstBad = -1;
        for (int at = 0; at < SIZE; at++) {
            if (got[at] == expect[at]) {
                continue;
            }
            boolean explained = false;
            for (CrashOps.Op op : maybe) {
                if (at >= op.offset() && at < op.offset() + op.length()) {
                    byte v = op.trim() ? 0 : op.data()[at - op.offset()];
                    if (v == got[at]) {
                        explained = true;
                        break;
                    }
                }
            }
            if (!explained) {
                mismatches++;
                if (firstBad < 0) {
                    firstBad = at;
                }
            }
        }
        assertEquals(0, mismatches, "bytes that no acknowledged state explains; first at " + firstBad
                + " (flushed ops: " + flushed + ")");
    }

    private static void apply(byte[] img, CrashOps.Op op) {
        if (op.trim()) {
            Arrays.fill(img, op.offset(), op.offset() + op.length(), (byte) 0);
        } else {
            System.arraycopy(op.data(), 0, img, op.offset(), op.length());
        }
    }
}
