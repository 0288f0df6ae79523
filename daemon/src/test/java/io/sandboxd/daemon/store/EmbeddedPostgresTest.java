package io.sandboxd.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class EmbeddedPostgresTest {
    private static int uidOf(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("Uid:")) {
                return Integer.parseInt(line.split("\\s+")[2]); // effective uid
            }
        }
        throw new AssertionError("no Uid line for " + pid);
    }

    @Test
    void runsTheMavenShippedServerAsAnUnprivilegedUser() throws Exception {
        EmbeddedPostgres pg = TestPostgres.server();
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW server_version")) {
            rs.next();
            assertTrue(rs.getString(1).startsWith("17."), rs.getString(1));
        }
        Path data = TestPostgres.dataDir().resolve("db/data");
        assertTrue(Files.exists(data.resolve("PG_VERSION")), "cluster under <data-dir>/db/data");
        if (EmbeddedPostgres.isRoot()) {
            OsUser user = OsUser.lookup(EmbeddedPostgres.SYSTEM_USER);
            assertEquals(user.uid(), uidOf(pg.pid()), "postgres runs as " + EmbeddedPostgres.SYSTEM_USER);
            assertNotEquals(0, uidOf(pg.pid()));
            assertEquals(EmbeddedPostgres.SYSTEM_USER, Files.getOwner(data).getName());
        } else {
            System.out.println("not root: the server runs as the current user, no " + EmbeddedPostgres.SYSTEM_USER);
        }
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(TestPostgres.dataDir().resolve("db/superuser.password"))));
    }

    @Test
    void aSecondProcessAttachesInsteadOfStartingAnother() throws Exception {
        EmbeddedPostgres owner = TestPostgres.server();
        EmbeddedPostgres attached = EmbeddedPostgres.startOrAttach(TestPostgres.dataDir().resolve("db"));
        assertFalse(attached.owned());
        assertEquals(owner.port(), attached.port());
        attached.close();
        try (Connection c = owner.connect("postgres")) {
            assertTrue(c.isValid(5), "closing an attachment leaves the server running");
        }
    }

    @Test
    void stopAndStartKeepsTheData() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "sandboxd-pg-restart-");
        try {
            long firstPid;
            try (EmbeddedPostgres pg = EmbeddedPostgres.startOrAttach(dir.resolve("db"))) {
                firstPid = pg.pid();
                try (Connection c = pg.connect(EmbeddedPostgres.DATABASE); Statement st = c.createStatement()) {
                    st.execute("CREATE TABLE kept (v text)");
                    st.execute("INSERT INTO kept VALUES ('survives')");
                }
            }
            assertFalse(ProcessHandle.of(firstPid).map(ProcessHandle::isAlive).orElse(false), "close stops it");
            assertFalse(Files.exists(dir.resolve("db/data/postmaster.pid")), "an orderly shutdown");
            try (EmbeddedPostgres pg = EmbeddedPostgres.startOrAttach(dir.resolve("db"));
                 Connection c = pg.connect(EmbeddedPostgres.DATABASE); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT v FROM kept")) {
                assertTrue(pg.owned());
                assertTrue(rs.next());
                assertEquals("survives", rs.getString(1));
            }
            assertTrue(Files.exists(dir.resolve("db/pg-" + EmbeddedPostgres.VERSION + "/.unpacked")),
                    "binaries unpacked once under <data-dir>/db");
        } finally {
            EmbeddedPostgres.deleteTree(dir);
        }
    }
}
