package io.sandboxd.bench;

import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.network.NftSession;
import java.util.Arrays;
import java.util.List;

/**
 * One sandbox's egress change (the transaction {@code PUT /network} or a restricted create writes: flush its chain,
 * its allow and deny rules, its verdict-map entries) through the daemon's persistent {@code nft -i} session
 * against the same transaction as one {@code nft -f -} process per change, alternating in one run. Works on a
 * scratch table of its own; needs root and nftables.
 *
 * <pre>
 * ./mvnw -q -pl bench -am -DskipTests package
 * java -cp daemon/target/sandboxd.jar:bench/target/classes io.sandboxd.bench.EgressRuleUpdateRunner [rounds]
 * </pre>
 */
public final class EgressRuleUpdateRunner {
    private static final String TABLE = "inet sbxbench";

    private EgressRuleUpdateRunner() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        HostCommand.run(List.of("nft", "delete", "table", "inet", "sbxbench"));
        HostCommand.check(List.of("nft", "-f", "-"), "table " + TABLE + " {\n map filters { type ifname : verdict; }\n"
                + " chain out_b1 { }\n}\n");
        List<String> change = List.of("flush chain " + TABLE + " out_b1",
                "add rule " + TABLE + " out_b1 ip daddr { 1.1.1.1, 8.8.8.0/24 } accept",
                "add rule " + TABLE + " out_b1 ip daddr { 9.9.9.9 } drop",
                "add rule " + TABLE + " out_b1 meta nfproto ipv4 accept",
                "add element " + TABLE + " filters { \"b1\" : jump out_b1 }");
        long[] session = new long[rounds];
        long[] process = new long[rounds];
        try (NftSession nft = new NftSession()) {
            nft.apply(change); // start the process outside the measurement, as the daemon does once
            for (int i = 0; i < rounds; i++) {
                long t0 = System.nanoTime();
                nft.apply(change);
                long t1 = System.nanoTime();
                HostCommand.check(List.of("nft", "-f", "-"), String.join("\n", change) + "\n");
                long t2 = System.nanoTime();
                session[i] = t1 - t0;
                process[i] = t2 - t1;
            }
        } finally {
            HostCommand.run(List.of("nft", "delete", "table", "inet", "sbxbench"));
        }
        System.out.printf("| one sandbox's egress change (%d rounds, alternating) | p50 | p99 |%n", rounds);
        System.out.println("|---|---|---|");
        row("persistent `nft -i` session (the daemon)", session);
        row("`nft -f -` process per change", process);
        System.out.printf("| ratio process / session (p50) | %.1fx | |%n", pct(process, 50) / pct(session, 50));
    }

    private static void row(String name, long[] ns) {
        System.out.printf("| %s | %.2f ms | %.2f ms |%n", name, pct(ns, 50) / 1e6, pct(ns, 99) / 1e6);
    }

    private static double pct(long[] ns, int p) {
        long[] s = ns.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(p / 100.0 * s.length) - 1)];
    }
}
