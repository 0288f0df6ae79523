package io.sandboxd.vmm.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.devices.virtio.FakeDriver;
import io.sandboxd.vmm.devices.virtio.VirtioMmioTransport;
import io.sandboxd.vmm.net.NetnsTap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * virtio-net against a real tap in a network namespace the test makes: the fake driver sends an ARP request for the
 * host side's address and the kernel's ARP reply must come back into a receive buffer.
 */
class VirtioNetTest {
    static final byte[] GUEST_MAC = {0x02, 0x53, 0x42, 0x58, 0x00, 0x02};

    static void assumeRoot() {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root for a network namespace");
    }

    /** An ARP request "who has 172.16.0.1? tell 172.16.0.2" from the guest's MAC, after a zero virtio-net header. */
    static byte[] arpRequest() {
        ByteBuffer b = ByteBuffer.allocate(12 + 42);
        b.position(12);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(GUEST_MAC).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(GUEST_MAC).put(new byte[] {(byte) 172, 16, 0, 2});
        b.put(new byte[6]).put(new byte[] {(byte) 172, 16, 0, 1});
        return b.array();
    }

    @Test
    void anArpRequestSentByTheGuestGetsTheHostsReply() throws Exception {
        assumeRoot();
        arpExchange(); // the first run also opens what the JVM keeps (process spawning, lazily loaded classes)
        long fdsBefore = fds();
        arpExchange();
        long fdsAfter = fds();
        // other fds of the JVM may close meanwhile (pipes of finished processes are cleaned up lazily); none may stay
        assertTrue(fdsAfter <= fdsBefore, "no fd left: " + fdsBefore + " -> " + fdsAfter);
    }

    private void arpExchange() throws Exception {
        String ns = "sbxvnet" + ProcessHandle.current().pid();
        FakeDriver driver = new FakeDriver();
        try (NetnsTap net = NetnsTap.create(ns, "tap0", "172.16.0.1/24")) {
            VirtioNet backend = new VirtioNet(net.takeTap(), GUEST_MAC);
            driver.device = new VirtioMmioTransport(0xd000_1000L, backend, driver.guestRam,
                    driver.interrupts::incrementAndGet);
            driver.device.activate();
            driver.bringUp(~0L, 2);
            MemorySegment mac = MemorySegment.ofArray(new byte[6]);
            driver.device.read(0x100, mac);
            assertArrayEquals(GUEST_MAC, mac.toArray(ValueLayout.JAVA_BYTE), "MAC in the config space");

            // post receive buffers first, as Linux does
            long[] rx = new long[4];
            for (int i = 0; i < rx.length; i++) {
                rx[i] = driver.alloc(1526);
                driver.submit(0, driver.chain(0, new long[][] {{rx[i], 1526, 1}}));
            }
            byte[] request = arpRequest();
            long tx = driver.alloc(request.length);
            MemorySegment.copy(request, 0, driver.ram, ValueLayout.JAVA_BYTE, tx, request.length);
            driver.submit(1, driver.chain(1, new long[][] {{tx, 12, 0}, {tx + 12, request.length - 12, 0}}));
            driver.awaitUsed(1);

            long[] used;
            byte[] frame;
            do { // the kernel may also send IPv6 router solicitations and the like: find the ARP reply
                used = driver.awaitUsed(0);
                frame = driver.ram.asSlice(rx[(int) used[0]], used[1]).toArray(ValueLayout.JAVA_BYTE);
            } while (!(frame.length >= 12 + 42 && frame[12 + 12] == 0x08 && frame[12 + 13] == 0x06));
            ByteBuffer f = ByteBuffer.wrap(frame);
            assertEquals(1, Short.reverseBytes(f.getShort(10)), "num_buffers (little endian)");
            assertArrayEquals(GUEST_MAC, java.util.Arrays.copyOfRange(frame, 12, 18), "to the guest");
            assertEquals(2, f.getShort(12 + 14 + 6), "an ARP reply");
            assertArrayEquals(new byte[] {(byte) 172, 16, 0, 1}, java.util.Arrays.copyOfRange(frame, 12 + 28, 12 + 32));
            long[] c = backend.counters();
            assertTrue(c[0] >= 1 && c[1] == 1, java.util.Arrays.toString(c));
            assertTrue(driver.interrupts.get() > 0);
            driver.device.close();
            driver.device = null;
        } finally {
            driver.close();
        }
        assertFalse(Files.exists(Path.of("/run/netns", ns)), "the namespace is gone");
    }

    @Test
    void malformedOrOversizedTransmitsAreDroppedAndCounted() throws Exception {
        assumeRoot();
        String ns = "sbxvnetb" + ProcessHandle.current().pid();
        FakeDriver driver = new FakeDriver();
        try (NetnsTap net = NetnsTap.create(ns, "tap0", "172.16.0.1/24")) {
            VirtioNet backend = new VirtioNet(net.takeTap(), GUEST_MAC);
            driver.device = new VirtioMmioTransport(0xd000_1000L, backend, driver.guestRam, () -> { });
            driver.device.activate();
            driver.bringUp(~0L, 2);
            long tx = driver.alloc(8);
            driver.submit(1, driver.chain(1, new long[][] {{tx, 8, 0}})); // shorter than the header
            driver.awaitUsed(1);
            driver.submit(1, driver.chain(1, new long[][] {{FakeDriver.RAM - 4, 64, 0}})); // outside RAM
            driver.awaitUsed(1);
            assertEquals(2, backend.counters()[2]);
            assertEquals(0, driver.device.status() & 64, "a bad frame is not a broken ring");
        } finally {
            driver.close();
        }
    }

    static long fds() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
