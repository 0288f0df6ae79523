package io.sandboxd.envd.auth;

import io.sandboxd.envd.EnvdState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Optional;

/**
 * Who is calling (spec 3.2): the access token check and the user a request acts as. Shared by the Connect layer
 * and the plain HTTP routes ({@code /files}).
 */
public final class EnvdAuth {
    /** The body upstream envd sends with a 401 for a missing or wrong {@code X-Access-Token}. */
    public static final String UNAUTHORIZED_MESSAGE =
            "unauthorized access, please provide a valid access token or method signing if supported";

    private final EnvdState state;
    private final UserDatabase users;

    public EnvdAuth(EnvdState state, UserDatabase users) {
        this.state = state;
        this.users = users;
    }

    public EnvdState state() {
        return state;
    }

    public UserDatabase users() {
        return users;
    }

    /** True when no token is set, or {@code headerValue} equals it (compared in constant time). */
    public boolean tokenAccepted(String headerValue) {
        Optional<String> token = state.accessToken();
        if (token.isEmpty()) {
            return true;
        }
        return headerValue != null && constantTimeEquals(token.get(), headerValue);
    }

    /** True when a token is set and {@code headerValue} is present and equal to it. */
    public boolean tokenPresentAndValid(String headerValue) {
        Optional<String> token = state.accessToken();
        return token.isPresent() && headerValue != null && constantTimeEquals(token.get(), headerValue);
    }

    /**
     * The account for {@code username}, or for the default user when it is null or empty. Empty when no such
     * account exists (callers answer {@code unauthenticated} / 401).
     */
    public Optional<UserAccount> user(String username) {
        String name = username == null || username.isEmpty() ? state.defaultUser() : username;
        return users.byName(name);
    }

    /**
     * The user name in {@code Authorization: Basic base64(user:password)} (password ignored), or null when the
     * header is absent.
     *
     * @throws IllegalArgumentException when the header is present but not Basic auth, so a caller refuses it
     *         instead of silently acting as the default user
     */
    public static String basicAuthUser(String authorization) {
        if (authorization == null) {
            return null;
        }
        String v = authorization.trim();
        if (!v.regionMatches(true, 0, "Basic ", 0, 6)) {
            throw new IllegalArgumentException("Authorization is not Basic auth");
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(v.substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Authorization Basic credentials are not base64", e);
        }
        int colon = decoded.indexOf(':');
        return colon < 0 ? decoded : decoded.substring(0, colon);
    }

    /**
     * A request path as the user means it: {@code ~} and {@code ~/x} expand to the home directory, relative paths
     * resolve against the default workdir, else the home directory. The result is normalized, not canonicalised
     * (symlinks are the caller's business).
     *
     * @throws java.nio.file.InvalidPathException for {@code ~name} (another user's home, which upstream refuses to
     *         expand too) and for paths the file system cannot hold (a NUL byte)
     */
    public Path resolvePath(String path, UserAccount user) {
        Path home = user.home();
        Path p;
        if (path.startsWith("~") && !path.equals("~") && !path.startsWith("~/")) {
            throw new java.nio.file.InvalidPathException(path,
                    "cannot expand another user's home directory (~name); give the path in full");
        }
        if (path.equals("~")) {
            p = home;
        } else if (path.startsWith("~/")) {
            p = home.resolve(path.substring(2));
        } else {
            Path given = Path.of(path);
            p = given.isAbsolute() ? given : state.defaultWorkdir().map(Path::of).orElse(home).resolve(given);
        }
        return p.normalize();
    }

    private static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
