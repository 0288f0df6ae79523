package io.sandboxd.api.secret;

import io.sandboxd.api.auth.Team;
import java.util.List;
import java.util.Map;

/**
 * Port: the team secrets behind {@code /secrets}. Values go in and never come out; {@code idOrName} is a
 * {@code sec_} identifier or a name (matched lower-cased). Another team's secret is treated as absent. Refusals are
 * {@link io.sandboxd.api.sandbox.SandboxException}s (INVALID 400, NOT_FOUND 404, CONFLICT 409) whose messages never
 * carry a value.
 */
public interface SecretService {
    /** A page of the team's secrets and the token of the next page (null: this was the last). */
    record Page(List<SecretInfo> secrets, String nextToken) {
        public Page {
            secrets = List.copyOf(secrets);
        }
    }

    /** Version 1 of a new secret; CONFLICT when the team has a secret of that name. */
    SecretInfo create(Team team, String name, String value, Map<String, String> metadata);

    /** Stores {@code value} as the next version; {@code metadata} null keeps the stored metadata. */
    SecretInfo update(Team team, String idOrName, String value, Map<String, String> metadata);

    SecretInfo get(Team team, String idOrName);

    /** Oldest first; {@code nextToken} from a previous page, or null. */
    Page list(Team team, int limit, String nextToken);

    /** Deletes the secret; NOT_FOUND when absent. */
    void destroy(Team team, String idOrName);
}
