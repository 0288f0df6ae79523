package io.sandboxd.block.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.sandboxd.block.cow.Overlay;
import io.sandboxd.block.layer.LayeredImage;
import io.sandboxd.ffi.Netlink;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelNbdAttachTest {
    @TempDir
    Path dir;

    /** Runs everywhere: the generic netlink controller answers family lookups; a missing family is null. */
    @Test
    void genericNetlinkFamilyLookupWorks() throws Exception {
        assertEquals(Netlink.GENL_ID_CTRL, KernelNbdAttach.resolveFamily("nlctrl"));
        assertNull(KernelNbdAttach.resolveFamily("nosuchfamily")); // names are at most 15 bytes
    }

    /** Needs the nbd module (/dev/nbd0) and root: attach, write through the block device, read back via NBD. */
    @Test
    void attachesAnExportToAKernelNbdDevice() throws Exception {
        String why = KernelNbdAttach.unavailableReason();
        if (why != null) {
            System.out.println("SKIPPED KernelNbdAttachTest: " + why);
        }
        Assumptions.assumeTrue(why == null, why);
        byte[] baseBytes = new byte[16 << 20];
        new Random(1).nextBytes(baseBytes);
        Files.write(dir.resolve("base.img"), baseBytes);
        try (LayeredImage base = LayeredImage.raw(dir.resolve("base.img"), 4096);
                Overlay ov = Overlay.create(dir.resolve("ov"), base);
                NbdServer server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0),
                        List.of(new Export("disk", "", ov)), NbdLimits.DEFAULT);
                KernelNbdAttach dev = KernelNbdAttach.attach(server.port(), "disk", -1, 2)) {
            byte[] page = new byte[4096];
            new Random(2).nextBytes(page);
            try (RandomAccessFile f = new RandomAccessFile(dev.device().toFile(), "rw")) {
                byte[] first = new byte[4096];
                f.readFully(first);
                assertArrayEquals(java.util.Arrays.copyOf(baseBytes, 4096), first);
                f.seek(8192);
                f.write(page);
                f.getFD().sync();
            }
            try (TestClient c = new TestClient(server.port(), "disk")) {
                assertArrayEquals(page, c.read(8192, 4096));
            }
        }
    }
}
