package io.sandboxd.daemon.store;

import io.sandboxd.api.auth.KeyHash;
import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.team.KeyMask;
import io.sandboxd.api.team.TeamKeys;
import java.util.List;
import java.util.UUID;

/**
 * The API's team-credential port over the key tables. Revocations also clear the authentication cache of
 * {@link StoreApiKeyStore}, so a credential revoked here is refused by the next request, not seconds later.
 */
public final class StoreTeamKeys implements TeamKeys {
    private final KeyRepository keys;
    private final StoreApiKeyStore authentication;
    private final SandboxTokens secrets;

    public StoreTeamKeys(KeyRepository keys, StoreApiKeyStore authentication, SandboxTokens secrets) {
        this.keys = keys;
        this.authentication = authentication;
        this.secrets = secrets;
    }

    @Override
    public List<KeyView> apiKeys(Team team) {
        return keys.listLive(KeyHash.API_KEY, team.id()).stream().map(StoreTeamKeys::view).toList();
    }

    @Override
    public Created createApiKey(Team team, String name) {
        return created(keys.create(KeyHash.API_KEY, team, name));
    }

    @Override
    public boolean renameApiKey(Team team, UUID id, String name) {
        return keys.rename(KeyHash.API_KEY, team.id(), id, name);
    }

    @Override
    public boolean revokeApiKey(Team team, UUID id) {
        return revoke(KeyHash.API_KEY, team, id);
    }

    @Override
    public Created createAccessToken(Team team, String name) {
        return created(keys.create(KeyHash.ACCESS_TOKEN, team, name));
    }

    @Override
    public boolean revokeAccessToken(Team team, UUID id) {
        return revoke(KeyHash.ACCESS_TOKEN, team, id);
    }

    @Override
    public String apiKeyForAccessToken(Team team, String accessToken) {
        String apiKey = secrets.teamApiKey(accessToken);
        KeyRepository.KeyInfo stored = keys.storeDerived(KeyHash.API_KEY, team,
                "cli login (" + KeyHash.ACCESS_TOKEN.mask(accessToken) + ")", apiKey);
        if (!stored.teamId().equals(team.id())) {
            throw new IllegalStateException("a derived API key is stored for another team");
        }
        if (stored.revoked()) {
            throw new RevokedKeyException("The API key of this access token (" + stored.mask() + ") was revoked; "
                    + "sign in with a new access token to get a new one");
        }
        return apiKey;
    }

    private boolean revoke(KeyHash kind, Team team, UUID id) {
        boolean revoked = keys.revoke(kind, team.id(), id);
        if (revoked) {
            authentication.forgetAll();
        }
        return revoked;
    }

    private static KeyView view(KeyRepository.KeyInfo k) {
        return new KeyView(k.id(), k.name(), KeyMask.parse(k.kind(), k.mask()), k.createdAt(), k.lastUsedAt());
    }

    private static Created created(KeyRepository.Created c) {
        return new Created(view(c.info()), c.plaintext());
    }
}
