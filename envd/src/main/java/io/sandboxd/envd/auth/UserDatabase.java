package io.sandboxd.envd.auth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Users and groups from {@code /etc/passwd} and {@code /etc/group}, re-read when either file changes (templates
 * add users with {@code useradd} while envd runs). Only the files are consulted, as in a sandbox rootfs: no NSS
 * modules, no LDAP.
 */
public final class UserDatabase {
    private final Path passwdFile;
    private final Path groupFile;
    private volatile Snapshot snapshot = Snapshot.EMPTY;

    public UserDatabase(Path passwdFile, Path groupFile) {
        this.passwdFile = passwdFile;
        this.groupFile = groupFile;
    }

    public static UserDatabase system() {
        return new UserDatabase(Path.of("/etc/passwd"), Path.of("/etc/group"));
    }

    public Optional<UserAccount> byName(String name) {
        return Optional.ofNullable(current().users.get(name));
    }

    /** The user name for a uid, or the number as text when no account has it (as {@code ls -l} prints it). */
    public String userName(int uid) {
        String n = current().userNames.get(uid);
        return n != null ? n : Integer.toUnsignedString(uid);
    }

    /** The group name for a gid, or the number as text when unknown. */
    public String groupName(int gid) {
        String n = current().groupNames.get(gid);
        return n != null ? n : Integer.toUnsignedString(gid);
    }

    private Snapshot current() {
        Snapshot s = snapshot;
        Version pm = Version.of(passwdFile);
        Version gm = Version.of(groupFile);
        if (pm.equals(s.passwdVersion) && gm.equals(s.groupVersion) && s != Snapshot.EMPTY) {
            return s;
        }
        synchronized (this) {
            s = snapshot;
            if (!(pm.equals(s.passwdVersion) && gm.equals(s.groupVersion) && s != Snapshot.EMPTY)) {
                s = load(pm, gm);
                snapshot = s;
            }
            return s;
        }
    }

    private Snapshot load(Version pm, Version gm) {
        Map<Integer, String> groupNames = new HashMap<>();
        Map<String, List<Integer>> memberOf = new HashMap<>();
        for (String line : lines(groupFile)) {
            // name:password:gid:member,member
            String[] f = line.split(":", -1);
            if (f.length < 4) {
                continue;
            }
            Integer gid = parseId(f[2]);
            if (gid == null) {
                continue;
            }
            groupNames.putIfAbsent(gid, f[0]);
            for (String m : f[3].split(",")) {
                if (!m.isEmpty()) {
                    memberOf.computeIfAbsent(m, k -> new ArrayList<>()).add(gid);
                }
            }
        }
        Map<String, UserAccount> users = new HashMap<>();
        Map<Integer, String> userNames = new HashMap<>();
        for (String line : lines(passwdFile)) {
            // name:password:uid:gid:gecos:home:shell
            String[] f = line.split(":", -1);
            if (f.length < 7 || f[0].isEmpty()) {
                continue;
            }
            Integer uid = parseId(f[2]);
            Integer gid = parseId(f[3]);
            if (uid == null || gid == null) {
                continue;
            }
            Set<Integer> groups = new LinkedHashSet<>();
            groups.add(gid);
            groups.addAll(memberOf.getOrDefault(f[0], List.of()));
            int[] g = groups.stream().mapToInt(Integer::intValue).toArray();
            String home = f[5].isEmpty() ? "/" : f[5];
            users.putIfAbsent(f[0], new UserAccount(f[0], uid, gid, Path.of(home), f[6], g));
            userNames.putIfAbsent(uid, f[0]);
        }
        return new Snapshot(pm, gm, Map.copyOf(users), Map.copyOf(userNames), Map.copyOf(groupNames));
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p, StandardCharsets.UTF_8).stream()
                    .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    /**
     * What identifies one content of a file without reading it: modification time, size and inode (device and inode
     * as the file key). {@code useradd} replaces the file by rename, which changes the inode even within the mtime
     * granularity; an edit in place changes the size or the time. One {@code stat} per file per lookup.
     */
    private record Version(FileTime modified, long size, Object fileKey) {
        static final Version MISSING = new Version(FileTime.fromMillis(0), -1, null);

        static Version of(Path p) {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                return new Version(a.lastModifiedTime(), a.size(), a.fileKey());
            } catch (IOException e) {
                return MISSING;
            }
        }
    }

    private static Integer parseId(String s) {
        try {
            long v = Long.parseLong(s);
            return v >= 0 && v <= 0xffff_ffffL ? (int) v : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private record Snapshot(Version passwdVersion, Version groupVersion, Map<String, UserAccount> users,
                            Map<Integer, String> userNames, Map<Integer, String> groupNames) {
        static final Snapshot EMPTY = new Snapshot(null, null, Map.of(), Map.of(), Map.of());
    }
}
