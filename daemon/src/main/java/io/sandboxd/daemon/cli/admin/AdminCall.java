package io.sandboxd.daemon.cli.admin;

import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every admin subcommand has: where the daemon's API is and which key to use ({@link ApiOptions}), the output
 * format, and its picocli spec (for its output streams). picocli reads these fields from the superclass.
 */
abstract class AdminCall implements Callable<Integer> {
    @Mixin
    ApiOptions api = new ApiOptions();
    @Mixin
    OutputFormat format = new OutputFormat();
    @Spec
    CommandSpec spec;
}
