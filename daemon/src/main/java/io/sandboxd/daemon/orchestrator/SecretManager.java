package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.secret.SecretInfo;
import io.sandboxd.api.secret.SecretService;
import io.sandboxd.daemon.secret.SecretCipher;
import io.sandboxd.daemon.store.SecretRepository;
import io.sandboxd.daemon.store.SecretRepository.SecretRecord;
import io.sandboxd.daemon.store.StoreException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Team secrets: a row each, the value sealed with {@link SecretCipher} bound to the row (id, team, version).
 * Sandboxes use them the way the SDK's {@code Secret.fill(name)} says, through the placeholder
 * {@code ${e2b.secrets.<name>}}: a create's {@code envVars} values are resolved here, so the process inside sees
 * the value in its environment. Nothing here logs or returns a value, and messages name secrets, never values.
 */
public final class SecretManager implements SecretService {
    /** Stored names: lower case (the API lower-cases what it is given), no braces or control characters. */
    static final Pattern NAME = Pattern.compile("[a-z0-9_.-]{1,128}");
    static final String ID_PREFIX = "sec_";
    static final Pattern ID = Pattern.compile("sec_[a-z0-9]{1,64}");
    /** What {@code Secret.fill} formats; a name is anything without braces (an unknown one is refused at create). */
    static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{e2b\\.secrets\\.([^{}]*)}");
    static final int MAX_VALUE_BYTES = 64 * 1024;
    static final int MAX_METADATA_ENTRIES = 32;
    static final int MAX_METADATA_KEY_BYTES = 128;
    static final int MAX_METADATA_VALUE_BYTES = 1024;
    static final int MAX_METADATA_BYTES = 8192;
    private static final int UPDATE_ATTEMPTS = 3;

    private final SecretRepository secrets;
    private final SecretCipher cipher;
    private final Clock clock;

    public SecretManager(SecretRepository secrets, SecretCipher cipher, Clock clock) {
        this.secrets = secrets;
        this.cipher = cipher;
        this.clock = clock;
    }

    @Override
    public SecretInfo create(Team team, String name, String value, Map<String, String> metadata) {
        String canonical = name(name);
        checkValue(value);
        checkMetadata(metadata);
        if (store(() -> secrets.findByName(team.id(), canonical)).isPresent()) {
            throw duplicate(canonical);
        }
        String id = ID_PREFIX + SandboxIds.next();
        Instant now = clock.instant();
        SecretCipher.Sealed sealed = cipher.seal(value, SecretCipher.binding(id, team.id(), 1));
        SecretRecord row = new SecretRecord(id, team.id(), canonical, 1, metadata, sealed.nonce(), sealed.ciphertext(),
                now, now);
        try {
            store(() -> {
                secrets.insert(row);
                return null;
            });
        } catch (SecretRepository.DuplicateNameException e) {
            throw duplicate(canonical);
        }
        return info(row);
    }

    @Override
    public SecretInfo update(Team team, String idOrName, String value, Map<String, String> metadata) {
        checkValue(value);
        if (metadata != null) {
            checkMetadata(metadata);
        }
        for (int attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
            SecretRecord current = find(team, idOrName);
            long version = current.version() + 1;
            SecretCipher.Sealed sealed = cipher.seal(value, SecretCipher.binding(current.id(), team.id(), version));
            SecretRecord next = new SecretRecord(current.id(), team.id(), current.name(), version,
                    metadata == null ? current.metadata() : metadata, sealed.nonce(), sealed.ciphertext(),
                    current.createdAt(), clock.instant());
            if (store(() -> secrets.replaceVersion(next))) {
                return info(next);
            }
        }
        // still found but never at the version read: others keep updating it
        throw SandboxException.conflict("secret '" + idOrName + "' is being updated concurrently; retry");
    }

    @Override
    public SecretInfo get(Team team, String idOrName) {
        return info(find(team, idOrName));
    }

    @Override
    public Page list(Team team, int limit, String nextToken) {
        if (nextToken != null && (!ID.matcher(nextToken).matches()
                || store(() -> secrets.findForTeam(team.id(), nextToken)).isEmpty())) {
            throw SandboxException.invalid("nextToken is not one this API handed out for a listing of this team's "
                    + "secrets (or that secret was destroyed since): list again from the start");
        }
        List<SecretRecord> rows = store(() -> secrets.page(team.id(), nextToken, limit + 1));
        boolean more = rows.size() > limit;
        List<SecretRecord> page = more ? rows.subList(0, limit) : rows;
        return new Page(page.stream().map(SecretManager::info).toList(), more ? page.getLast().id() : null);
    }

    @Override
    public void destroy(Team team, String idOrName) {
        SecretRecord s = find(team, idOrName);
        if (!store(() -> secrets.delete(team.id(), s.id()))) {
            throw notFound(idOrName);
        }
    }

