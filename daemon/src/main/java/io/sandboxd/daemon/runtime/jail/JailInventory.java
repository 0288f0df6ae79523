package io.sandboxd.daemon.runtime.jail;

import java.nio.file.Path;
import java.util.List;

/**
 * What exists on the host for this jail runtime's configuration (its runc root, data directory, cgroup parent
 * and network prefix), whoever made it. The orchestrator compares it with its store at start-up; tests check
 * that a kill leaves none of it behind.
 *
 * @param runcContainers  containers under the runtime's runc root
 * @param overlayMounts   mounts under {@code <data-dir>/sandboxes}
 * @param jailDirs        directories under {@code <data-dir>/sandboxes}
 * @param cgroups         cgroup directories under the cgroup parent, any controller
 * @param netns           network namespaces with the prefix
 * @param veths           host veths with the prefix
 * @param egressAllowed   host veths in the firewall's egress set
 */
public record JailInventory(List<String> runcContainers, List<Path> overlayMounts, List<Path> jailDirs,
                            List<Path> cgroups, List<String> netns, List<String> veths, List<String> egressAllowed) {
    public boolean isEmpty() {
        return runcContainers.isEmpty() && overlayMounts.isEmpty() && jailDirs.isEmpty() && cgroups.isEmpty()
                && netns.isEmpty() && veths.isEmpty() && egressAllowed.isEmpty();
    }
}
