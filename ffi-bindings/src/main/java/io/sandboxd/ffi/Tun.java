package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

/**
 * TUN/TAP devices ({@code <linux/if_tun.h>}, {@code struct ifreq} from {@code <net/if.h>}): the tap a VM's
 * virtio-net is backed by. Layouts and request numbers are checked against the headers by {@code TunHeadersTest}.
 *
 * <p>A device is created in the network namespace of the calling <em>thread</em> (see {@link Namespaces}): enter the
 * sandbox's netns on a platform thread, open the tap, and the fd keeps working from any thread afterwards.
 */
public final class Tun {
    public static final String DEVICE = "/dev/net/tun";
    public static final int IFNAMSIZ = 16;

    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_MULTI_QUEUE = 0x0100;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;

    /** Offloads the reader of a {@code IFF_VNET_HDR} tap can handle ({@code TUNSETOFFLOAD}). */
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int TUN_F_UFO = 0x10;

    /**
     * {@code struct ifreq}, the parts a tap uses: the name ({@code ifr_name} is the header's macro for
     * {@code ifr_ifrn.ifrn_name}) and the flags in the {@code ifr_ifru} union ({@code ifr_flags}). The rest of the
     * union (addresses, ifmap, a pointer) is padding here, aligned to 8 like the C union.
     */
    public static final StructLayout IFREQ = MemoryLayout.structLayout(
            MemoryLayout.unionLayout(
                    MemoryLayout.sequenceLayout(IFNAMSIZ, JAVA_BYTE).withName("ifrn_name")).withName("ifr_ifrn"),
            MemoryLayout.unionLayout(
                    JAVA_SHORT.withName("ifru_flags"),
                    MemoryLayout.paddingLayout(24)).withByteAlignment(8).withName("ifr_ifru")).withName("ifreq");
    private static final long IFR_NAME = IFREQ.byteOffset(
            MemoryLayout.PathElement.groupElement("ifr_ifrn"), MemoryLayout.PathElement.groupElement("ifrn_name"));
    private static final long IFR_FLAGS = IFREQ.byteOffset(
            MemoryLayout.PathElement.groupElement("ifr_ifru"), MemoryLayout.PathElement.groupElement("ifru_flags"));

    // The kernel declares these with an int/unsigned int size even where the argument is a struct ifreq pointer.
    public static final long TUNSETIFF = Ioctl.iow('T', 202, JAVA_INT.byteSize());
    public static final long TUNSETPERSIST = Ioctl.iow('T', 203, JAVA_INT.byteSize());
    public static final long TUNSETOFFLOAD = Ioctl.iow('T', 208, JAVA_INT.byteSize());
    public static final long TUNGETIFF = Ioctl.ior('T', 210, JAVA_INT.byteSize());
    public static final long TUNSETVNETHDRSZ = Ioctl.iow('T', 216, JAVA_INT.byteSize());

    private Tun() {
    }

    /**
     * A tap for a virtio-net device: {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR} (frames carry a virtio-net header,
     * no packet-info prefix), non-blocking for an epoll loop. {@code name} may hold a {@code %d} for the kernel
     * to fill in ({@code "sbx%d"}); {@link Device#name()} is the name it chose.
     */
    public static Device openTap(String name) {
        return open(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, true);
    }

    /**
     * Opens {@link #DEVICE} and attaches it to the interface {@code name} with {@code ifFlags} ({@code TUNSETIFF}),
     * creating the interface if it does not exist. The fd is closed again if that fails.
     */
    public static Device open(String name, int ifFlags, boolean nonBlocking) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("an interface name is 1.." + (IFNAMSIZ - 1) + " bytes, got "
                    + bytes.length + ": " + name);
        }
        int fd = Libc.open(DEVICE, Libc.O_RDWR | Libc.O_CLOEXEC | (nonBlocking ? Libc.O_NONBLOCK : 0));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ);
            MemorySegment.copy(bytes, 0, ifr, JAVA_BYTE, IFR_NAME, bytes.length);
            ifr.set(JAVA_SHORT, IFR_FLAGS, (short) ifFlags);
            Libc.ioctl(fd, TUNSETIFF, ifr, "TUNSETIFF");
            return new Device(fd, ifr.asSlice(IFR_NAME, IFNAMSIZ).getString(0));
        } catch (RuntimeException e) {
            try {
                Libc.close(fd);
            } catch (NativeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** An attached TUN/TAP fd and its interface name. One owner; {@link #close()} releases the fd. */
    public static final class Device implements AutoCloseable {
        private final int fd;
        private final String name;
        private boolean closed;

        private Device(int fd, String name) {
            this.fd = fd;
            this.name = name;
        }

        public int fd() {
            checkOpen();
            return fd;
        }

        /** The interface name the kernel chose (the {@code %d} filled in). */
        public String name() {
            return name;
        }

        /** The {@code IFF_*} flags the device was attached with ({@code TUNGETIFF}). */
        public int flags() {
            checkOpen();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ifr = a.allocate(IFREQ);
                Libc.ioctl(fd, TUNGETIFF, ifr, "TUNGETIFF");
                return Short.toUnsignedInt(ifr.get(JAVA_SHORT, IFR_FLAGS));
            }
        }

        /** A persistent interface outlives this fd (until made non-persistent again, or its netns goes away). */
        public void setPersistent(boolean persistent) {
            checkOpen();
            Libc.ioctl(fd, TUNSETPERSIST, persistent ? 1L : 0L, "TUNSETPERSIST");
        }

        /** The size of the virtio-net header before each frame (10, or 12 with mergeable rx buffers). */
        public void setVnetHeaderSize(int bytes) {
            checkOpen();
            try (Arena a = Arena.ofConfined()) {
                Libc.ioctl(fd, TUNSETVNETHDRSZ, a.allocateFrom(JAVA_INT, bytes), "TUNSETVNETHDRSZ");
            }
        }

        /** Which offloads ({@code TUN_F_*}) the reader of this tap handles; the kernel only sends those. */
        public void setOffload(int tunFlags) {
            checkOpen();
            Libc.ioctl(fd, TUNSETOFFLOAD, Integer.toUnsignedLong(tunFlags), "TUNSETOFFLOAD");
        }

        /** Detaches; a non-persistent interface disappears with its last fd. Closing twice is a no-op. */
        @Override
        public void close() {
            if (!closed) {
                closed = true;
                Libc.close(fd);
            }
        }

        private void checkOpen() {
            if (closed) {
                throw new IllegalStateException("tap " + name + " is closed");
            }
        }

        @Override
        public String toString() {
            return "Tun.Device[" + name + ", fd " + fd + (closed ? ", closed" : "") + "]";
        }
    }
}
