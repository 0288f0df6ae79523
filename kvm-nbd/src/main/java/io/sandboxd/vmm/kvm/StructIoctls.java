package io.sandboxd.vmm.kvm;

import io.sandboxd.ffi.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * The KVM get/set ioctls that copy one struct between a VM or vCPU fd and a byte[] (the form saved state keeps):
 * the struct lives in a scratch buffer only for the call, 8-byte aligned, which covers every KVM struct.
 */
final class StructIoctls {
    private StructIoctls() {
    }

    /** A get ioctl filling a {@code size}-byte struct. */
    static byte[] get(int fd, long request, String name, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(size, 8);
            Libc.ioctl(fd, request, buf, name);
            return buf.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** A set ioctl taking a {@code layout} struct; {@code blob} must be exactly its size. */
    static void set(int fd, long request, String name, StructLayout layout, byte[] blob) {
        if (blob.length != layout.byteSize()) {
            throw new IllegalArgumentException(name + ": " + layout.name().orElse("struct") + " is " + layout.byteSize()
                    + " bytes, got " + blob.length);
        }
        setVariable(fd, request, name, blob);
    }

    /** A set ioctl whose argument is a caller-built buffer (variable-length structs, XSAVE2). */
    static void setVariable(int fd, long request, String name, byte[] blob) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(blob.length, 8);
            MemorySegment.copy(blob, 0, buf, ValueLayout.JAVA_BYTE, 0, blob.length);
            Libc.ioctl(fd, request, buf, name);
        }
    }
}
