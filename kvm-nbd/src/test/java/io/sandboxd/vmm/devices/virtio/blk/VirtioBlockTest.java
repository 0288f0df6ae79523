package io.sandboxd.vmm.devices.virtio.blk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.devices.InvalidDeviceStateException;
import io.sandboxd.vmm.devices.virtio.FakeDriver;
import io.sandboxd.vmm.devices.virtio.VirtioConstants;
import io.sandboxd.vmm.devices.virtio.VirtioMmioTransport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** virtio-blk driven by a fake guest driver over the MMIO registers and rings in test memory. */
class VirtioBlockTest {
    static final long ALL = ~0L;
    static final long BASE = 0xd000_0000L;
    final FakeDriver driver = new FakeDriver();
    MemoryDisk disk;

    VirtioMmioTransport start(boolean readOnly) throws Exception {
        disk = new MemoryDisk(1 << 20, readOnly);
        driver.device = new VirtioMmioTransport(BASE, new VirtioBlock(disk, "sbx-disk-1"), driver.guestRam,
                driver.interrupts::incrementAndGet);
        driver.device.activate();
        return driver.device;
    }

    @AfterEach
    void close() {
        driver.close();
    }

    /** Puts a request header {type, 0, sector} at a fresh address; returns it. */
    long header(int type, long sector) {
        long h = driver.alloc(16);
        driver.ram.set(ValueLayout.JAVA_INT_UNALIGNED, h, type);
        driver.ram.set(ValueLayout.JAVA_LONG_UNALIGNED, h + 8, sector);
        return h;
    }

    int status(long at) {
        return driver.ram.get(ValueLayout.JAVA_BYTE, at);
    }

    /** One request: header, data (readable or writable), status; returns the status byte. */
    int request(int type, long sector, long data, int length, boolean dataWritable) throws Exception {
        long h = header(type, sector);
        long s = driver.alloc(1);
        driver.ram.set(ValueLayout.JAVA_BYTE, s, (byte) 0x7f);
        long[][] bufs = length == 0 ? new long[][] {{h, 16, 0}, {s, 1, 1}}
                : new long[][] {{h, 16, 0}, {data, length, dataWritable ? 1 : 0}, {s, 1, 1}};
        driver.submit(driver.chain(bufs));
        driver.awaitUsed();
        return status(s);
    }

