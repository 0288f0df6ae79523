package io.sandboxd.block.cow;

import io.sandboxd.block.layer.LayeredImage;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Runs in a child JVM for {@link OverlayCrashTest}: applies {@link CrashOps} to an overlay forever, flushing every
 * {@link CrashOps#FLUSH_EVERY} operations and printing "FLUSHED n" only after the flush returned. The parent
 * kills it with SIGKILL at a random moment.
 */
public final class OverlayCrashChild {
    private OverlayCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        Path base = Path.of(args[0]);
        Path overlay = Path.of(args[1]);
        long seed = Long.parseLong(args[2]);
        LayeredImage img = LayeredImage.raw(base, 4096);
        Overlay o = Overlay.open(overlay, img);
        CrashOps ops = new CrashOps(seed, (int) img.size());
        System.out.println("READY");
        System.out.flush();
        for (int i = 0; ; i++) {
            CrashOps.Op op = ops.op(i);
            if (op.trim()) {
                o.trim(op.offset(), op.length());
            } else {
                o.write(op.offset(), ByteBuffer.wrap(op.data()));
            }
            if ((i + 1) % CrashOps.FLUSH_EVERY == 0) {
                o.flush();
                System.out.println("FLUSHED " + (i + 1));
                System.out.flush();
            }
        }
    }
}