    /**
     * {@code envVars} with every {@code ${e2b.secrets.<name>}} in a value replaced by that secret's current value
     * (the team's; names matched lower-cased). Checked before a sandbox starts: an unknown name is 404, naming
     * the variable and the secret.
     */
    public Map<String, String> resolveEnv(Team team, Map<String, String> envVars) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : envVars.entrySet()) {
            Matcher m = PLACEHOLDER.matcher(e.getValue());
            if (!m.find()) {
                out.put(e.getKey(), e.getValue());
                continue;
            }
            StringBuilder resolved = new StringBuilder();
            m.reset();
            while (m.find()) {
                String name = m.group(1).toLowerCase(Locale.ROOT);
                SecretRecord s = (NAME.matcher(name).matches()
                        ? store(() -> secrets.findByName(team.id(), name)) : Optional.<SecretRecord>empty())
                        .orElseThrow(() -> new SandboxException(SandboxException.Reason.NOT_FOUND, "envVars."
                                + e.getKey() + " refers to secret '" + m.group(1) + "', which doesn't exist or you "
                                + "don't have access to it"));
                m.appendReplacement(resolved, Matcher.quoteReplacement(open(s)));
            }
            m.appendTail(resolved);
            out.put(e.getKey(), resolved.toString());
        }
        return out;
    }

    private String open(SecretRecord s) {
        try {
            return cipher.open(new SecretCipher.Sealed(s.nonce(), s.ciphertext()),
                    SecretCipher.binding(s.id(), s.teamId(), s.version()));
        } catch (SecretCipher.OpenFailedException e) {
            throw new SandboxException(SandboxException.Reason.FAILED, "secret '" + s.name() + "': " + e.getMessage(), e);
        }
    }

    private SecretRecord find(Team team, String idOrName) {
        Optional<SecretRecord> found;
        if (idOrName.startsWith(ID_PREFIX)) {
            found = ID.matcher(idOrName).matches() ? store(() -> secrets.findForTeam(team.id(), idOrName))
                    : Optional.empty();
        } else {
            String name = idOrName.toLowerCase(Locale.ROOT);
            found = NAME.matcher(name).matches() ? store(() -> secrets.findByName(team.id(), name)) : Optional.empty();
        }
        return found.orElseThrow(() -> notFound(idOrName));
    }

    /** The canonical (lower-cased) name, or 400 saying what a name may be. */
    static String name(String name) {
        String canonical = name.toLowerCase(Locale.ROOT);
        if (canonical.startsWith(ID_PREFIX)) {
            throw SandboxException.invalid("Secret names cannot start with 'sec_': that prefix is reserved for secret "
                    + "IDs");
        }
        if (!NAME.matcher(canonical).matches()) {
            throw SandboxException.invalid("Secret name must be 1-128 letters, digits, '_', '.' or '-' (stored "
                    + "lower-cased), got '" + (name.length() > 128 ? name.substring(0, 128) + "..." : name) + "'");
        }
        return canonical;
    }

    /** Never quotes the value: only its size is named. */
    static void checkValue(String value) {
        int bytes = value.getBytes(StandardCharsets.UTF_8).length;
        if (bytes == 0) {
            throw SandboxException.invalid("Field 'value' must not be empty");
        }
        if (bytes > MAX_VALUE_BYTES) {
            throw SandboxException.invalid("Field 'value' is " + bytes + " bytes; a secret value is at most "
                    + MAX_VALUE_BYTES + " bytes");
        }
        if (value.indexOf('\0') >= 0) {
            throw SandboxException.invalid("Field 'value' must not contain NUL characters (it can be placed in an "
                    + "environment variable)");
        }
    }

    static void checkMetadata(Map<String, String> metadata) {
        if (metadata.size() > MAX_METADATA_ENTRIES) {
            throw SandboxException.invalid("metadata has " + metadata.size() + " entries; at most "
                    + MAX_METADATA_ENTRIES + " are allowed");
        }
        int total = 0;
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            int k = e.getKey().getBytes(StandardCharsets.UTF_8).length;
            int v = e.getValue().getBytes(StandardCharsets.UTF_8).length;
            if (k == 0 || k > MAX_METADATA_KEY_BYTES) {
                throw SandboxException.invalid("metadata keys are 1-" + MAX_METADATA_KEY_BYTES + " bytes");
            }
            if (v > MAX_METADATA_VALUE_BYTES) {
                throw SandboxException.invalid("metadata." + e.getKey() + " is " + v + " bytes; values are at most "
                        + MAX_METADATA_VALUE_BYTES + " bytes");
            }
            total += k + v;
        }
        if (total > MAX_METADATA_BYTES) {
            throw SandboxException.invalid("metadata is " + total + " bytes in all; at most " + MAX_METADATA_BYTES
                    + " are allowed");
        }
    }

    private static SecretInfo info(SecretRecord s) {
        return new SecretInfo(s.id(), s.name(), s.version(), s.metadata(), s.createdAt(), s.updatedAt());
    }

    private static SandboxException notFound(String idOrName) {
        String shown = idOrName.length() > 140 ? idOrName.substring(0, 140) + "..." : idOrName;
        return new SandboxException(SandboxException.Reason.NOT_FOUND, "secret '" + shown
                + "' doesn't exist or you don't have access to it");
    }

    private static SandboxException duplicate(String name) {
        return SandboxException.conflict("a secret named '" + name + "' already exists");
    }

    private static <T> T store(Supplier<T> call) {
        try {
            return call.get();
        } catch (StoreException e) {
            throw new SandboxException(SandboxException.Reason.FAILED, e.getMessage(), e);
        }
    }
}
