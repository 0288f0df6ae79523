package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.auth.Team;
import io.sandboxd.daemon.store.SandboxRepository.Filter;
import io.sandboxd.daemon.store.SandboxRepository.Lifecycle;
import io.sandboxd.daemon.store.SandboxRepository.SandboxRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SandboxRepositoryTest {
    static final Instant T0 = Instant.parse("2026-03-04T05:06:07.123456Z");
    static final Set<Lifecycle> ALL = EnumSet.allOf(Lifecycle.class);
    Store store;
    Team team;
    UUID build;
    SandboxRepository sandboxes;

    @BeforeEach
    void open() throws Exception {
        store = Store.over(TestPostgres.freshDatabase());
        team = store.teams().ensureDefault();
        store.templates().create("base1", null, true, 2, 512, List.of("base"));
        store.templates().create("py1", null, true, 2, 512, List.of("python"));
        build = store.templates().createBuild("base1", 2, 512, 1024, "jail").id();
        sandboxes = store.sandboxes();
    }

    @AfterEach
    void close() {
        store.close();
    }

    SandboxRecord sandbox(String id, String template, Lifecycle state, Map<String, String> metadata, int second) {
        return new SandboxRecord(id, team.id(), template, build, null, state, metadata, 2, 512, 1024, "0.6.13",
                true, true, new NetworkRow(false, List.of("example.com"), List.of("0.0.0.0/0"), "${PORT}.x"),
                false, true, true, "jail", T0.plusSeconds(second), T0.plusSeconds(second + 300));
    }

    @Test
    void roundTripsEveryColumn() {
        SandboxRecord s = sandbox("sbx1", "base1", Lifecycle.CREATING, Map.of("user id", "a&b", "k", "v"), 0);
        sandboxes.insert(s);
        assertEquals(Optional.of(s), sandboxes.find("sbx1"));
        assertEquals(Optional.of(s), sandboxes.findForTeam(team.id(), "sbx1"));
        Team other = store.teams().ensure("other");
        assertEquals(Optional.empty(), sandboxes.findForTeam(other.id(), "sbx1"));
        assertThrows(StoreException.class, () -> sandboxes.insert(s), "IDs are unique");
    }

    @Test
    void transitionsAreCompareAndSet() throws Exception {
        sandboxes.insert(sandbox("sbx1", "base1", Lifecycle.RUNNING, Map.of(), 0));
        assertFalse(sandboxes.transition("sbx1", Lifecycle.PAUSED, Lifecycle.RESUMING));
        // Eight concurrent pause requests: exactly one wins the running -> pausing move.
        try (var pool = Executors.newFixedThreadPool(8)) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Callable<Boolean> pause = () -> sandboxes.transition("sbx1", Lifecycle.RUNNING, Lifecycle.PAUSING);
                results.add(pool.submit(pause));
            }
            int winners = 0;
            for (Future<Boolean> f : results) {
                winners += f.get() ? 1 : 0;
            }
            assertEquals(1, winners);
        }
        assertEquals(Lifecycle.PAUSING, sandboxes.find("sbx1").orElseThrow().state());
        assertTrue(sandboxes.delete("sbx1"));
        assertFalse(sandboxes.delete("sbx1"));
    }

    @Test
    void ttlCanBeSetShortenedOrOnlyExtended() {
        sandboxes.insert(sandbox("sbx1", "base1", Lifecycle.RUNNING, Map.of(), 0));
        Instant end = sandboxes.find("sbx1").orElseThrow().endAt();
        assertTrue(sandboxes.extendEndAt("sbx1", end.minusSeconds(100)));
        assertEquals(end, sandboxes.find("sbx1").orElseThrow().endAt(), "extend never shortens");
        sandboxes.extendEndAt("sbx1", end.plusSeconds(100));
        assertEquals(end.plusSeconds(100), sandboxes.find("sbx1").orElseThrow().endAt());
        sandboxes.setEndAt("sbx1", T0.plusSeconds(1));
        assertEquals(T0.plusSeconds(1), sandboxes.find("sbx1").orElseThrow().endAt(), "set may shorten");
        assertEquals(List.of("sbx1"), sandboxes.expired(T0.plusSeconds(1)).stream().map(SandboxRecord::id).toList());
        assertEquals(List.of(), sandboxes.expired(T0));
        assertFalse(sandboxes.setEndAt("nope", T0));
    }

    @Test
    void pagesWithFiltersAndKeysetTokens() {
        for (int i = 0; i < 7; i++) {
            sandboxes.insert(sandbox("sbx" + i, i % 2 == 0 ? "base1" : "py1",
                    i == 6 ? Lifecycle.PAUSED : Lifecycle.RUNNING, Map.of("n", Integer.toString(i % 3), "all", "y"),
                    i));
        }
        List<String> seen = new ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            var page = sandboxes.page(team.id(), new Filter(ALL, Map.of(), null, null, false), 3, token);
            page.sandboxes().forEach(s -> seen.add(s.id()));
            token = page.nextToken();
            pages++;
        } while (token != null);
        assertEquals(3, pages);
        assertEquals(List.of("sbx6", "sbx5", "sbx4", "sbx3", "sbx2", "sbx1", "sbx0"), seen);

        var asc = sandboxes.page(team.id(), new Filter(ALL, Map.of(), null, null, true), 2, null);
        assertEquals(List.of("sbx0", "sbx1"), asc.sandboxes().stream().map(SandboxRecord::id).toList());
        var next = sandboxes.page(team.id(), new Filter(ALL, Map.of(), null, null, true), 2, asc.nextToken());
        assertEquals(List.of("sbx2", "sbx3"), next.sandboxes().stream().map(SandboxRecord::id).toList());

        assertEquals(List.of("sbx6"), ids(new Filter(EnumSet.of(Lifecycle.PAUSED), Map.of(), null, null, true)));
        assertEquals(List.of("sbx0", "sbx3", "sbx6"), ids(new Filter(ALL, Map.of("n", "0"), null, null, true)));
        assertEquals(List.of("sbx0", "sbx3"),
                ids(new Filter(EnumSet.of(Lifecycle.RUNNING), Map.of("n", "0", "all", "y"), null, null, true)));
        assertEquals(List.of(), ids(new Filter(ALL, Map.of("n", "0", "all", "n"), null, null, true)));
        assertEquals(List.of("sbx1", "sbx3", "sbx5"), ids(new Filter(ALL, Map.of(), "python", null, true)));
        assertEquals(List.of("sbx1", "sbx3", "sbx5"), ids(new Filter(ALL, Map.of(), "py1", null, true)));
        assertEquals(List.of("sbx5", "sbx6"), ids(new Filter(ALL, Map.of(), null, T0.plusSeconds(4), true)));
        var all = sandboxes.page(team.id(), new Filter(ALL, Map.of(), null, null, true), Integer.MAX_VALUE, null);
        assertEquals(7, all.sandboxes().size());
        assertNull(all.nextToken());

        Team other = store.teams().ensure("other");
        assertEquals(List.of(), sandboxes.page(other.id(), new Filter(ALL, Map.of(), null, null, true), 10, null)
                .sandboxes());
        for (String bad : new String[] {"garbage!", "bm9jb2xvbg", "MTIzOkFCQw"}) {
            assertThrows(IllegalArgumentException.class,
                    () -> sandboxes.page(team.id(), new Filter(ALL, Map.of(), null, null, true), 2, bad), bad);
        }
        assertEquals(List.of("sbx0", "sbx1", "sbx2", "sbx3", "sbx4", "sbx5", "sbx6"),
                sandboxes.inStates(ALL).stream().map(SandboxRecord::id).toList());
    }

    private List<String> ids(Filter f) {
        return sandboxes.page(team.id(), f, 100, null).sandboxes().stream().map(SandboxRecord::id).toList();
    }

    @Test
    void theInsertsAsynchronousCommitStaysInsideItsTransaction() throws Exception {
        // two connections (the migration needs both), both borrowed after the insert: one is the insert's session
        Database two = Database.open(TestPostgres.freshDatabaseUrl(), 2);
        try (Store store2 = Store.over(two)) {
            Team t = store2.teams().ensureDefault();
            store2.templates().create("base1", null, true, 2, 512, List.of("base"));
            UUID b = store2.templates().createBuild("base1", 2, 512, 1024, "jail").id();
            SandboxRecord s = new SandboxRecord("sbxasync", t.id(), "base1", b, null, Lifecycle.RUNNING, Map.of(), 2,
                    512, 1024, "0.6.13", true, true, new NetworkRow(true, List.of(), List.of(), null), false, false,
                    false, "jail", T0, T0.plusSeconds(300));
            SandboxRecord refused = new SandboxRecord("not a valid id", s.teamId(), s.templateId(), s.buildId(), null,
                    s.state(), s.metadata(), 2, 512, 1024, "0.6.13", true, true, s.network(), false, false, false,
                    "jail", T0, T0.plusSeconds(300));
            assertThrows(StoreException.class, () -> store2.sandboxes().insert(refused), "rolled back, not committed");
            store2.sandboxes().insert(s);
            assertEquals(Optional.of(s), store2.sandboxes().find("sbxasync"), "committed");
            assertEquals(Optional.empty(), store2.sandboxes().find("not a valid id"));
            try (java.sql.Connection c1 = two.dataSource().getConnection();
                 java.sql.Connection c2 = two.dataSource().getConnection()) {
                for (java.sql.Connection c : List.of(c1, c2)) {
                    try (java.sql.Statement st = c.createStatement();
                         java.sql.ResultSet rs = st.executeQuery("SHOW synchronous_commit")) {
                        assertTrue(rs.next());
                        assertEquals("on", rs.getString(1), "every session still waits for the disk outside the insert");
                    }
                    assertTrue(c.getAutoCommit(), "connections went back to the pool as they came");
                }
            }
        }
    }

    @Test
    void nodesOfOneDatabaseReconcileAndTimeOutTheirOwnSandboxesButEveryoneReadsAll() throws Exception {
        DatabaseUrl url = TestPostgres.freshDatabaseUrl();
        try (Store a = Store.over(Database.open(url, 2), "node-a"); Store b = Store.over(Database.open(url, 2), "node-b")) {
            Team t = a.teams().ensureDefault();
            a.templates().create("base1", null, true, 2, 512, List.of("base"));
            UUID bld = a.templates().createBuild("base1", 2, 512, 1024, "jail").id();
            for (Store s : List.of(a, b)) {
                String id = s == a ? "sbxa" : "sbxb";
                s.sandboxes().insert(new SandboxRecord(id, t.id(), "base1", bld, null, Lifecycle.RUNNING, Map.of(), 2,
                        512, 1024, "0.6.13", false, true, new NetworkRow(true, List.of(), List.of(), null), false,
                        false, false, "jail", T0, T0.plusSeconds(1)));
            }
            assertEquals(List.of("sbxa"), a.sandboxes().inStates(ALL).stream().map(SandboxRecord::id).toList());
            assertEquals(List.of("sbxb"), b.sandboxes().expired(T0.plusSeconds(5)).stream().map(SandboxRecord::id).toList());
            assertTrue(a.sandboxes().find("sbxb").isPresent(), "reads see every node's rows");
            assertEquals(Optional.of("node-b"), a.sandboxes().nodeOf("sbxb"));
            assertEquals(Optional.empty(), a.sandboxes().nodeOf("nosuch"));
            assertEquals(2, a.sandboxes().page(t.id(), new SandboxRepository.Filter(ALL, Map.of(), null, null, true), 10,
                    null).sandboxes().size());
        }
    }
}
