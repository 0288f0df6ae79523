package io.sandboxd.envd.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class UploadBodyTest {
    @Test
    void pausesAboveTheHighWaterMarkAndResumesBelowTheLowOne() throws IOException {
        AtomicInteger changes = new AtomicInteger();
        UploadBody body = new UploadBody(changes::incrementAndGet);
        List<ByteBuf> offered = new ArrayList<>();
        int chunk = 64 << 10;
        while (!body.paused()) {
            ByteBuf b = Unpooled.buffer(chunk).writeZero(chunk);
            offered.add(b);
            body.offer(b);
        }
        assertEquals(1, changes.get());
        assertEquals(UploadBody.HIGH_WATER / chunk + 1, offered.size());
        int taken = 0;
        while (body.paused()) {
            body.take().release();
            taken++;
        }
        assertEquals(2, changes.get(), "told once to pause, once to resume");
        assertTrue((offered.size() - taken) * (long) chunk < UploadBody.LOW_WATER);
        body.end();
        ByteBuf b;
        while ((b = body.take()) != null) {
            b.release();
        }
        assertNull(body.take());
        assertTrue(offered.stream().allMatch(x -> x.refCnt() == 0), "every chunk released");
    }

    @Test
    void readCopiesAcrossChunksAndAbortFreesWhatIsQueued() throws IOException {
        UploadBody body = new UploadBody(() -> { });
        body.offer(Unpooled.wrappedBuffer(new byte[] {1, 2}));
        body.offer(Unpooled.wrappedBuffer(new byte[] {3}));
        byte[] buf = new byte[8];
        assertEquals(3, body.read(buf, 0, 8), "what is queued is read in one call");
        ByteBuf queued = Unpooled.wrappedBuffer(new byte[] {4});
        body.offer(queued);
        body.abort("gone");
        assertEquals(0, queued.refCnt());
        assertEquals("gone", assertThrows(IOException.class, () -> body.read(buf, 0, 8)).getMessage());
        ByteBuf late = Unpooled.wrappedBuffer(new byte[] {5});
        body.offer(late);
        assertEquals(0, late.refCnt(), "chunks after an abort are dropped");
        assertFalse(body.paused());
    }
}
