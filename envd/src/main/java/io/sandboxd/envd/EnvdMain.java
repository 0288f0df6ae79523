package io.sandboxd.envd;

import io.sandboxd.envd.auth.UserDatabase;
import io.sandboxd.envd.system.InitClock;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code java -jar envd.jar --port 49983}: the agent inside every sandbox. */
@Command(name = "envd", mixinStandardHelpOptions = true, version = "envd " + EnvdMain.VERSION,
        description = "The in-sandbox agent: E2B-compatible process and filesystem services over Connect RPC.")
public final class EnvdMain implements Callable<Integer> {
    /** What envd reports as its version (the SDK gates features on it, spec 3.6). */
    public static final String VERSION = "0.6.13";

    @Option(names = "--port", defaultValue = "49983", description = "TCP port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--bind", defaultValue = "0.0.0.0", description = "address to listen on (default: ${DEFAULT-VALUE})")
    String bind;

    @Option(names = "--default-user", defaultValue = "root",
            description = "user for requests that name none, until POST /init sets one (default: ${DEFAULT-VALUE})")
    String defaultUser;

    @Option(names = "--warm-up", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "run a create's requests (/init, a process, a file RPC) against this envd over loopback while"
                    + " /health answers 503, then forget their settings, so the sandbox's first command does not pay for"
                    + " class loading (default: ${DEFAULT-VALUE})")
    boolean warmUp;

    @Option(names = "--warm-up-rounds", defaultValue = "1", paramLabel = "N",
            description = "how many times the warm-up runs its requests; more rounds get them compiled instead of"
                    + " interpreted at the sandbox's first commands, for more CPU at start (default: ${DEFAULT-VALUE})")
    int warmUpRounds;

    @Option(names = "--warm-up-user", paramLabel = "NAME",
            description = "the default user the warm-up's /init sets (the user a sandbox's commands will run as, if"
                    + " this system has it; default: --default-user)")
    String warmUpUser;

    @Option(names = "--set-clock-from-init",
            description = "set the system clock from POST /init's timestamp when it is off by more than 50 ms: for"
                    + " envd as a sandbox's agent (the daemon passes it), whose restored or pooled clock is behind;"
                    + " never on a host, whose clock is the machine's (default: off)")
    boolean setClockFromInit;

    /** How the clock is set when {@code --set-clock-from-init} is given; tests put a recorder here. */
    InitClock.Setter systemClock = null;

    @Option(names = "--train",
            description = "run the warm-up once and exit without serving (exit code 1 if any step of it failed): the"
                    + " training run that records envd's AOT cache, java -XX:AOTCacheOutput=envd.aot -jar envd.jar"
                    + " --train")
    boolean train;

    @Override
    public Integer call() throws Exception {
        checkNativeAccess();
        if (warmUpRounds < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--warm-up-rounds must be at least 1, not " + warmUpRounds);
        }
        if (train) {
            WarmUp.Result r = warmUp(null);
            return r != null && r.complete() ? 0 : 1;
        }
        EnvdState state = new EnvdState(defaultUser);
        if (warmUp) {
            state.beginWarmUp();
        }
        Envd envd = Envd.start(new InetSocketAddress(bind, port), state, UserDatabase.system(), initClock());
        Runtime.getRuntime().addShutdownHook(new Thread(envd::close, "envd-shutdown"));
        if (warmUp) {
            warmUp(envd);
        }
        System.err.println("envd " + VERSION + " listening on " + envd.address());
        envd.awaitClose();
        return 0;
    }

    /** Only an envd told it is a sandbox's agent ever sets the clock. */
    InitClock initClock() {
        if (!setClockFromInit) {
            return InitClock.never();
        }
        return systemClock != null ? InitClock.setWith(systemClock) : InitClock.systemDate();
    }

    /**
     * Runs the warm-up (against {@code serving}, or a throwaway envd when null) and says how it went; null if it
     * threw (only a slower first command is at stake).
     */
    private WarmUp.Result warmUp(Envd serving) throws InterruptedException {
        long t0 = System.nanoTime();
        try {
            String as = warmUpUser();
            WarmUp.Result r = serving != null ? WarmUp.warm(serving, warmUpRounds, as)
                    : WarmUp.run(defaultUser, warmUpRounds, as);
            System.err.printf("envd warm-up: %d rounds in %d ms (last: init: %d, process ended: %s, stat: %d)%n",
                    warmUpRounds, (System.nanoTime() - t0) / 1_000_000, r.initStatus(), r.processEnded(), r.statStatus());
            return r;
        } catch (java.io.IOException | RuntimeException e) {
            System.err.println("envd warm-up failed" + (train ? "" : ", serving without it") + ": " + e);
            return null;
        }
    }

    /** {@code --warm-up-user} if this system has that user (else the warm-up would fail), else the default user. */
    private String warmUpUser() {
        if (warmUpUser == null || warmUpUser.equals(defaultUser)) {
            return defaultUser;
        }
        if (UserDatabase.system().byName(warmUpUser).isEmpty()) {
            System.err.println("envd warm-up: no user " + warmUpUser + " here, warming up as " + defaultUser);
            return defaultUser;
        }
        return warmUpUser;
    }

    /** Fail at start, with the flag to add, rather than at the first process spawn. */
    private static void checkNativeAccess() {
        Module m = EnvdMain.class.getModule();
        if (!m.isNativeAccessEnabled()) {
            throw new CommandLine.ParameterException(new CommandLine(new EnvdMain()),
                    "native access is disabled: run with --enable-native-access=ALL-UNNAMED (java -jar envd.jar sets it"
                            + " through its manifest)");
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new EnvdMain()).execute(args));
    }
}
