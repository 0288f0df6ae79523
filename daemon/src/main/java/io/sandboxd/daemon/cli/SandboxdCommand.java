package io.sandboxd.daemon.cli;

import io.sandboxd.daemon.cli.admin.AdminExceptionHandler;
import io.sandboxd.daemon.cli.admin.SandboxCommand;
import io.sandboxd.daemon.cli.admin.NodeCommand;
import io.sandboxd.daemon.cli.admin.TemplateCommand;
import io.sandboxd.daemon.cli.systemd.InstallCommand;
import io.sandboxd.daemon.cli.systemd.UninstallCommand;
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
                SandboxCommand.class,
                TemplateCommand.class,
                NodeCommand.class,
                InstallCommand.class,
                UninstallCommand.class,
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
        CommandLine cl = new CommandLine(new SandboxdCommand());
        // One mapping of failures to exit codes for every command (README, "Admin CLI").
        cl.setExecutionExceptionHandler(new AdminExceptionHandler());
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
