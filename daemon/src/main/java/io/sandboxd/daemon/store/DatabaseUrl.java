package io.sandboxd.daemon.store;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * Where an external PostgreSQL is: {@code --database-url} as a JDBC URL ({@code jdbc:postgresql://host/db?user=…})
 * or a libpq URI ({@code postgres://user:password@host:5432/db}), which is what most people have at hand.
 */
public record DatabaseUrl(String jdbcUrl, String user, String password) {

    public static DatabaseUrl parse(String url) {
        if (url.startsWith("jdbc:postgresql:")) {
            return new DatabaseUrl(url, null, null);
        }
        if (!url.startsWith("postgres://") && !url.startsWith("postgresql://")) {
            throw new IllegalArgumentException("--database-url must be jdbc:postgresql://… or postgres://user:pass@host"
                    + ":port/db, got '" + url + "'");
        }
        try {
            URI u = new URI(url);
            if (u.getHost() == null) {
                throw new IllegalArgumentException("--database-url has no host: '" + url + "'");
            }
            String user = null;
            String password = null;
            if (u.getRawUserInfo() != null) {
                String[] parts = u.getRawUserInfo().split(":", 2);
                user = URLDecoder.decode(parts[0], StandardCharsets.UTF_8);
                password = parts.length > 1 ? URLDecoder.decode(parts[1], StandardCharsets.UTF_8) : null;
            }
            String jdbc = "jdbc:postgresql://" + u.getHost() + (u.getPort() < 0 ? "" : ":" + u.getPort())
                    + (u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath())
                    + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
            return new DatabaseUrl(jdbc, user, password);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("--database-url is not a valid URI: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return jdbcUrl + (user == null ? "" : " as " + user); // never the password
    }
}
