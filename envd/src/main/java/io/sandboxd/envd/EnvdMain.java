package io.sandboxd.envd;

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
            description = "run one process and one file RPC through a throwaway loopback envd before opening the port,"
                    + " so the sandbox's first command does not pay for class loading (default: ${DEFAULT-VALUE})")
    boolean warmUp;

    @Override
    public Integer call() throws Exception {
        checkNativeAccess();
        if (warmUp) {
            long t0 = System.nanoTime();
            try {
                WarmUp.Result r = WarmUp.run(defaultUser);
                System.err.printf("envd warm-up: %d ms (process ended: %s, stat: %d)%n",
                        (System.nanoTime() - t0) / 1_000_000, r.processEnded(), r.statStatus());
            } catch (java.io.IOException | RuntimeException e) {
                // Only a slower first command is at stake: serve anyway.
                System.err.println("envd warm-up failed, serving without it: " + e);
            }
        }
        Envd envd = Envd.start(new InetSocketAddress(bind, port), defaultUser);
        Runtime.getRuntime().addShutdownHook(new Thread(envd::close, "envd-shutdown"));
        System.err.println("envd " + VERSION + " listening on " + envd.address());
        envd.awaitClose();
        return 0;
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
