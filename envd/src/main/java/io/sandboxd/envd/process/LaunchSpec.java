package io.sandboxd.envd.process;

import io.sandboxd.envd.auth.UserAccount;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A process ready to spawn: everything resolved (user, executable, environment in its final merge order, cwd).
 *
 * @param argv     argv without the credential wrapper; argv[0] is the command as the client gave it
 * @param terminal rows/cols for a PTY process, null for pipes
 * @param stdin    true for a stdin pipe, false for /dev/null (ignored with a PTY)
 */
public record LaunchSpec(UserAccount user, String executable, List<String> argv, Map<String, String> env, Path cwd,
                         TerminalSize terminal, boolean stdin) {
    /** A PTY's size in characters. */
    public record TerminalSize(int cols, int rows) {
    }
}
