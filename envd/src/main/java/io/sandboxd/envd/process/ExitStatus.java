package io.sandboxd.envd.process;

import io.sandboxd.envd.proto.process.ProcessEvent;
import io.sandboxd.ffi.Spawn;

/**
 * A wait status as the SDK expects it in {@code EndEvent} (spec 3.5): the wording is Go's
 * {@code os.ProcessState.String()}, which upstream envd sends and users match on ("exit status 1",
 * "signal: killed").
 */
public final class ExitStatus {
    private static final String[] SIGNAL_NAMES = {
        null, "hangup", "interrupt", "quit", "illegal instruction", "trace/breakpoint trap", "aborted", "bus error",
        "floating point exception", "killed", "user defined signal 1", "segmentation fault", "user defined signal 2",
        "broken pipe", "alarm clock", "terminated", "stack fault", "child exited", "continued", "stopped (signal)",
        "stopped", "stopped (tty input)", "stopped (tty output)", "urgent I/O condition", "CPU time limit exceeded",
        "file size limit exceeded", "virtual timer expired", "profiling timer expired", "window changed",
        "I/O possible", "power failure", "bad system call",
    };

    private ExitStatus() {
    }

    /** The end event for a raw wait status. */
    public static ProcessEvent.EndEvent endEvent(int waitStatus) {
        ProcessEvent.EndEvent.Builder b = ProcessEvent.EndEvent.newBuilder();
        if (Spawn.exited(waitStatus)) {
            int code = Spawn.exitStatus(waitStatus);
            String status = "exit status " + code;
            b.setExitCode(code).setExited(true).setStatus(status);
            if (code != 0) {
                b.setError(status);
            }
        } else {
            String status = "signal: " + signalName(Spawn.termSignal(waitStatus))
                    + (Spawn.coreDumped(waitStatus) ? " (core dumped)" : "");
            b.setExitCode(-1).setExited(false).setStatus(status).setError(status);
        }
        return b.build();
    }

    static String signalName(int signal) {
        return signal > 0 && signal < SIGNAL_NAMES.length ? SIGNAL_NAMES[signal] : "signal " + signal;
    }
}