    byte[] random(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writesReadsFlushesAndIdentifiesItself() throws Exception {
        start(false);
        assertTrue((driver.bringUp(ALL, 1) & VirtioConstants.STATUS_DRIVER_OK) != 0);
        assertEquals(VirtioBlock.DEVICE_ID, driver.reg(0x008));
        byte[] data = random(8192, 1);
        long w = driver.alloc(data.length);
        MemorySegment.copy(data, 0, driver.ram, ValueLayout.JAVA_BYTE, w, data.length);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_OUT, 16, w, data.length, false));
        assertArrayEquals(data, disk.bytes(16 * 512, data.length));
        long r = driver.alloc(data.length);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 16, r, data.length, true));
        assertArrayEquals(data, driver.ram.asSlice(r, data.length).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_FLUSH, 0, 0, 0, false));
        assertEquals(1, disk.flushes);
        long id = driver.alloc(20);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_GET_ID, 0, id, 20, true));
        assertEquals("sbx-disk-1", new String(driver.ram.asSlice(id, 10).toArray(ValueLayout.JAVA_BYTE)));
        assertEquals(VirtioBlock.S_UNSUPP, request(99, 0, 0, 0, false));
        assertTrue(driver.interrupts.get() > 0);
        // capacity in the config space
        MemorySegment cap = MemorySegment.ofArray(new byte[8]);
        driver.device.read(0x100, cap);
        assertEquals((1 << 20) / 512, cap.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
    }

    @Test
    void refusesFeaturesOkWithoutVersion1() throws Exception {
        start(false);
        int status = driver.bringUp(ALL & ~VirtioConstants.F_VERSION_1, 1);
        assertEquals(0, status & VirtioConstants.STATUS_FEATURES_OK);
    }

    @Test
    void outOfRangeMisalignedAndReadOnlyRequestsFailWithoutTouchingTheDisk() throws Exception {
        start(true);
        driver.bringUp(ALL, 1);
        long buf = driver.alloc(4096);
        driver.ram.asSlice(buf, 4096).fill((byte) 1);
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_OUT, 0, buf, 4096, false), "read-only disk");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_IN, 2047, buf, 1024, true), "past the end");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_IN, 0, buf, 100, true), "not a sector multiple");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_IN, Long.MAX_VALUE / 4, buf, 512, true), "overflow");
        assertArrayEquals(new byte[4096], disk.bytes(0, 4096));
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 2046, buf, 1024, true), "the last sectors");
    }

    @Test
    void aRequestSplitAtEveryByteBoundaryIsTheSameRequest() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        byte[] data = random(1024, 2);
        // OUT: the readable stream header(16)+data(1024) cut into two descriptors at every position
        for (int cut = 1; cut < 16 + 1024; cut += (cut < 40 ? 1 : 97)) {
            long stream = driver.alloc(16 + 1024);
            driver.ram.set(ValueLayout.JAVA_INT_UNALIGNED, stream, VirtioBlock.T_OUT);
            driver.ram.set(ValueLayout.JAVA_LONG_UNALIGNED, stream + 8, 8);
            byte[] d = Arrays.copyOf(data, data.length);
            d[0] = (byte) cut;
            MemorySegment.copy(d, 0, driver.ram, ValueLayout.JAVA_BYTE, stream + 16, d.length);
            long s = driver.alloc(1);
            driver.submit(driver.chain(new long[][] {{stream, cut, 0}, {stream + cut, 16 + 1024 - cut, 0}, {s, 1, 1}}));
            driver.awaitUsed();
            assertEquals(VirtioBlock.S_OK, status(s), "cut at " + cut);
            assertArrayEquals(d, disk.bytes(8 * 512, 1024), "cut at " + cut);
            // IN: the writable stream data(1024)+status(1) cut at every position
            long in = driver.alloc(1025);
            long h = header(VirtioBlock.T_IN, 8);
            int wcut = Math.min(cut, 1024);
            driver.submit(driver.chain(new long[][] {{h, 16, 0}, {in, wcut, 1}, {in + wcut, 1025 - wcut, 1}}));
            long[] used = driver.awaitUsed();
            assertEquals(1025, used[1]);
            assertEquals(VirtioBlock.S_OK, status(in + 1024));
            assertArrayEquals(d, driver.ram.asSlice(in, 1024).toArray(ValueLayout.JAVA_BYTE), "read cut at " + wcut);
        }
    }

    @Test
    void servesIndirectDescriptorTables() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        byte[] data = random(2048, 3);
        long w = driver.alloc(2048);
        MemorySegment.copy(data, 0, driver.ram, ValueLayout.JAVA_BYTE, w, data.length);
        long h = header(VirtioBlock.T_OUT, 2);
        long s = driver.alloc(1);
        long table = driver.alloc(3 * 16);
        writeDesc(table, 0, h, 16, VirtioConstants.DESC_F_NEXT, 1);
        writeDesc(table, 1, w, 2048, VirtioConstants.DESC_F_NEXT, 2);
        writeDesc(table, 2, s, 1, VirtioConstants.DESC_F_WRITE, 0);
        driver.desc(0, table, 48, VirtioConstants.DESC_F_INDIRECT, 0);
        driver.submit(0);
        driver.awaitUsed();
        assertEquals(VirtioBlock.S_OK, status(s));
        assertArrayEquals(data, disk.bytes(1024, 2048));
    }

    void writeDesc(long table, int i, long addr, int len, int flags, int next) {
        long at = table + 16L * i;
        driver.ram.set(ValueLayout.JAVA_LONG_UNALIGNED, at, addr);
        driver.ram.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, len);
        driver.ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12, (short) flags);
        driver.ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14, (short) next);
    }

    @Test
    void malformedChainsFailTheirRequestAndTheDeviceGoesOn() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        // a second, healthy device meanwhile
        FakeDriver other = new FakeDriver();
        MemoryDisk otherDisk = new MemoryDisk(1 << 20, false);
        other.device = new VirtioMmioTransport(BASE + 0x1000, new VirtioBlock(otherDisk, "other"), other.guestRam,
                () -> { });
        other.device.activate();
        other.bringUp(ALL, 1);
        try {
            long buf = driver.alloc(512);
            long s = driver.alloc(1);
            long h = header(VirtioBlock.T_IN, 0);
            // 1. a loop: 0 -> 1 -> 0 ...; the status byte is the writable descriptor 1
            driver.desc(0, h, 16, VirtioConstants.DESC_F_NEXT, 1);
            driver.desc(1, s, 1, VirtioConstants.DESC_F_WRITE | VirtioConstants.DESC_F_NEXT, 0);
            assertFailed(0, s);
            // 2. an address outside guest RAM
            driver.desc(0, h, 16, VirtioConstants.DESC_F_NEXT, 1);
            driver.desc(1, s, 1, VirtioConstants.DESC_F_WRITE | VirtioConstants.DESC_F_NEXT, 2);
            driver.desc(2, FakeDriver.RAM - 8, 512, VirtioConstants.DESC_F_WRITE, 0);
            assertFailed(0, s);
            // 3. a readable descriptor after a writable one
            driver.desc(0, h, 16, VirtioConstants.DESC_F_NEXT, 1);
            driver.desc(1, s, 1, VirtioConstants.DESC_F_WRITE | VirtioConstants.DESC_F_NEXT, 2);
            driver.desc(2, buf, 512, 0, 0);
            assertFailed(0, s);
            // 4. an oversized chain (past the 16 MiB cap, inside a 4 MiB RAM it cannot even be): refused
            driver.desc(0, h, 16, VirtioConstants.DESC_F_NEXT, 1);
            driver.desc(1, s, 1, VirtioConstants.DESC_F_WRITE | VirtioConstants.DESC_F_NEXT, 2);
            driver.desc(2, 0, 0xffff_0000, VirtioConstants.DESC_F_WRITE, 0);
            assertFailed(0, s);
            // 5. next index past the table
            driver.desc(0, h, 16, VirtioConstants.DESC_F_NEXT, 1);
            driver.desc(1, s, 1, VirtioConstants.DESC_F_WRITE | VirtioConstants.DESC_F_NEXT, 999);
            assertFailed(0, s);
            // 6. an indirect table inside an indirect table
            long t1 = driver.alloc(16);
            long t2 = driver.alloc(16);
            writeDesc(t2, 0, h, 16, 0, 0);
            writeDesc(t1, 0, t2, 16, VirtioConstants.DESC_F_INDIRECT, 0);
            driver.desc(0, t1, 16, VirtioConstants.DESC_F_INDIRECT, 0);
            driver.submit(0);
            assertEquals(0, driver.awaitUsed()[1], "nothing written for a chain without a known status byte");
            // 7. no status byte at all
            driver.desc(0, h, 16, 0, 0);
            driver.submit(0);
            assertEquals(0, driver.awaitUsed()[1]);
            // after all that, a good request works and the other device never noticed
            assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 0, buf, 512, true));
            long[] c = ((VirtioBlock) driver.device.backend()).counters();
            assertEquals(7, c[1], "seven failed requests counted");
            long os = other.alloc(1);
            long oh = other.alloc(16);
            other.ram.set(ValueLayout.JAVA_INT_UNALIGNED, oh, VirtioBlock.T_FLUSH);
            other.submit(other.chain(new long[][] {{oh, 16, 0}, {os, 1, 1}}));
            other.awaitUsed();
            assertEquals(VirtioBlock.S_OK, other.ram.get(ValueLayout.JAVA_BYTE, os));
        } finally {
            other.close();
        }
    }

    private void assertFailed(int head, long statusAt) throws Exception {
        driver.ram.set(ValueLayout.JAVA_BYTE, statusAt, (byte) 0x7f);
        driver.submit(head);
        driver.awaitUsed();
        assertEquals(VirtioBlock.S_IOERR, status(statusAt));
    }

    @Test
    void aCorruptRingNeedsAResetAndTheDeviceWorksAfterIt() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        driver.rawAvailIdx(1000); // 1000 chains ahead of a 16-entry ring
        driver.awaitNeedsReset();
        assertTrue(driver.device.lastError().contains("ran 1000 ahead"), driver.device.lastError());
        assertTrue((driver.reg(0x060) & VirtioConstants.INTERRUPT_CONFIG_CHANGE) != 0);
        assertTrue((driver.bringUp(ALL, 1) & VirtioConstants.STATUS_DRIVER_OK) != 0, "reset then set up again");
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_FLUSH, 0, 0, 0, false));
        // rings outside RAM: refused at DRIVER_OK
        driver.reg(0x070, 0);
        driver.reg(0x070, 3);
        driver.reg(0x020, 0);
        driver.reg(0x024, 1);
        driver.reg(0x020, 1);
        driver.reg(0x070, 11);
        driver.reg(0x030, 0);
        driver.reg(0x038, 16);
        driver.reg(0x080, (int) (FakeDriver.RAM - 16));
        driver.reg(0x044, 1);
        driver.reg(0x070, 15);
        driver.awaitNeedsReset();
    }

    @Test
    void eventIdxSuppressesInterruptsTheDriverDidNotAskFor() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        // used_event = 5: interrupt only when the used index passes 5
        driver.ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, FakeDriver.AVAIL + 4 + 2L * driver.queueSize, (short) 5);
        int before = driver.interrupts.get();
        for (int i = 0; i < 5; i++) {
            request(VirtioBlock.T_FLUSH, 0, 0, 0, false);
        }
        assertEquals(before, driver.interrupts.get(), "no interrupt for used 1..5");
        request(VirtioBlock.T_FLUSH, 0, 0, 0, false);
        assertEquals(before + 1, driver.interrupts.get(), "the 6th crosses used_event");
        // avail_event tells the driver where to notify next
        assertEquals(6, driver.ram.get(ValueLayout.JAVA_SHORT_UNALIGNED, FakeDriver.USED + 4 + 8L * driver.queueSize));
    }

    @Test
    void stateSavedMidStreamRestoresIntoAFreshDevice() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        byte[] data = random(512, 4);
        long w = driver.alloc(512);
        MemorySegment.copy(data, 0, driver.ram, ValueLayout.JAVA_BYTE, w, 512);
        request(VirtioBlock.T_OUT, 3, w, 512, false);
        request(VirtioBlock.T_FLUSH, 0, 0, 0, false);
        driver.device.pause();
        byte[] state = driver.device.saveState();
        VirtioMmioTransport old = driver.device;
        // the fresh device: same disk, same guest memory; the old one goes away without closing the disk
        VirtioMmioTransport fresh = new VirtioMmioTransport(BASE, new VirtioBlock(disk, "sbx-disk-1"), driver.guestRam,
                driver.interrupts::incrementAndGet);
        fresh.restoreState(state);
        assertArrayEquals(state, fresh.saveState());
        driver.device = fresh;
        fresh.activate();
        long r = driver.alloc(512);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 3, r, 512, true), "serves on from where it was");
        assertArrayEquals(data, driver.ram.asSlice(r, 512).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(3, driver.usedIdx());
        closeWithoutDisk(old);
    }

    private static void closeWithoutDisk(VirtioMmioTransport t) {
        try {
            var worker = VirtioMmioTransport.class.getDeclaredField("worker");
            worker.setAccessible(true);
            ((AutoCloseable) worker.get(t)).close();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void indicesWrapAroundSixteenBits() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        driver.device.pause();
        byte[] state = driver.device.saveState();
        // queue 0's last_avail and next_used sit after size (4), ready (1) and three addresses (24) of its record
        java.nio.ByteBuffer.wrap(state).putShort(45 + 4 + 1 + 24, (short) 65534).putShort(45 + 4 + 1 + 24 + 2,
                (short) 65534);
        VirtioMmioTransport old = driver.device;
        VirtioMmioTransport moved = new VirtioMmioTransport(BASE, new VirtioBlock(disk, "sbx-disk-1"), driver.guestRam,
                driver.interrupts::incrementAndGet);
        moved.restoreState(state);
        driver.startAt(65534);
        driver.device = moved;
        moved.activate();
        for (int i = 0; i < 5; i++) {
            assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_FLUSH, 0, 0, 0, false), "request " + i);
        }
        assertEquals(3, driver.usedIdx(), "65534 + 5 wraps to 3");
        closeWithoutDisk(old);
    }

    @Test
    void refusesCorruptStates() throws Exception {
        start(false);
        driver.bringUp(ALL, 1);
        driver.device.pause();
        byte[] good = driver.device.saveState();
        VirtioMmioTransport fresh = new VirtioMmioTransport(BASE, new VirtioBlock(new MemoryDisk(4096, false), "x"),
                driver.guestRam, () -> { });
        try {
            for (int len = 0; len < good.length; len += 3) {
                byte[] cut = Arrays.copyOf(good, len);
                assertThrows(InvalidDeviceStateException.class, () -> fresh.restoreState(cut), "length " + len);
            }
            byte[] wrongDevice = good.clone();
            java.nio.ByteBuffer.wrap(wrongDevice).putInt(4, 1);
            assertThrows(InvalidDeviceStateException.class, () -> fresh.restoreState(wrongDevice));
            // queue 0's descriptor table moved outside guest RAM
            byte[] outside = good.clone();
            java.nio.ByteBuffer.wrap(outside).putLong(41 + 4 + 1 + 4, FakeDriver.RAM + 4096);
            InvalidDeviceStateException e = assertThrows(InvalidDeviceStateException.class,
                    () -> fresh.restoreState(outside));
            assertTrue(e.getMessage().contains("not inside guest RAM"), e.getMessage());
            byte[] badSize = good.clone();
            java.nio.ByteBuffer.wrap(badSize).putInt(41 + 4, 3);
            assertThrows(InvalidDeviceStateException.class, () -> fresh.restoreState(badSize));
        } finally {
            fresh.close();
        }
    }

    @Test
    void closeLeavesNoFdsAndNoThreads() throws Exception {
        long fdsBefore = fds();
        for (int i = 0; i < 20; i++) {
            start(false);
            driver.bringUp(ALL, 1);
            request(VirtioBlock.T_FLUSH, 0, 0, 0, false);
            driver.device.close();
            driver.device = null;
        }
        assertEquals(fdsBefore, fds());
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("virtio-blk@")));
    }

    static long fds() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
