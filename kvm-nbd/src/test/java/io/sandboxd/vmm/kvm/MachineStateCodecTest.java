package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.ffi.Kvm;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The vmstate file format, without KVM: round trips, and every kind of bad file is refused with a clear error. */
class MachineStateCodecTest {
    private final Random random = new Random(42);

    private byte[] bytes(long n) {
        byte[] b = new byte[(int) n];
        random.nextBytes(b);
        return b;
    }

    private byte[] chip(int id) {
        byte[] b = bytes(Kvm.kvm_irqchip.byteSize());
        ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, id);
        return b;
    }

    private VcpuState vcpu(int id) {
        return new VcpuState(id, bytes(Kvm.cpuid2Size(3)), 3, bytes(Kvm.kvm_regs.byteSize()),
                bytes(Kvm.kvm_sregs.byteSize()), bytes(4096), bytes(Kvm.kvm_xcrs.byteSize()),
                bytes(Kvm.kvm_debugregs.byteSize()), bytes(Kvm.kvm_lapic_state.byteSize()), new int[] {0x10, 0x174},
                new long[] {random.nextLong(), random.nextLong()}, bytes(Kvm.kvm_vcpu_events.byteSize()));
    }

    private MachineState state() {
        return new MachineState(new VmState(bytes(Kvm.kvm_pit_state2.byteSize()), bytes(Kvm.kvm_clock_data.byteSize()),
                chip(0), chip(1), chip(2)), List.of(vcpu(0), vcpu(1)));
    }

    @Test
    void roundTripsEveryRecord() throws Exception {
        MachineState s = state();
        MachineState back = MachineStateCodec.decode(MachineStateCodec.encode(s));
        assertEquals(s, back);
        assertEquals(s.vm(), back.vm());
        assertEquals(s.vcpus().get(1), back.vcpus().get(1));
    }

    @Test
    void roundTripsDeviceStates() throws Exception {
        MachineState s = state().withDevices(List.of(new DeviceState("serial@0x3f8", bytes(40)),
                new DeviceState("virtio-blk@0xd0000000", bytes(300)), new DeviceState("i8042", new byte[0])));
        MachineState back = MachineStateCodec.decode(MachineStateCodec.encode(s));
        assertEquals(s.devices(), back.devices());
        assertEquals(s.device("virtio-blk@0xd0000000"), back.device("virtio-blk@0xd0000000"));
        assertTrue(back.device("nothing").isEmpty());
    }

    @Test
    void refusesDuplicateDeviceNamesAndBadDeviceCounts() {
        assertThrows(IllegalArgumentException.class, () -> state().withDevices(List.of(new DeviceState("a", new byte[1]),
                new DeviceState("a", new byte[2]))));
        byte[] file = MachineStateCodec.encode(state().withDevices(List.of(new DeviceState("a", new byte[1]))));
        // the device count sits 4 + 2 + 1 + 4 + 1 bytes before the CRC: claim a million devices, re-checksum
        int countAt = file.length - 4 - (4 + 2 + 1 + 4 + 1);
        ByteBuffer.wrap(file).putInt(countAt, 1_000_000);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(file, 0, file.length - 4);
        ByteBuffer.wrap(file).putInt(file.length - 4, (int) crc.getValue());
        InvalidStateFileException e = assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(file));
        assertTrue(e.getMessage().contains("1000000 devices"), e.getMessage());
    }

    @Test
    void readsVersionOneFilesAsMachinesWithoutDevices() throws Exception {
        MachineState s = state();
        byte[] v2 = MachineStateCodec.encode(s);
        // version 1 is version 2 without the trailing device count
        int payload = ByteBuffer.wrap(v2).getInt(12) - 4;
        ByteBuffer v1 = ByteBuffer.allocate(16 + payload + 4);
        v1.put(v2, 0, 8).putInt(1).putInt(payload).put(v2, 16, payload);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(v1.array(), 0, 16 + payload);
        v1.putInt((int) crc.getValue());
        MachineState back = MachineStateCodec.decode(v1.array());
        assertEquals(s, back);
        assertTrue(back.devices().isEmpty());
    }

    @Test
    void roundTripsThroughAFile(@TempDir Path dir) throws Exception {
        MachineState s = state();
        Path f = dir.resolve("vmstate");
        MachineStateCodec.write(s, f);
        assertEquals(s, MachineStateCodec.read(f));
    }

    @Test
    void refusesEveryTruncation() {
        byte[] file = MachineStateCodec.encode(state());
        for (int len = 0; len < file.length; len += Math.max(1, len / 7)) {
            byte[] cut = Arrays.copyOf(file, len);
            InvalidStateFileException e = assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(cut));
            assertTrue(e.getMessage().contains("truncated"), len + ": " + e.getMessage());
        }
    }

    @Test
    void refusesAFlippedBit() {
        byte[] file = MachineStateCodec.encode(state());
        for (int pos : new int[] {20, file.length / 2, file.length - 5}) {
            byte[] bad = file.clone();
            bad[pos] ^= 0x10;
            InvalidStateFileException e = assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(bad));
            assertTrue(e.getMessage().contains("CRC32C"), e.getMessage());
        }
    }

    @Test
    void refusesBadMagicVersionAndLength() {
        byte[] file = MachineStateCodec.encode(state());
        byte[] magic = file.clone();
        magic[0] = 'X';
        assertTrue(assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(magic)).getMessage()
                .contains("magic"));
        byte[] version = file.clone();
        ByteBuffer.wrap(version).putInt(8, 99);
        assertTrue(assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(version)).getMessage()
                .contains("version 99"));
        byte[] huge = file.clone();
        ByteBuffer.wrap(huge).putInt(12, Integer.MAX_VALUE);
        assertTrue(assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(huge)).getMessage()
                .contains("over the limit"));
        byte[] longer = Arrays.copyOf(file, file.length + 3);
        assertTrue(assertThrows(InvalidStateFileException.class, () -> MachineStateCodec.decode(longer)).getMessage()
                .contains("trailing"));
    }

    @Test
    void refusesAWellFormedFileWithInvalidRecords() {
        // A correct envelope (valid CRC) around a payload whose regs blob has the wrong size.
        MachineState s = state();
        byte[] file = MachineStateCodec.encode(s);
        ByteBuffer b = ByteBuffer.wrap(file);
        int payload = b.getInt(12);
        byte[] body = Arrays.copyOfRange(file, 16, 16 + payload);
        // the first blob is the PIT: claim one byte less and drop its last byte
        ByteBuffer p = ByteBuffer.wrap(body);
        int pitLen = p.getInt(0);
        byte[] shrunk = new byte[body.length - 1];
        ByteBuffer.wrap(shrunk).putInt(pitLen - 1);
        System.arraycopy(body, 4, shrunk, 4, pitLen - 1);
        System.arraycopy(body, 4 + pitLen, shrunk, 4 + pitLen - 1, body.length - 4 - pitLen);
        ByteBuffer out = ByteBuffer.allocate(16 + shrunk.length + 4);
        out.put(file, 0, 12).putInt(shrunk.length).put(shrunk);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(out.array(), 0, 16 + shrunk.length);
        out.putInt((int) crc.getValue());
        InvalidStateFileException e = assertThrows(InvalidStateFileException.class,
                () -> MachineStateCodec.decode(out.array()));
        assertTrue(e.getMessage().contains("pit must be"), e.getMessage());
    }

    @Test
    void recordsRefuseWrongSizes() {
        assertThrows(IllegalArgumentException.class, () -> new VmState(new byte[1], new byte[48], chip(0), chip(1),
                chip(2)));
        VcpuState v = vcpu(0);
        assertThrows(IllegalArgumentException.class, () -> new VcpuState(0, v.cpuid(), 0, new byte[10], v.sregs(),
                v.xsave(), v.xcrs(), v.debugregs(), v.lapic(), new int[0], new long[0], v.events()));
        assertThrows(IllegalArgumentException.class, () -> new VcpuState(0, v.cpuid(), 0, v.regs(), v.sregs(),
                v.xsave(), v.xcrs(), v.debugregs(), v.lapic(), new int[1], new long[0], v.events()));
    }
}
