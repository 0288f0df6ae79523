package io.sandboxd.daemon.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code sandboxd serve}. The control plane (issue: control plane, proxy, jail runtime) is not built yet; until it
 * is, this command says so plainly and exits non-zero rather than pretending to serve.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Start the daemon: E2B API on :3000, sandbox proxy on :3002.")
final class ServeCommand implements Callable<Integer> {
    static final int EXIT_NOT_AVAILABLE = 3;

    @Override
    public Integer call() {
        System.err.println("""
                sandboxd serve: the control plane is not built yet in this version.
                  missing: E2B REST API (:3000), sandbox proxy (:3002), orchestrator, jail and vm runtimes.
                  available now: `./sandboxd doctor` (what this host can run), `./sandboxd --help`.""");
        return EXIT_NOT_AVAILABLE;
    }
}
