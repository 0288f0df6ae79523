package io.sandboxd.vmm.kvm;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The {@code vmstate} file: a {@link MachineState} in a versioned, checksummed envelope. Everything is read
 * as untrusted input: sizes are bounded, the checksum is checked before anything is decoded, and the records
 * validate their blob sizes.
 *
 * <pre>
 *   0  magic    "SBXVMST1" (8 bytes)
 *   8  version  u32 (big-endian, like every number here) = 2 (1: the same without devices, still read)
 *  12  length   u32, bytes of payload
 *  16  payload  VM state, then u32 vCPU count and each vCPU state, then u32 device count and each device as
 *               u16 name length + UTF-8 name + blob; a blob is u32 length + bytes
 *  16+length    CRC32C u32 of bytes 0 .. 16+length
 * </pre>
 */
public final class MachineStateCodec {
    public static final int VERSION = 2;
    private static final int VERSION_WITHOUT_DEVICES = 1;
    private static final int MAX_DEVICES = 256;
    private static final byte[] MAGIC = "SBXVMST1".getBytes(StandardCharsets.US_ASCII);
    private static final int HEADER = 16;
    /** Far above any real state (a vCPU is ~10 KiB) and small enough to never exhaust the heap. */
    static final int MAX_PAYLOAD = 16 << 20;
    private static final int MAX_VCPUS = 1024;

    private MachineStateCodec() {
    }

