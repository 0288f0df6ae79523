package io.sandboxd.daemon.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sandboxd} root command: each admin verb is its own class, listed here. */
@Command(name = "sandboxd",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Self-hosted, E2B-compatible sandbox host for bare-metal Linux.",
        subcommands = {
                DoctorCommand.class,
                ServeCommand.class,
                KeysCommand.class,
                NbdCommand.class,
                VmCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class SandboxdCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static CommandLine commandLine() {
        return new CommandLine(new SandboxdCommand());
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
