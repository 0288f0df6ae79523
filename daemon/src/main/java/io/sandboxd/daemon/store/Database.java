package io.sandboxd.daemon.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The connection pool, with the schema migrated to the version this build ships
 * ({@code db/migration/V*__*.sql}) before anyone uses it.
 */
public final class Database implements AutoCloseable {
    private final HikariDataSource pool;
    private final int migrationsApplied;

    private Database(HikariDataSource pool, int migrationsApplied) {
        this.pool = pool;
        this.migrationsApplied = migrationsApplied;
    }

    public static Database open(DatabaseUrl url, int maxConnections) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("sandboxd-store");
        config.setJdbcUrl(url.jdbcUrl());
        if (url.user() != null) {
            config.setUsername(url.user());
        }
        if (url.password() != null) {
            config.setPassword(url.password());
        }
        config.setMaximumPoolSize(maxConnections);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(10_000);
        config.setInitializationFailTimeout(10_000);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot connect to PostgreSQL at " + url + ": " + rootMessage(e), e);
        }
        try {
            MigrateResult result = Flyway.configure()
                    .dataSource(pool)
                    .locations("classpath:db/migration")
                    .load()
                    .migrate();
            return new Database(pool, result.migrationsExecuted);
        } catch (RuntimeException e) {
            pool.close();
            throw new IllegalStateException("cannot migrate the sandboxd schema at " + url + ": " + rootMessage(e), e);
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage();
    }

    public DataSource dataSource() {
        return pool;
    }

    public Connection connection() throws SQLException {
        return pool.getConnection();
    }

    /** How many migrations this open applied (0 when the schema was already current). */
    public int migrationsApplied() {
        return migrationsApplied;
    }

    @Override
    public void close() {
        pool.close();
    }
}
