package io.sandboxd.daemon.cli;

import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import io.sandboxd.daemon.store.KeyRepository;
import io.sandboxd.daemon.store.Store;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sandboxd keys create|list|revoke}: API keys ({@code e2b_…}, for the SDKs) and access tokens
 * ({@code sk_e2b_…}, for the CLI). Keys are stored hashed; {@code create} prints the key once.
 */
@Command(name = "keys", mixinStandardHelpOptions = true,
        description = "Manage API keys (e2b_…) and access tokens (sk_e2b_…).",
        subcommands = {KeysCommand.Create.class, KeysCommand.ListKeys.class, KeysCommand.Revoke.class})
public final class KeysCommand implements Runnable {
    static final int EXIT_OK = 0;
    static final int EXIT_NOT_FOUND = 4;
    static final int EXIT_STORE_FAILED = 5;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'")
            .withZone(ZoneOffset.UTC);

    static String kindLabel(KeyHash kind) {
        return kind == KeyHash.API_KEY ? "api-key" : "access-token";
    }

    static String time(Instant t) {
        return t == null ? "-" : TIME.format(t);
    }

    /** Opens the store, runs {@code body}, maps store failures to a message and an exit code. */
    static int withStore(StoreOptions options, PrintWriter err, StoreBody body) {
        CliLogging.quietLibraries();
        try (Store store = options.open()) {
            return body.run(store);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("interrupted");
            return EXIT_STORE_FAILED;
        } catch (Exception e) {
            err.println("sandboxd keys: " + e.getMessage());
            return EXIT_STORE_FAILED;
        }
    }

    @FunctionalInterface
    interface StoreBody {
        int run(Store store) throws Exception;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create an API key (or, with --access-token, an access token) and print it once.")
    static final class Create implements Callable<Integer> {
        @Mixin
        StoreOptions store = new StoreOptions();

        @Option(names = "--name", defaultValue = "cli", description = "A label shown by 'keys list'.")
        String name;

        @Option(names = "--access-token", description = "Create an sk_e2b_ access token instead of an e2b_ API key.")
        boolean accessToken;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            return withStore(store, spec.commandLine().getErr(), s -> {
                Team team = s.teams().ensureDefault();
                KeyRepository.Created created = s.keys().create(accessToken ? KeyHash.ACCESS_TOKEN : KeyHash.API_KEY,
                        team, name);
                out.println(created.plaintext());
                out.println("id " + created.info().id() + " (" + kindLabel(created.info().kind()) + ", team "
                        + team.name() + "): store it now, it is not shown again.");
                out.flush();
                return EXIT_OK;
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List keys and tokens (masked).")
    static final class ListKeys implements Callable<Integer> {
        @Mixin
        StoreOptions store = new StoreOptions();

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            return withStore(store, spec.commandLine().getErr(), s -> {
                List<KeyRepository.KeyInfo> keys = s.keys().list();
                String format = "%-36s  %-12s  %-10s  %-16s  %-20s  %-20s  %-20s%n";
                out.printf(format, "ID", "KIND", "TEAM", "MASK", "CREATED", "LAST USED", "REVOKED");
                for (KeyRepository.KeyInfo k : keys) {
                    out.printf(format, k.id(), kindLabel(k.kind()),
                            k.teamName(), k.mask(), time(k.createdAt()), time(k.lastUsedAt()), time(k.revokedAt()));
                }
                out.flush();
                return EXIT_OK;
            });
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a key or token by its ID.")
    static final class Revoke implements Callable<Integer> {
        @Mixin
        StoreOptions store = new StoreOptions();

        @Parameters(paramLabel = "ID", description = "The ID shown by 'keys create' and 'keys list'.")
        UUID id;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            return withStore(store, spec.commandLine().getErr(), s -> {
                if (!s.keys().revoke(id)) {
                    spec.commandLine().getErr().println("sandboxd keys: no live key or token with id " + id);
                    return EXIT_NOT_FOUND;
                }
                spec.commandLine().getOut().println("revoked " + id);
                spec.commandLine().getOut().flush();
                return EXIT_OK;
            });
        }
    }
}
