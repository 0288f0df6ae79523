package io.sandboxd.envd.auth;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * A local account as processes and files see it: the uid/gid a process runs with, its supplementary groups
 * (from /etc/group, the primary gid included) and its home directory.
 */
public record UserAccount(String name, int uid, int gid, Path home, String shell, int[] groups) {
    public UserAccount {
        groups = groups.clone();
    }

    @Override
    public int[] groups() {
        return groups.clone();
    }

    public boolean isRoot() {
        return uid == 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UserAccount u && u.name.equals(name) && u.uid == uid && u.gid == gid
                && u.home.equals(home) && u.shell.equals(shell) && Arrays.equals(u.groups, groups);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + uid;
    }

    @Override
    public String toString() {
        return name + "(" + uid + ":" + gid + " groups " + Arrays.toString(groups) + " home " + home + ")";
    }
}
