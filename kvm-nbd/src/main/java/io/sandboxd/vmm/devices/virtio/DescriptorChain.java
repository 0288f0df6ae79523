package io.sandboxd.vmm.devices.virtio;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One request as the driver laid it out: the chain's device-readable buffers, then its device-writable ones, each a
 * slice of guest RAM checked when the chain was walked. The buffers are treated as two byte streams (a request's
 * header may be split across descriptors at any byte), read and written in place.
 *
 * <p>A chain the walk refused has an {@link #error()}; its buffers are those resolved before the fault, so a device
 * can still put an error status into the last writable byte it knows of.
 */
public final class DescriptorChain {
    private final int head;
    private final List<MemorySegment> readable;
    private final List<MemorySegment> writable;
    private final long readableLength;
    private final long writableLength;
    private final String error;

    DescriptorChain(int head, List<MemorySegment> readable, List<MemorySegment> writable, String error) {
        this.head = head;
        this.readable = List.copyOf(readable);
        this.writable = List.copyOf(writable);
        this.readableLength = readable.stream().mapToLong(MemorySegment::byteSize).sum();
        this.writableLength = writable.stream().mapToLong(MemorySegment::byteSize).sum();
        this.error = error;
    }

    /** The head descriptor's index: what goes back in the used ring. */
    public int head() {
        return head;
    }

    /** Why the walk refused this chain, or null for a well-formed one. */
    public String error() {
        return error;
    }

    public List<MemorySegment> readable() {
        return readable;
    }

    public List<MemorySegment> writable() {
        return writable;
    }

    public long readableLength() {
        return readableLength;
    }

    public long writableLength() {
        return writableLength;
    }

    /** Copies readable bytes {@code [offset, offset + dst.byteSize())} into {@code dst}. */
    public void read(long offset, MemorySegment dst) {
        copy(readable, offset, dst, true);
    }

    /** Copies {@code src} into the writable bytes at {@code offset}. */
    public void write(long offset, MemorySegment src) {
        copy(writable, offset, src, false);
    }

    /** The slices of the readable (or writable) stream covering {@code [offset, offset + length)}, in order. */
    public List<MemorySegment> slices(boolean ofWritable, long offset, long length) {
        List<MemorySegment> from = ofWritable ? writable : readable;
        long total = ofWritable ? writableLength : readableLength;
        check(offset, length, total);
        java.util.ArrayList<MemorySegment> out = new java.util.ArrayList<>();
        long skip = offset;
        long left = length;
        for (MemorySegment s : from) {
            if (left == 0) {
                break;
            }
            if (skip >= s.byteSize()) {
                skip -= s.byteSize();
                continue;
            }
            long n = Math.min(s.byteSize() - skip, left);
            out.add(s.asSlice(skip, n));
            left -= n;
            skip = 0;
        }
        return out;
    }

    private static void copy(List<MemorySegment> parts, long offset, MemorySegment buffer, boolean intoBuffer) {
        long total = parts.stream().mapToLong(MemorySegment::byteSize).sum();
        check(offset, buffer.byteSize(), total);
        long skip = offset;
        long done = 0;
        for (MemorySegment s : parts) {
            if (done == buffer.byteSize()) {
                return;
            }
            if (skip >= s.byteSize()) {
                skip -= s.byteSize();
                continue;
            }
            long n = Math.min(s.byteSize() - skip, buffer.byteSize() - done);
            if (intoBuffer) {
                MemorySegment.copy(s, skip, buffer, done, n);
            } else {
                MemorySegment.copy(buffer, done, s, skip, n);
            }
            done += n;
            skip = 0;
        }
    }

    private static void check(long offset, long length, long total) {
        if (offset < 0 || length < 0 || offset > total || length > total - offset) {
            throw new IndexOutOfBoundsException("bytes [" + offset + ", +" + length + ") of a " + total + "-byte buffer");
        }
    }
}