    public static byte[] encode(MachineState state) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            VmState vm = state.vm();
            for (byte[] b : new byte[][] {vm.pit(), vm.clock(), vm.picMaster(), vm.picSlave(), vm.ioapic()}) {
                blob(out, b);
            }
            out.writeInt(state.vcpus().size());
            for (VcpuState v : state.vcpus()) {
                out.writeInt(v.id());
                blob(out, v.cpuid());
                out.writeInt(v.mpState());
                for (byte[] b : new byte[][] {v.regs(), v.sregs(), v.xsave(), v.xcrs(), v.debugregs(), v.lapic()}) {
                    blob(out, b);
                }
                out.writeInt(v.msrIndices().length);
                for (int i = 0; i < v.msrIndices().length; i++) {
                    out.writeInt(v.msrIndices()[i]);
                    out.writeLong(v.msrValues()[i]);
                }
                blob(out, v.events());
            }
            out.writeInt(state.devices().size());
            for (DeviceState d : state.devices()) {
                byte[] name = d.name().getBytes(StandardCharsets.UTF_8);
                out.writeShort(name.length);
                out.write(name);
                blob(out, d.state());
            }
        } catch (IOException e) {
            throw new AssertionError("writing to memory cannot fail", e);
        }
        byte[] payload = bytes.toByteArray();
        if (payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("machine state of " + payload.length + " bytes exceeds " + MAX_PAYLOAD);
        }
        ByteBuffer file = ByteBuffer.allocate(HEADER + payload.length + 4);
        file.put(MAGIC).putInt(VERSION).putInt(payload.length).put(payload);
        file.putInt((int) crc(file.array(), HEADER + payload.length));
        return file.array();
    }

    private static void blob(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    private static long crc(byte[] data, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, 0, length);
        return crc.getValue();
    }

    public static MachineState decode(byte[] file) throws InvalidStateFileException {
        if (file.length < HEADER + 4) {
            throw new InvalidStateFileException("machine state file is truncated: " + file.length + " bytes, "
                    + "shorter than its header");
        }
        if (!Arrays.equals(file, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new InvalidStateFileException("not a sandboxd machine state file (bad magic)");
        }
        ByteBuffer in = ByteBuffer.wrap(file);
        in.position(MAGIC.length);
        int version = in.getInt();
        if (version != VERSION && version != VERSION_WITHOUT_DEVICES) {
            throw new InvalidStateFileException("machine state file version " + version + " is not supported (this "
                    + "build reads version " + VERSION + ")");
        }
        int length = in.getInt();
        if (length < 0 || length > MAX_PAYLOAD) {
            throw new InvalidStateFileException("machine state file claims a payload of " + Integer.toUnsignedString(length)
                    + " bytes, over the limit of " + MAX_PAYLOAD);
        }
        if (file.length != HEADER + length + 4) {
            throw new InvalidStateFileException("machine state file is " + file.length + " bytes, its header says "
                    + (HEADER + length + 4) + (file.length < HEADER + length + 4 ? " (truncated)" : " (trailing data)"));
        }
        int stored = ByteBuffer.wrap(file, HEADER + length, 4).getInt();
        int actual = (int) crc(file, HEADER + length);
        if (stored != actual) {
            throw new InvalidStateFileException("machine state file is corrupt: CRC32C " + Integer.toHexString(actual)
                    + ", expected " + Integer.toHexString(stored));
        }
        ByteBuffer p = ByteBuffer.wrap(file, HEADER, length).slice();
        try {
            VmState vm = new VmState(blob(p), blob(p), blob(p), blob(p), blob(p));
            int n = p.getInt();
            if (n <= 0 || n > MAX_VCPUS) {
                throw new InvalidStateFileException("machine state has " + n + " vCPUs");
            }
            List<VcpuState> vcpus = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int id = p.getInt();
                byte[] cpuid = blob(p);
                int mp = p.getInt();
                byte[] regs = blob(p);
                byte[] sregs = blob(p);
                byte[] xsave = blob(p);
                byte[] xcrs = blob(p);
                byte[] debugregs = blob(p);
                byte[] lapic = blob(p);
                int msrs = p.getInt();
                if (msrs < 0 || msrs > p.remaining() / 12) {
                    throw new InvalidStateFileException("vCPU " + id + " claims " + msrs + " MSRs");
                }
                int[] idx = new int[msrs];
                long[] val = new long[msrs];
                for (int m = 0; m < msrs; m++) {
                    idx[m] = p.getInt();
                    val[m] = p.getLong();
                }
                vcpus.add(new VcpuState(id, cpuid, mp, regs, sregs, xsave, xcrs, debugregs, lapic, idx, val, blob(p)));
            }
            List<DeviceState> devices = new ArrayList<>();
            if (version >= VERSION) {
                int d = p.getInt();
                if (d < 0 || d > MAX_DEVICES) {
                    throw new InvalidStateFileException("machine state claims " + Integer.toUnsignedString(d)
                            + " devices (at most " + MAX_DEVICES + ")");
                }
                for (int i = 0; i < d; i++) {
                    int nameLength = Short.toUnsignedInt(p.getShort());
                    if (nameLength == 0 || nameLength > DeviceState.MAX_NAME_BYTES) {
                        throw new InvalidStateFileException("device " + i + " has a name of " + nameLength + " bytes");
                    }
                    byte[] name = new byte[nameLength];
                    p.get(name);
                    devices.add(new DeviceState(new String(name, StandardCharsets.UTF_8), blob(p)));
                }
            }
            if (p.hasRemaining()) {
                throw new InvalidStateFileException("machine state has " + p.remaining() + " unread bytes");
            }
            return new MachineState(vm, vcpus, devices);
        } catch (BufferUnderflowException e) {
            throw new InvalidStateFileException("machine state payload ends in the middle of a record", e);
        } catch (IllegalArgumentException e) {
            throw new InvalidStateFileException("machine state is invalid: " + e.getMessage(), e);
        }
    }

    private static byte[] blob(ByteBuffer p) throws InvalidStateFileException {
        int n = p.getInt();
        if (n < 0 || n > p.remaining()) {
            throw new InvalidStateFileException("machine state blob of " + n + " bytes with " + p.remaining() + " left");
        }
        byte[] b = new byte[n];
        p.get(b);
        return b;
    }

    public static void write(MachineState state, Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, encode(state));
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    public static MachineState read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > HEADER + MAX_PAYLOAD + 4L) {
            throw new InvalidStateFileException(file + " is " + size + " bytes, too large for a machine state file");
        }
        try {
            return decode(Files.readAllBytes(file));
        } catch (InvalidStateFileException e) {
            throw new InvalidStateFileException(file + ": " + e.getMessage(), e);
        }
    }
}
