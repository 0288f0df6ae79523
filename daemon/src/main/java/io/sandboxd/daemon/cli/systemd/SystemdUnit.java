package io.sandboxd.daemon.cli.systemd;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The text of sandboxd's unit file. Why each directive (the README's "systemd" section says the same):
 * <ul>
 *   <li>runs as root: the jail runtime needs it (runc, namespaces, mounts, cgroups, nftables); the daemon itself
 *   creates the unprivileged {@code sandboxd-pg} user its embedded PostgreSQL runs as;</li>
 *   <li>{@code KillMode=mixed} with the kill policy: SIGTERM goes to the daemon alone, which kills its sandboxes
 *   itself, and whatever is still in the unit's cgroup when it has exited (or at {@code TimeoutStopSec}) gets
 *   SIGKILL, so a stop never leaks a process; with pause or keep {@code KillMode=process}, so systemd leaves the
 *   sandboxes the daemon meant to leave;</li>
 *   <li>{@code TimeoutStopSec}: long enough to kill a full host's sandboxes one by one (about 0.19 s each on the
 *   development machine, {@code bench/run-shutdown.sh}: 120 s covers some 600);</li>
 *   <li>{@code Delegate=yes}: the daemon (through runc) makes cgroups for its sandboxes and systemd must not
 *   rearrange them;</li>
 *   <li>limits: a sandbox costs the daemon several fds (netns, sockets, overlay, proxy connections) and its
 *   processes count against the unit's tasks, so {@code LimitNOFILE} is high and {@code TasksMax} unlimited; KVM and
 *   userfaultfd memory may be locked, so {@code LimitMEMLOCK} is unlimited.</li>
 * </ul>
 */
public final class SystemdUnit {
    /** Seconds systemd waits after SIGTERM before SIGKILL. */
    static final int TIMEOUT_STOP_SEC = 120;
    static final String LIMIT_NOFILE = "1048576";
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_@+=:,./-]+");

    private SystemdUnit() {
    }

    public static String render(ServiceLayout l) {
        String killMode = l.onShutdown().leavesSandboxes() ? "process" : "mixed";
        return String.join("\n", List.of(
                "# Written by 'sandboxd install'; 'sandboxd uninstall' removes it.",
                "[Unit]",
                "Description=sandboxd: self-hosted E2B-compatible sandbox host",
                "After=network-online.target",
                "Wants=network-online.target",
                "",
                "[Service]",
                "Type=simple",
                "# root: the jail runtime needs it (runc, namespaces, mounts, cgroups, nftables)",
                "User=root",
                "ExecStart=" + commandLine(l.execStart()),
                "WorkingDirectory=" + quote(l.dataDir().toString()),
                "Restart=on-failure",
                "RestartSec=2s",
                "# SIGTERM reaches the daemon only: it stops accepting, then handles its sandboxes (--on-shutdown "
                        + l.onShutdown().optionName() + ")",
                "KillSignal=SIGTERM",
                "KillMode=" + killMode,
                "TimeoutStopSec=" + TIMEOUT_STOP_SEC,
                "SendSIGKILL=yes",
                "# the daemon makes cgroups for its sandboxes (through runc)",
                "Delegate=yes",
                "LimitNOFILE=" + LIMIT_NOFILE,
                "LimitMEMLOCK=infinity",
                "TasksMax=infinity",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                ""));
    }

    /** An ExecStart line: each word quoted when systemd would otherwise split or expand it. */
    static String commandLine(List<String> argv) {
        StringBuilder b = new StringBuilder();
        for (String a : argv) {
            if (!b.isEmpty()) {
                b.append(' ');
            }
            b.append(quote(a));
        }
        return b.toString();
    }

    /**
     * One word for a unit file: as it is when plain, else in double quotes with {@code \} and {@code "} escaped;
     * {@code %} (specifiers) and {@code $} (variable expansion) are doubled either way.
     */
    static String quote(String word) {
        String escaped = word.replace("%", "%%").replace("$", "$$");
        if (PLAIN.matcher(word).matches()) {
            return escaped;
        }
        return "\"" + escaped.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
