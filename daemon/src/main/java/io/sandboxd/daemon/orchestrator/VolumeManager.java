package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.auth.SandboxTokens;
import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.VolumeMount;
import io.sandboxd.api.volume.EntryStat;
import io.sandboxd.api.volume.Ownership;
import io.sandboxd.api.volume.VolumeFiles;
import io.sandboxd.api.volume.VolumeInfo;
import io.sandboxd.api.volume.VolumeService;
import io.sandboxd.daemon.store.StoreException;
import io.sandboxd.daemon.store.VolumeRepository;
import io.sandboxd.daemon.store.VolumeRepository.MountRecord;
import io.sandboxd.daemon.store.VolumeRepository.VolumeRecord;
import io.sandboxd.daemon.volume.VolumePathException;
import io.sandboxd.daemon.volume.VolumeTree;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Team volumes: a row in the store and a directory {@code <data-dir>/volumes/<volumeID>/} each (no size quota: a
 * volume can fill the data dir's file system). Sandboxes mount them by name at create; a mounted volume cannot be
 * destroyed (409) until the sandboxes that mount it are gone. The content API's token is derived
 * ({@link SandboxTokens#volumeToken}) and only its hash is stored.
 */
public final class VolumeManager implements VolumeService {
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A mount the orchestrator has checked: which volume, its directory on the host, and where it goes. */
    public record ResolvedMount(String volumeId, String volumeName, Path hostDir, String path) {}

    private final VolumeRepository volumes;
    private final Path volumesDir;
    private final SandboxTokens tokens;
    private final Clock clock;

    public VolumeManager(VolumeRepository volumes, Path volumesDir, SandboxTokens tokens, Clock clock) {
        this.volumes = volumes;
        this.volumesDir = volumesDir;
        this.tokens = tokens;
        this.clock = clock;
    }

    /** The directory volumes live in under a data dir. */
    public static Path volumesDir(Path dataDir) {
        return dataDir.resolve("volumes");
    }

    @Override
    public VolumeInfo create(Team team, String name) {
        if (!NAME.matcher(name).matches()) {
            throw SandboxException.invalid("Volume name must be 1-64 letters, digits, '_' or '-' (^[a-zA-Z0-9_-]+$), "
                    + "got '" + (name.length() > 64 ? name.substring(0, 64) + "..." : name) + "'");
        }
        if (store(() -> volumes.findByName(team.id(), name)).isPresent()) {
            throw duplicate(name);
        }
        String id = SandboxIds.next();
        String salt = HexFormat.of().formatHex(randomBytes());
        String token = tokens.volumeToken(id, salt);
        VolumeTree tree = files(() -> VolumeTree.create(volumesDir.resolve(id)));
        try {
            volumes.insert(new VolumeRecord(id, team.id(), name, salt, hash(token), clock.instant()));
        } catch (VolumeRepository.DuplicateNameException e) {
            tree.removeAll();
            throw duplicate(name);
        } catch (StoreException e) {
            tree.removeAll();
            throw new SandboxException(SandboxException.Reason.FAILED, "recording volume '" + name + "': "
                    + e.getMessage(), e);
        }
        return new VolumeInfo(id, name, token);
    }

    @Override
    public List<VolumeInfo> list(Team team) {
        return store(() -> volumes.forTeam(team.id())).stream().map(v -> new VolumeInfo(v.id(), v.name(), null))
                .toList();
    }

    @Override
    public VolumeInfo get(Team team, String volumeId) {
        VolumeRecord v = find(team, volumeId);
        return new VolumeInfo(v.id(), v.name(), tokens.volumeToken(v.id(), v.tokenSalt()));
    }

    @Override
    public void destroy(Team team, String volumeId) {
        VolumeRecord v = find(team, volumeId);
        try {
            if (!volumes.delete(v.id())) {
                throw notFound(volumeId);
            }
        } catch (VolumeRepository.InUseException e) {
            List<String> by = store(() -> volumes.mountedBy(v.id()));
            throw SandboxException.conflict("volume '" + v.name() + "' is mounted by sandbox" + (by.size() == 1 ? " " : "es ")
                    + String.join(", ", by) + "; kill " + (by.size() == 1 ? "it" : "them") + " before destroying the volume");
        } catch (StoreException e) {
            throw new SandboxException(SandboxException.Reason.FAILED, e.getMessage(), e);
        }
        files(() -> {
            new VolumeTree(volumesDir.resolve(v.id())).removeAll();
            return null;
        });
    }

    @Override
    public Optional<VolumeFiles> files(String volumeId, String token) {
        Optional<VolumeRecord> v = store(() -> volumes.find(volumeId));
        if (v.isEmpty() || !MessageDigest.isEqual(hash(token).getBytes(StandardCharsets.UTF_8),
                v.get().tokenHash().getBytes(StandardCharsets.UTF_8))) {
            return Optional.empty();
        }
        return Optional.of(new Files(new VolumeTree(volumesDir.resolve(volumeId))));
    }

    /**
     * Checks a create's {@code volumeMounts} before anything starts: paths (see {@link VolumeMountPaths}), then the
     * team's volumes by name (NOT_FOUND for an unknown one).
     */
    public List<ResolvedMount> resolve(Team team, List<VolumeMount> mounts) {
        VolumeMountPaths.check(mounts.stream().map(VolumeMount::path).toList());
        List<ResolvedMount> out = new ArrayList<>();
        for (VolumeMount m : mounts) {
            VolumeRecord v = store(() -> volumes.findByName(team.id(), m.name())).orElseThrow(() ->
                    new SandboxException(SandboxException.Reason.NOT_FOUND, "volume '" + m.name() + "' (to be mounted "
                            + "at " + m.path() + ") doesn't exist or you don't have access to it"));
            out.add(new ResolvedMount(v.id(), v.name(), volumesDir.resolve(v.id()), m.path()));
        }
        return out;
    }

    /** Records that the sandbox (whose row exists) mounts these, so destroy refuses until it is killed. */
    void recordMounts(String sandboxId, List<ResolvedMount> mounts) {
        volumes.addMounts(sandboxId, mounts.stream().map(m -> new MountRecord(m.volumeId(), m.volumeName(), m.path()))
                .toList());
    }

    List<VolumeMount> mountsOf(String sandboxId) {
        return store(() -> volumes.mountsOf(sandboxId)).stream().map(m -> new VolumeMount(m.volumeName(), m.path()))
                .toList();
    }

    private VolumeRecord find(Team team, String volumeId) {
        return store(() -> volumes.findForTeam(team.id(), volumeId)).orElseThrow(() -> notFound(volumeId));
    }

    private static SandboxException notFound(String volumeId) {
        return new SandboxException(SandboxException.Reason.NOT_FOUND, "volume \"" + volumeId
                + "\" doesn't exist or you don't have access to it");
    }

    private static SandboxException duplicate(String name) {
        return SandboxException.conflict("a volume named '" + name + "' already exists in this team");
    }

    static String hash(String token) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
            return "$sha256$" + Base64.getEncoder().withoutPadding().encodeToString(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return b;
    }

    private static <T> T store(Supplier<T> call) {
        try {
            return call.get();
        } catch (StoreException e) {
            throw new SandboxException(SandboxException.Reason.FAILED, e.getMessage(), e);
        }
    }

    /** Runs a file operation and maps its refusal to the API's reasons (one mapping, here). */
    static <T> T files(Supplier<T> call) {
        try {
            return call.get();
        } catch (VolumePathException e) {
            SandboxException.Reason reason = switch (e.kind()) {
                case NOT_FOUND -> SandboxException.Reason.NOT_FOUND;
                case INVALID -> SandboxException.Reason.INVALID;
                case CONFLICT -> SandboxException.Reason.CONFLICT;
                case FAILED -> SandboxException.Reason.FAILED;
            };
            throw new SandboxException(reason, e.getMessage(), e);
        }
    }

    /** The API's view of one volume's tree. */
    private record Files(VolumeTree tree) implements VolumeFiles {
        @Override
        public List<EntryStat> list(String path, int depth) {
            return files(() -> tree.list(path, depth));
        }

        @Override
        public EntryStat stat(String path) {
            return files(() -> tree.stat(path));
        }

        @Override
        public EntryStat makeDir(String path, Ownership ownership, boolean parents) {
            return files(() -> tree.makeDir(path, ownership, parents));
        }

        @Override
        public byte[] read(String path) {
            return files(() -> tree.read(path));
        }

        @Override
        public EntryStat write(String path, byte[] content, Ownership ownership) {
            return files(() -> tree.write(path, content, ownership));
        }

        @Override
        public EntryStat updateMetadata(String path, Ownership ownership) {
            return files(() -> tree.updateMetadata(path, ownership));
        }

        @Override
        public void remove(String path) {
            files(() -> {
                tree.remove(path);
                return null;
            });
        }
    }
}
