package io.sandboxd.daemon.store;

import io.sandboxd.api.auth.ApiKeyStore;
import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.Team;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The API's credential port, answered from the key tables. A credential that authenticated is remembered for
 * {@link #REMEMBER}: every SDK call carries the key, and a store round trip per request (an UPDATE of
 * {@code last_used_at}, a synchronous commit) was the largest part of a create's API overhead. So
 * {@code last_used_at} is recorded at most once per period per key, and a key revoked with {@code sandboxd keys
 * revoke} (another process) stops working within that period. Unknown and revoked credentials are never
 * remembered: they hit the store every time.
 */
public final class StoreApiKeyStore implements ApiKeyStore {
    static final Duration REMEMBER = Duration.ofSeconds(5);
    private static final int MAX_REMEMBERED = 10_000;

    private record Remembered(Team team, long untilNanos) {}

    private final KeyRepository keys;
    private final long rememberNanos;
    private final ConcurrentHashMap<String, Remembered> remembered = new ConcurrentHashMap<>();

    public StoreApiKeyStore(KeyRepository keys) {
        this(keys, REMEMBER);
    }

    StoreApiKeyStore(KeyRepository keys, Duration remember) {
        this.keys = keys;
        this.rememberNanos = remember.toNanos();
    }

    @Override
    public Optional<Team> authenticateApiKey(String apiKey) {
        return authenticate(KeyHash.API_KEY, apiKey);
    }

    @Override
    public Optional<Team> authenticateAccessToken(String accessToken) {
        return authenticate(KeyHash.ACCESS_TOKEN, accessToken);
    }

    private Optional<Team> authenticate(KeyHash kind, String credential) {
        if (!kind.matches(credential)) {
            return Optional.empty();
        }
        String hash = kind.of(credential);
        long now = System.nanoTime();
        Remembered r = remembered.get(hash);
        if (r != null && now - r.untilNanos() < 0) {
            return Optional.of(r.team());
        }
        Optional<Team> team = keys.authenticate(kind, credential);
        if (team.isPresent()) {
            if (remembered.size() >= MAX_REMEMBERED) {
                remembered.clear(); // many distinct keys within seconds: forgetting costs one store trip each
            }
            remembered.put(hash, new Remembered(team.get(), now + rememberNanos));
        } else {
            remembered.remove(hash);
        }
        return team;
    }

    /** Forgets every remembered credential: one revoked through the API stops working at once in this process. */
    public void forgetAll() {
        remembered.clear();
    }
}
