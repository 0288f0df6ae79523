package io.sandboxd.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Extended attributes ({@code <sys/xattr.h>}): {@code setxattr/getxattr/listxattr/removexattr} and the
 * {@code l*} variants that act on a symlink itself instead of its target. Constants are checked against the
 * system headers by {@code XattrHeadersTest}.
 *
 * <p>Names and values are byte strings to the kernel; the helpers take names as Java strings (UTF-8) and values as
 * byte arrays. Each helper picks the {@code l*} call when {@code followSymlinks} is false.
 */
public final class Xattr {
    // <sys/xattr.h>
    public static final int XATTR_CREATE = 0x1;
    public static final int XATTR_REPLACE = 0x2;
    // <linux/limits.h>
    /** Longest attribute name including its namespace prefix ({@code user.}), in bytes. */
    public static final int XATTR_NAME_MAX = 255;
    /** Largest attribute value, in bytes. */
    public static final int XATTR_SIZE_MAX = 65536;
    /** Largest name list {@code listxattr} returns, in bytes. */
    public static final int XATTR_LIST_MAX = 65536;

    private static final MethodHandle SETXATTR = Native.downcallErrno("setxattr",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle LSETXATTR = Native.downcallErrno("lsetxattr",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle GETXATTR = Native.downcallErrno("getxattr",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle LGETXATTR = Native.downcallErrno("lgetxattr",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle LISTXATTR = Native.downcallErrno("listxattr",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle LLISTXATTR = Native.downcallErrno("llistxattr",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle REMOVEXATTR = Native.downcallErrno("removexattr",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle LREMOVEXATTR = Native.downcallErrno("lremovexattr",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    private Xattr() {
    }

    // ---- raw calls: results or -errno --------------------------------------------------------------------------

    /** {@code setxattr}/{@code lsetxattr}; returns 0 or {@code -errno}. */
    public static int setRaw(MemorySegment path, MemorySegment name, MemorySegment value, int flags,
                             boolean followSymlinks) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = followSymlinks
                    ? (int) SETXATTR.invokeExact(err, path, name, value, value.byteSize(), flags)
                    : (int) LSETXATTR.invokeExact(err, path, name, value, value.byteSize(), flags);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code getxattr}/{@code lgetxattr} into {@code value} (a {@link MemorySegment#NULL} of size 0 asks for the
     * size); returns the value's length or {@code -errno} (ENODATA: no such attribute, ERANGE: buffer too small).
     */
    public static long getRaw(MemorySegment path, MemorySegment name, MemorySegment value, boolean followSymlinks) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = followSymlinks
                    ? (long) GETXATTR.invokeExact(err, path, name, value, value.byteSize())
                    : (long) LGETXATTR.invokeExact(err, path, name, value, value.byteSize());
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code listxattr}/{@code llistxattr}: NUL-separated names into {@code list}; length or {@code -errno}. */
    public static long listRaw(MemorySegment path, MemorySegment list, boolean followSymlinks) {
        try {
            MemorySegment err = Native.errnoBuffer();
            long n = followSymlinks
                    ? (long) LISTXATTR.invokeExact(err, path, list, list.byteSize())
                    : (long) LLISTXATTR.invokeExact(err, path, list, list.byteSize());
            return n < 0 ? -Native.errno(err) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code removexattr}/{@code lremovexattr}; returns 0 or {@code -errno}. */
    public static int removeRaw(MemorySegment path, MemorySegment name, boolean followSymlinks) {
        try {
            MemorySegment err = Native.errnoBuffer();
            int r = followSymlinks
                    ? (int) REMOVEXATTR.invokeExact(err, path, name)
                    : (int) LREMOVEXATTR.invokeExact(err, path, name);
            return r < 0 ? -Native.errno(err) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    public static void set(String path, String name, byte[] value, int flags, boolean followSymlinks) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = value.length == 0 ? a.allocate(1).asSlice(0, 0)
                    : a.allocateFrom(ValueLayout.JAVA_BYTE, value);
            int r = setRaw(a.allocateFrom(path), a.allocateFrom(name), v, flags, followSymlinks);
            if (r < 0) {
                throw new NativeException(followSymlinks ? "setxattr" : "lsetxattr", -r, path + " " + name);
            }
        }
    }

    /** The attribute's value, or empty when the file has no attribute of that name (ENODATA). */
    public static Optional<byte[]> get(String path, String name, boolean followSymlinks) {
        String call = followSymlinks ? "getxattr" : "lgetxattr";
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocateFrom(path);
            MemorySegment n = a.allocateFrom(name);
            // Size first, then read; another writer may grow the value in between (ERANGE): ask again.
            while (true) {
                long size = getRaw(p, n, MemorySegment.NULL, followSymlinks);
                if (size == -Errno.ENODATA) {
                    return Optional.empty();
                }
                if (size < 0) {
                    throw new NativeException(call, (int) -size, path + " " + name);
                }
                MemorySegment buf = a.allocate(Math.max(1, size)).asSlice(0, size);
                long got = getRaw(p, n, buf, followSymlinks);
                if (got == -Errno.ERANGE) {
                    continue;
                }
                if (got == -Errno.ENODATA) {
                    return Optional.empty();
                }
                if (got < 0) {
                    throw new NativeException(call, (int) -got, path + " " + name);
                }
                return Optional.of(buf.asSlice(0, got).toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    /** Every attribute name on the file, in the kernel's order (all namespaces the caller may see). */
    public static List<String> list(String path, boolean followSymlinks) {
        String call = followSymlinks ? "listxattr" : "llistxattr";
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocateFrom(path);
            while (true) {
                long size = listRaw(p, MemorySegment.NULL, followSymlinks);
                if (size < 0) {
                    throw new NativeException(call, (int) -size, path);
                }
                if (size == 0) {
                    return List.of();
                }
                MemorySegment buf = a.allocate(size);
                long got = listRaw(p, buf, followSymlinks);
                if (got == -Errno.ERANGE) {
                    continue;
                }
                if (got < 0) {
                    throw new NativeException(call, (int) -got, path);
                }
                return splitNames(buf.asSlice(0, got).toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    /** Removes the attribute; returns false when it was not there (ENODATA). */
    public static boolean remove(String path, String name, boolean followSymlinks) {
        try (Arena a = Arena.ofConfined()) {
            int r = removeRaw(a.allocateFrom(path), a.allocateFrom(name), followSymlinks);
            if (r == -Errno.ENODATA) {
                return false;
            }
            if (r < 0) {
                throw new NativeException(followSymlinks ? "removexattr" : "lremovexattr", -r, path + " " + name);
            }
            return true;
        }
    }

    static List<String> splitNames(byte[] list) {
        List<String> names = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < list.length; i++) {
            if (list[i] == 0) {
                if (i > start) {
                    names.add(new String(list, start, i - start, StandardCharsets.UTF_8));
                }
                start = i + 1;
            }
        }
        return names;
    }
}
