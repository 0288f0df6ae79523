package io.sandboxd.daemon.cli;

import io.sandboxd.daemon.host.Capability;
import io.sandboxd.daemon.host.HostCapabilities;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sandboxd doctor}: one line per host capability, then the runtime this host would use. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Check what this host can run (KVM, userfaultfd, tun, NBD, cgroups, overlayfs, namespaces).")
final class DoctorCommand implements Callable<Integer> {
    static final int EXIT_NO_RUNTIME = 1;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<Capability> caps = HostCapabilities.system().probe();
        caps.forEach(c -> out.println(c.line()));
        Capability verdict = HostCapabilities.runtimeVerdict(caps);
        out.println(verdict.line());
        out.flush();
        return verdict.usable() ? 0 : EXIT_NO_RUNTIME;
    }
}
