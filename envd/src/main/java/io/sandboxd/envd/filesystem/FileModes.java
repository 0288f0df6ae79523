package io.sandboxd.envd.filesystem;

/**
 * {@code st_mode} as the E2B SDKs show it. {@code EntryInfo.permissions} is the text upstream envd produces with
 * Go's {@code os.FileMode.String()}: one letter per set type/special bit in Go's order ({@code d} directory,
 * {@code L} symlink, {@code D} device, {@code p} pipe, {@code S} socket, {@code u} setuid, {@code g} setgid,
 * {@code c} character device, {@code t} sticky), or {@code -} when none is set, then {@code rwxrwxrwx}. So a
 * plain file reads {@code -rw-r--r--}, {@code /tmp} reads {@code dtrwxrwxrwx} and a symlink {@code Lrwxrwxrwx}.
 */
public final class FileModes {
    static final int S_IFMT = 0170000;
    static final int S_IFSOCK = 0140000;
    static final int S_IFLNK = 0120000;
    static final int S_IFREG = 0100000;
    static final int S_IFBLK = 0060000;
    static final int S_IFDIR = 0040000;
    static final int S_IFCHR = 0020000;
    static final int S_IFIFO = 0010000;
    static final int S_ISUID = 04000;
    static final int S_ISGID = 02000;
    static final int S_ISVTX = 01000;

    private FileModes() {
    }

    /** The permission bits only ({@code 0644} = 420): {@code EntryInfo.mode}. */
    public static int permissionBits(int mode) {
        return mode & 0777;
    }

    public static boolean isDirectory(int mode) {
        return (mode & S_IFMT) == S_IFDIR;
    }

    public static boolean isRegular(int mode) {
        return (mode & S_IFMT) == S_IFREG;
    }

    public static boolean isSymlink(int mode) {
        return (mode & S_IFMT) == S_IFLNK;
    }

    /** Go's {@code FileMode.String()} for a Linux {@code st_mode}. */
    public static String permissionString(int mode) {
        StringBuilder b = new StringBuilder(12);
        int type = mode & S_IFMT;
        if (type == S_IFDIR) {
            b.append('d');
        }
        if (type == S_IFLNK) {
            b.append('L');
        }
        if (type == S_IFBLK || type == S_IFCHR) {
            b.append('D');
        }
        if (type == S_IFIFO) {
            b.append('p');
        }
        if (type == S_IFSOCK) {
            b.append('S');
        }
        if ((mode & S_ISUID) != 0) {
            b.append('u');
        }
        if ((mode & S_ISGID) != 0) {
            b.append('g');
        }
        if (type == S_IFCHR) {
            b.append('c');
        }
        if ((mode & S_ISVTX) != 0) {
            b.append('t');
        }
        if (b.isEmpty()) {
            b.append('-');
        }
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            b.append((mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        }
        return b.toString();
    }
}
