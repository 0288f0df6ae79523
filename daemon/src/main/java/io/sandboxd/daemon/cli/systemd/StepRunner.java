package io.sandboxd.daemon.cli.systemd;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.daemon.cli.admin.AdminException;
import io.sandboxd.daemon.cli.admin.ExitCode;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.function.Supplier;

/** Applies or prints a plan, the same way for install and uninstall. */
final class StepRunner {
    /** The machine the commands act on; tests replace it with a recording fake. */
    static volatile Supplier<ServiceHost> host = ServiceHost::system;
    static final ObjectMapper JSON = new ObjectMapper();

    private StepRunner() {
    }

    /** Refuses to act where it cannot: not root, or no systemd ({@code --dry-run} works anywhere). */
    static void requireSystemd(ServiceHost h, String command) {
        if (!h.isRoot()) {
            throw new AdminException(ExitCode.AUTH, command + " writes to /etc/systemd/system and runs systemctl:"
                    + " run it as root (or see what it would do with --dry-run)");
        }
        if (!h.systemdRunning()) {
            throw new AdminException(ExitCode.UNREACHABLE, "systemd is not running on this machine (no"
                    + " /run/systemd/system): see the unit and the steps with --dry-run and apply them by hand");
        }
    }

    static void print(List<ServiceStep> steps, PrintWriter out) {
        out.println("steps:");
        for (int i = 0; i < steps.size(); i++) {
            out.printf("  %d. %s%n", i + 1, steps.get(i).describe());
        }
    }

    static ArrayNode json(List<ServiceStep> steps) {
        ArrayNode a = JSON.createArrayNode();
        steps.forEach(s -> a.add(s.describe()));
        return a;
    }

    /** Applies each step in order; the first failure stops, naming it and the ones already done. */
    static ArrayNode apply(List<ServiceStep> steps, ServiceHost h, PrintWriter out, boolean json) {
        ArrayNode done = JSON.createArrayNode();
        for (int i = 0; i < steps.size(); i++) {
            ServiceStep s = steps.get(i);
            if (!json) {
                out.printf("[%d/%d] %s%n", i + 1, steps.size(), s.describe());
                out.flush();
            }
            try {
                s.apply(h);
            } catch (IOException | RuntimeException e) {
                throw new AdminException(ExitCode.FAILED, "step " + (i + 1) + " of " + steps.size() + " failed ("
                        + s.describe() + "): " + e.getMessage() + (i == 0 ? "" : "; the steps before it were done"));
            }
            ObjectNode n = done.addObject();
            n.put("step", s.describe());
            n.put("done", true);
        }
        return done;
    }
}
