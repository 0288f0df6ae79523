package io.sandboxd.ffi;

/**
 * The asm-generic {@code _IO/_IOR/_IOW/_IOWR} encoding used by x86-64 Linux. Request numbers are derived from the
 * struct size here and pinned against {@code <linux/*.h>} by the header test; never typed in by hand.
 */
public final class Ioctl {
    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = NRSHIFT + NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;

    private static final long NONE = 0;
    private static final long WRITE = 1;
    private static final long READ = 2;

    private Ioctl() {
    }

    public static long io(int type, int nr) {
        return encode(NONE, type, nr, 0);
    }

    public static long ior(int type, int nr, long size) {
        return encode(READ, type, nr, size);
    }

    public static long iow(int type, int nr, long size) {
        return encode(WRITE, type, nr, size);
    }

    public static long iowr(int type, int nr, long size) {
        return encode(READ | WRITE, type, nr, size);
    }

    private static long encode(long dir, int type, int nr, long size) {
        if (size < 0 || size >= (1L << SIZEBITS)) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit in 14 bits");
        }
        return (dir << DIRSHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT) | (size << SIZESHIFT);
    }
}
