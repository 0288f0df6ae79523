package io.sandboxd.daemon.network;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.daemon.host.HostAssumptions;
import io.sandboxd.daemon.host.HostCommand;
import io.sandboxd.daemon.host.HostException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class NftSessionTest {
    private static final String TABLE = "sbxsess";
    private NftSession nft;

    @BeforeEach
    void start() {
        HostAssumptions.assumeNetworkHost();
        HostCommand.run(List.of("nft", "delete", "table", "inet", TABLE));
        nft = new NftSession();
    }

    @AfterEach
    void stop() {
        if (nft != null) {
            nft.close();
            HostCommand.run(List.of("nft", "delete", "table", "inet", TABLE));
        }
    }

    private static boolean tableHasSet(String set) {
        return HostCommand.run(List.of("nft", "list", "set", "inet", TABLE, set)).ok();
    }

    @Test
    void aLineIsOneTransactionAndItsErrorIsReported() {
        nft.apply("add table inet " + TABLE, "add set inet " + TABLE + " a { type ifname; }");
        assertTrue(tableHasSet("a"));
        HostException e = assertThrows(HostException.class, () -> nft.apply("add set inet " + TABLE + " b { type ifname; }",
                "add element inet " + TABLE + " nosuchset { \"x\" }"));
        assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
        assertFalse(tableHasSet("b"), "nothing of a refused line took effect");
        nft.apply("add set inet " + TABLE + " c { type ifname; }");
        assertTrue(tableHasSet("c"), "the session goes on after a refused line");
    }

    @Test
    void aDeadProcessIsReplaced() throws Exception {
        nft.apply("add table inet " + TABLE);
        ProcessHandle first = ProcessHandle.of(nft.pid()).orElseThrow();
        first.destroyForcibly();
        first.onExit().join();
        // the first call after the death may report it; the next one runs on a new process
        try {
            nft.apply("add set inet " + TABLE + " d { type ifname; }");
        } catch (HostException reported) {
            nft.apply("add set inet " + TABLE + " d { type ifname; }");
        }
        assertTrue(tableHasSet("d"));
    }

    @Test
    void lineBreaksAreRefusedBeforeReachingNft() {
        assertThrows(IllegalArgumentException.class, () -> nft.apply("add table inet " + TABLE + "\nflush ruleset"));
        assertFalse(HostCommand.run(List.of("nft", "list", "table", "inet", TABLE)).ok(), "not even the first part ran");
    }
}
