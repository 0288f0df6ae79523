package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.ADDRESS_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * epoll ({@code <sys/epoll.h>}): one fd that waits on many, for the loops that serve uffd, NBD and envd fds on
 * platform threads. Checked against the headers by {@code EpollHeadersTest}.
 *
 * <p>{@code struct epoll_event} is packed on x86-64 (12 bytes, its 64-bit {@code data} at offset 4), so the layout
 * uses unaligned members; arrays of it have a 12-byte stride.
 */
public final class Epoll {
    public static final int EPOLL_CLOEXEC = Libc.O_CLOEXEC;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;

    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int EPOLLEXCLUSIVE = 1 << 28;
    public static final int EPOLLONESHOT = 1 << 30;
    /** {@code 1u << 31}: negative as a Java int, the same 32 bits as the C unsigned value. */
    public static final int EPOLLET = 1 << 31;

    /** {@code union epoll_data { void *ptr; int fd; uint32_t u32; uint64_t u64; }}. */
    public static final MemoryLayout EPOLL_DATA = MemoryLayout.unionLayout(
            ADDRESS_UNALIGNED.withName("ptr"),
            JAVA_INT_UNALIGNED.withName("fd"),
            JAVA_INT_UNALIGNED.withName("u32"),
            JAVA_LONG_UNALIGNED.withName("u64")).withName("epoll_data");

    /** {@code struct epoll_event { uint32_t events; epoll_data_t data; } __attribute__((packed))}. */
    public static final StructLayout EPOLL_EVENT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("events"),
            EPOLL_DATA.withName("data")).withName("epoll_event");
    private static final long EVENTS = EPOLL_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("events"));
    private static final long DATA = EPOLL_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("data"));

    private static final MethodHandle EPOLL_CREATE1 = Native.downcallErrno("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = Native.downcallErrno("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = Native.downcallErrno("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));

    private Epoll() {
    }

    /** A new epoll fd, owned by the caller. */
    public static int create(int flags) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int fd = (int) EPOLL_CREATE1.invokeExact(err, flags);
            if (fd < 0) {
                throw new NativeException("epoll_create1", Native.errno(err));
            }
            return fd;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code epoll_ctl(epfd, op, fd, {events, data.u64 = data})}; the event is ignored for EPOLL_CTL_DEL. */
    public static void ctl(int epfd, int op, int fd, int events, long data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(EPOLL_EVENT);
            ev.set(JAVA_INT_UNALIGNED, EVENTS, events);
            ev.set(JAVA_LONG_UNALIGNED, DATA, data);
            MemorySegment err = Native.errnoBuffer();
            if ((int) EPOLL_CTL.invokeExact(err, epfd, op, fd, ev) < 0) {
                throw new NativeException("epoll_ctl", Native.errno(err), opName(op) + " fd " + fd);
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Waits for events into {@code events} (an array of {@link #EPOLL_EVENT}, see {@link #allocateEvents}); returns
     * how many were filled, 0 on timeout ({@code timeoutMillis} -1 waits forever).
     */
    public static int await(int epfd, MemorySegment events, int timeoutMillis) {
        int n = awaitRaw(epfd, events, timeoutMillis);
        if (n < 0) {
            throw new NativeException("epoll_wait", -n);
        }
        return n;
    }

    /** {@code epoll_wait} returning {@code -errno}: a loop retries EINTR without allocating an exception. */
    public static int awaitRaw(int epfd, MemorySegment events, int timeoutMillis) {
        int max = (int) Math.min(Integer.MAX_VALUE, events.byteSize() / EPOLL_EVENT.byteSize());
        if (max == 0) {
            throw new IllegalArgumentException("epoll_wait needs room for at least one epoll_event");
        }
        try {
            MemorySegment err = Native.errnoBuffer();
            int n = (int) EPOLL_WAIT.invokeExact(err, epfd, events, max, timeoutMillis);
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static MemorySegment allocateEvents(Arena arena, int count) {
        return arena.allocate(EPOLL_EVENT, count);
    }

    /** The {@code events} bits of the {@code i}-th entry filled by {@link #await}. */
    public static int events(MemorySegment events, int i) {
        return events.get(JAVA_INT_UNALIGNED, i * EPOLL_EVENT.byteSize() + EVENTS);
    }

    /** The {@code data.u64} the fd was registered with, of the {@code i}-th entry. */
    public static long data(MemorySegment events, int i) {
        return events.get(JAVA_LONG_UNALIGNED, i * EPOLL_EVENT.byteSize() + DATA);
    }

    private static String opName(int op) {
        return switch (op) {
            case EPOLL_CTL_ADD -> "EPOLL_CTL_ADD";
            case EPOLL_CTL_DEL -> "EPOLL_CTL_DEL";
            case EPOLL_CTL_MOD -> "EPOLL_CTL_MOD";
            default -> "op " + op;
        };
    }
}
