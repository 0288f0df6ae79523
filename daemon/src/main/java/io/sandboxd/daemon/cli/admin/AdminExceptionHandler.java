package io.sandboxd.daemon.cli.admin;

import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/**
 * The one place a command's failure becomes a message and an exit code: an {@link AdminException} prints its
 * message and returns its code; anything else is a bug or a host failure the command did not expect, printed with
 * its type so it can be reported, exit {@link ExitCode#FAILED}.
 */
public final class AdminExceptionHandler implements IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception e, CommandLine cmd, ParseResult parsed) {
        String name = cmd.getCommandSpec().qualifiedName();
        if (e instanceof AdminException a) {
            cmd.getErr().println(name + ": " + a.getMessage());
            cmd.getErr().flush();
            return a.exitCode();
        }
        cmd.getErr().println(name + ": unexpected " + e.getClass().getSimpleName() + ": " + e.getMessage());
        cmd.getErr().flush();
        return ExitCode.FAILED;
    }
}
