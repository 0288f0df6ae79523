package io.sandboxd.vmm.boot;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Kernel files made byte by byte, so every header field (and every way to get one wrong) is in the test's hands. */
final class TestKernels {
    record Segment(int type, long paddr, byte[] data, long memsz) {
    }

    private TestKernels() {
    }

    /** An ELF64 x86-64 executable with {@code segments} laid out after the headers. */
    static byte[] elf(long entry, List<Segment> segments) {
        return elf(entry, segments, (byte) 2, 62);
    }

    static byte[] elf(long entry, List<Segment> segments, byte elfClass, int machine) {
        int phoff = 64;
        int dataStart = phoff + 56 * segments.size();
        ByteBuffer b = ByteBuffer.allocate(dataStart + segments.stream().mapToInt(s -> s.data().length).sum())
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', elfClass, 1, 1, 0});
        b.position(16);
        b.putShort((short) 2).putShort((short) machine).putInt(1).putLong(entry).putLong(phoff).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) segments.size())
                .putShort((short) 64).putShort((short) 0).putShort((short) 0);
        long offset = dataStart;
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            b.position(phoff + 56 * i);
            b.putInt(s.type()).putInt(7).putLong(offset).putLong(0xffff_ffff_8000_0000L + s.paddr()).putLong(s.paddr())
                    .putLong(s.data().length).putLong(s.memsz()).putLong(4096);
            b.position((int) offset);
            b.put(s.data());
            offset += s.data().length;
        }
        return b.array();
    }

    static byte[] pattern(int length, int seed) {
        byte[] d = new byte[length];
        for (int i = 0; i < length; i++) {
            d[i] = (byte) (i * 31 + seed);
        }
        return d;
    }

    /** A bzImage: {@code setupSects} setup sectors with the header, then {@code payload} as the protected-mode part. */
    static byte[] bzImage(int setupSects, int version, int xloadflags, long prefAddress, int initSize, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer setup = ByteBuffer.allocate((setupSects + 1) * 512).order(ByteOrder.LITTLE_ENDIAN);
        setup.put(0x1f1, (byte) setupSects);
        setup.putShort(0x1fe, (short) 0xaa55);
        setup.put(0x201, (byte) 0x6a); // header ends at 0x202 + 0x6a = 0x26c
        setup.putInt(0x202, 0x5372_6448);
        setup.putShort(0x206, (short) version);
        setup.putInt(0x22c, 0x7fff_ffff);
        setup.putShort(0x236, (short) xloadflags);
        setup.putInt(0x238, 2047);
        setup.putLong(0x258, prefAddress);
        setup.putInt(0x260, initSize);
        out.writeBytes(setup.array());
        out.writeBytes(payload);
        byte[] file = out.toByteArray();
        return file.length >= 0x1000 ? file : java.util.Arrays.copyOf(file, 0x1000);
    }

    static List<Segment> segments(Segment... s) {
        return new ArrayList<>(List.of(s));
    }
}
