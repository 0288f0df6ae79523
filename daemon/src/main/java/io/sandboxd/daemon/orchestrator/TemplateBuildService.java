package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.auth.Team;
import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.api.sandbox.SandboxException.Reason;
import io.sandboxd.api.template.BuildRequest;
import io.sandboxd.api.template.TemplateService;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.runtime.jail.JailRuntime;
import io.sandboxd.daemon.store.TemplateRepository;
import io.sandboxd.daemon.store.TemplateRepository.BuildRecord;
import io.sandboxd.daemon.store.TemplateRepository.BuildStatus;
import io.sandboxd.daemon.store.TemplateRepository.TemplateRecord;
import io.sandboxd.daemon.template.BaseTemplateBuilder;
import io.sandboxd.daemon.template.OciBaseImages;
import io.sandboxd.daemon.template.TemplateBuild;
import io.sandboxd.daemon.template.TemplateMetadata;
import io.sandboxd.daemon.template.TemplateStore;
import io.sandboxd.daemon.template.build.BuildLog;
import io.sandboxd.daemon.template.build.LayerCache;
import io.sandboxd.daemon.template.build.LayeredBuilder;
import io.sandboxd.daemon.template.build.Step;
import io.sandboxd.daemon.template.build.StepFailedException;
import io.sandboxd.daemon.template.build.StepHash;
import io.sandboxd.daemon.template.build.StepState;
import io.sandboxd.daemon.template.oci.OciException;
import io.sandboxd.daemon.template.oci.RegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

/**
 * Template builds for the jail runtime (the API's {@link TemplateService}): templates and builds in the store, the
 * uploaded files of COPY steps under {@code templates/_files/<teamID>/<hash>.tar}, the build itself by the
 * {@link LayeredBuilder} on one build thread, the finished build under {@code templates/<id>/<build>/} (its layer
 * list and {@code metadata.json}), then prepared by the runtime and registered for creates.
 */
public final class TemplateBuildService implements TemplateService, AutoCloseable {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,127}");
    private static final String DEFAULT_BASE_IMAGE = "e2bdev/base";
    static final int DEFAULT_CPU = 2;
    static final int DEFAULT_MEMORY_MB = 1024;
    /** A jail start plus the ready command's own limit ({@code StartCommand.READY_TIMEOUT}, 60 s). */
    static final Duration START_COMMAND_WAIT = Duration.ofSeconds(90);

    private final TemplateRepository repo;
    private final TemplateStore store;
    private final JailRuntime runtime;
    private final Orchestrator orchestrator;
    private final LayeredBuilder builder;
    private final OciBaseImages images;
    private final Clock clock;
    private final ExecutorService buildThread = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("template-build").daemon().factory());
    private final Map<UUID, BuildLog> logs = new ConcurrentHashMap<>();
    private final Map<UUID, String> failedSteps = new ConcurrentHashMap<>();
    /** The tags a build gets once it is ready (besides {@code default}, which always names the newest build). */
    private final Map<UUID, List<String>> pendingTags = new ConcurrentHashMap<>();
    /** "templateID/hash" → the upload link's token, for uploads not done yet. */
    private final Map<String, String> uploadTokens = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    public TemplateBuildService(TemplateRepository repo, TemplateStore store, JailRuntime runtime,
                                Orchestrator orchestrator, String jailNamePrefix, Clock clock) {
        this.repo = repo;
        this.store = store;
        this.runtime = runtime;
        this.orchestrator = orchestrator;
        this.builder = new LayeredBuilder(store.root().resolve("_runc"), jailNamePrefix);
        this.images = new OciBaseImages(store);
        this.clock = clock;
    }

    @Override
    public Created create(Team team, String name, List<String> tags, Integer cpuCount, Integer memoryMB) {
        TemplateCatalog.Reference ref = TemplateCatalog.Reference.of(name);
        String alias = ref.name();
        String tag = ref.tag();
        if (!NAME.matcher(alias).matches()) {
            throw SandboxException.invalid("template name '" + name + "' must be 1-128 of [a-z0-9._-], starting with a"
                    + " letter or digit (optionally ':tag')");
        }
        List<String> wanted = new ArrayList<>();
        for (String t : tags.isEmpty() ? List.of(tag) : concat(tag.equals("default") ? List.of() : List.of(tag), tags)) {
            checkTag(t);
            if (!wanted.contains(t)) {
                wanted.add(t);
            }
        }
        int cpu = cpuCount == null ? DEFAULT_CPU : cpuCount;
        int mem = memoryMB == null ? DEFAULT_MEMORY_MB : memoryMB;
        if (cpu < 1 || cpu > 64) {
            throw SandboxException.invalid("cpuCount must be 1-64, got " + cpu);
        }
        if (mem < 128 || mem > 65536) {
            throw SandboxException.invalid("memoryMB must be 128-65536, got " + mem);
        }
        TemplateRecord t = repo.findByIdOrAlias(alias).orElse(null);
        if (t != null && !team.id().equals(t.teamId())) {
            throw SandboxException.conflict("the template name '" + alias + "' is taken");
        }
        if (t == null) {
            t = repo.create(TemplateIds.next(), team.id(), false, cpu, mem, List.of(alias));
        }
        BuildRecord b = repo.createBuild(t.id(), cpu, mem, 0, JailRuntime.NAME);
        logs.put(b.id(), new BuildLog(clock));
        pendingTags.put(b.id(), List.copyOf(wanted));
        return new Created(t.id(), b.id().toString(), List.of(alias), wanted, t.isPublic());
    }

    @Override
    public FilesLink filesLink(Team team, String templateId, String hash) {
        owned(team, templateId);
        if (Files.isRegularFile(uploadPath(team.id(), hash))) {
            return new FilesLink(true, null);
        }
        String token = uploadTokens.computeIfAbsent(templateId + "/" + hash, k -> {
            byte[] b = new byte[24];
            random.nextBytes(b);
            return HexFormat.of().formatHex(b);
        });
        return new FilesLink(false, token);
    }

    @Override
    public void upload(String templateId, String hash, String token, InputStream tar) {
        String expected = uploadTokens.get(templateId + "/" + hash);
        if (expected == null || !MessageDigest.isEqual(expected.getBytes(), token.getBytes())) {
            throw new SandboxException(Reason.FORBIDDEN, "this upload link is not valid (ask for a new one with "
                    + "GET /templates/{templateID}/files/{hash})");
        }
        TemplateRecord t = repo.findByIdOrAlias(templateId).orElseThrow(() -> notFound(templateId));
        Path dest = uploadPath(t.teamId(), hash);
        try {
            Files.createDirectories(dest.getParent());
            Path tmp = Files.createTempFile(dest.getParent(), ".upload-", ".tar");
            try {
                Files.copy(tar, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store the upload " + hash, e);
        }
        uploadTokens.remove(templateId + "/" + hash);
    }

    @Override
    public void startBuild(Team team, String templateId, String buildId, BuildRequest request) {
        TemplateRecord t = owned(team, templateId);
        BuildRecord b = build(t, buildId);
        if (b.status() != BuildStatus.WAITING) {
            throw SandboxException.conflict("build " + buildId + " was started already (" + b.status().name()
                    .toLowerCase() + ")");
        }
        repo.updateBuild(b.id(), BuildStatus.BUILDING, null, null);
        BuildLog log = logs.computeIfAbsent(b.id(), id -> new BuildLog(clock));
        log.info("build " + buildId + " of template " + templateId + " queued", null);
        buildThread.execute(() -> runBuild(team, t, b, request, log));
    }

    private void runBuild(Team team, TemplateRecord t, BuildRecord b, BuildRequest request, BuildLog log) {
        long t0 = System.nanoTime();
        String step = "base";
        try {
            LayeredBuilder.Base base = base(request, log);
            step = "finalize";
            LayeredBuilder.Result r;
            try {
                r = builder.build(base, steps(request), request.force(), new LayerCache(store.root(), team.id()),
                        hash -> Optional.of(uploadPath(team.id(), hash)).filter(Files::isRegularFile), log);
            } catch (StepFailedException e) {
                step = e.step();
                throw e;
            }
            log.info(String.format("steps done in %.1f s: %d built, %d cached", (System.nanoTime() - t0) / 1e9,
                    r.builtSteps(), r.cachedSteps()), "finalize");
            writeBuild(t.id(), b.id().toString(), r, request);
            log.info("preparing sandboxes of the template", "finalize");
            PreparedTemplate prepared = runtime.prepareTemplate(t.id(), line -> log.info(line, "finalize"));
            if (request.startCmd() != null || request.readyCmd() != null) {
                awaitStartCommand(t.id(), b.id().toString(), request, log);
            }
            repo.updateBuild(b.id(), BuildStatus.READY, null, Orchestrator.ENVD_VERSION);
            orchestrator.registerTemplate(prepared, b.cpuCount(), b.memoryMb());
            BuildRecord ready = repo.findBuild(b.id()).orElseThrow();
            for (String tag : pendingTags.getOrDefault(b.id(), List.of())) {
                if (!tag.equals("default")) {
                    tag(t, ready, tag);
                    log.info("tagged '" + tag + "'", "finalize");
                }
            }
            log.info(String.format("build finished in %.1f s: %d step(s) built, %d cached", (System.nanoTime() - t0) / 1e9,
                    r.builtSteps(), r.cachedSteps()), "finalize");
        } catch (RuntimeException e) {
            String message = e instanceof StepFailedException ? e.getMessage()
                    : "step " + step + ": " + (e.getMessage() == null ? e.toString() : e.getMessage());
            log.error(message, step);
            failedSteps.put(b.id(), step);
            repo.updateBuild(b.id(), BuildStatus.ERROR, message, null);
        }
    }

    /**
     * The start command runs in every jail of the template as the pool starts it: the build is ready once the first
     * such jail passed the ready command, so a broken start or ready command fails the build, not the first create.
     * On failure the template goes back to its previous build (or out of the pool), and this build's files go.
     */
    private void awaitStartCommand(String templateId, String buildId, BuildRequest request, BuildLog log) {
        log.info("start command: " + (request.startCmd() == null ? "(none)" : request.startCmd())
                + "; waiting for the ready command" + (request.readyCmd() == null ? "" : " '" + request.readyCmd() + "'"),
                "finalize");
        long t0 = System.nanoTime();
        if (runtime.awaitPooled(templateId, 1, START_COMMAND_WAIT)) {
            log.info(String.format("a sandbox of the template is ready with its start command running (%.1f s)",
                    (System.nanoTime() - t0) / 1e9), "finalize");
            return;
        }
        String why = runtime.lastPoolStartError().orElse("no sandbox of the template became ready");
        DirectoryTrees.deleteRecursively(store.buildDir(templateId, buildId));
        if (store.latest(templateId).isPresent()) {
            runtime.prepareTemplate(templateId, line -> { });
        } else {
            orchestrator.forgetTemplate(templateId);
            runtime.dropTemplate(templateId);
        }
        throw new StepFailedException("finalize", "the start or ready command did not get a sandbox ready within "
                + START_COMMAND_WAIT.toSeconds() + " s: " + why);
    }

    private LayeredBuilder.Base base(BuildRequest request, BuildLog log) {
        String image = request.fromImage();
        String from = request.fromTemplate();
        if (image != null && !image.equals(DEFAULT_BASE_IMAGE) && !image.startsWith(DEFAULT_BASE_IMAGE + ":")) {
            return imageBase(image, request.registry(), log);
        }
        if (from == null || from.equals(BaseTemplateBuilder.TEMPLATE_ID) || from.equals("base:default")) {
            TemplateBuild base = store.latest(BaseTemplateBuilder.TEMPLATE_ID).orElseThrow(() ->
                    new StepFailedException("base", "the base template is not built on this host"));
            log.info("FROM base (build " + base.buildId() + ")", "base");
            return new LayeredBuilder.Base(List.of(base.rootfs().toString()),
                    StepHash.ofBase(base.templateId(), base.buildId()), StepState.base());
        }
        String name = from.endsWith(":default") ? from.substring(0, from.length() - 8) : from;
        TemplateRecord parent = repo.findByIdOrAlias(name).orElseThrow(() ->
                new StepFailedException("base", "template '" + from + "' to build from does not exist"));
        TemplateBuild pb = store.latest(parent.id()).orElseThrow(() ->
                new StepFailedException("base", "template '" + from + "' has no finished build"));
        Map<String, Object> d = pb.metadata().details();
        @SuppressWarnings("unchecked")
        Map<String, String> env = d.get("env") instanceof Map<?, ?> m ? (Map<String, String>) m : Map.of();
        StepState state = new StepState(String.valueOf(d.getOrDefault("user", "user")),
                String.valueOf(d.getOrDefault("workdir", "/home/user")), env);
        log.info("FROM template " + from + " (build " + pb.buildId() + ")", "base");
        return new LayeredBuilder.Base(List.of(pb.lowerDirs().split(":")), StepHash.ofBase(parent.id(), pb.buildId()),
                state);
    }

    /** An OCI image as the bottom layer: its env carried into the steps, which run as {@code user} in its home. */
    private LayeredBuilder.Base imageBase(String image, BuildRequest.RegistryLogin login, BuildLog log) {
        OciBaseImages.Image pulled;
        try {
            pulled = images.get(image, Optional.ofNullable(login).map(l -> new RegistryClient.Credentials(l.username(),
                    l.password())), line -> log.info(line, "base"));
        } catch (OciException | UncheckedIOException e) {
            throw new StepFailedException("base", "base image '" + image + "': " + e.getMessage());
        }
        Map<String, String> env = new LinkedHashMap<>();
        for (String kv : pulled.config().env()) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                env.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        log.info("FROM " + pulled.reference() + " (" + pulled.digest() + ")", "base");
        StepState base = StepState.base();
        return new LayeredBuilder.Base(List.of(pulled.rootfs().toString()), StepHash.ofBase("oci", pulled.digest()),
                new StepState(base.user(), base.workdir(), env));
    }

    private void writeBuild(String templateId, String buildId, LayeredBuilder.Result r, BuildRequest request) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("user", r.state().user());
        details.put("workdir", r.state().workdir());
        details.put("env", r.state().env());
        if (request.startCmd() != null) {
            details.put("startCmd", request.startCmd());
        }
        if (request.readyCmd() != null) {
            details.put("readyCmd", request.readyCmd());
        }
        details.put("steps", request.steps().size());
        details.put("cachedSteps", r.cachedSteps());
        store.writeLayeredBuild(r.lowerDirs(), new TemplateMetadata(templateId, buildId, "layered",
                clock.instant().toString(), 0, details));
    }

    private static List<Step> steps(BuildRequest request) {
        return request.steps().stream()
                .map(s -> new Step(s.type(), s.args(), s.filesHash(), s.force()))
                .toList();
    }

    @Override
    public Status status(Team team, String templateId, String buildId, int logsOffset) {
        TemplateRecord t = owned(team, templateId);
        BuildRecord b = build(t, buildId);
        BuildLog log = logs.get(b.id());
        List<LogLine> lines = log == null ? List.of() : log.from(logsOffset).stream()
                .map(e -> new LogLine(e.timestamp(), e.level(), e.message(), e.step()))
                .toList();
        return new Status(t.id(), buildId, b.status().name().toLowerCase(), lines, b.reason(),
                b.status() == BuildStatus.ERROR ? failedSteps.get(b.id()) : null);
    }

    @Override
    public Info byAlias(Team team, String alias) {
        TemplateRecord t = repo.findByIdOrAlias(alias).orElseThrow(() -> notFound(alias));
        if (t.teamId() != null && !t.teamId().equals(team.id()) && !t.isPublic()) {
            throw new SandboxException(Reason.FORBIDDEN, "template '" + alias + "' belongs to another team");
        }
        return info(t);
    }

    @Override
    public List<Info> list(Team team) {
        List<Info> out = new ArrayList<>();
        for (TemplateRecord t : repo.listVisible(team.id())) {
            out.add(info(t));
        }
        return out;
    }

    @Override
    public Info get(Team team, String templateIdOrName) {
        return info(visible(team, templateIdOrName));
    }

    @Override
    public void delete(Team team, String templateIdOrName) {
        TemplateRecord t = visible(team, templateIdOrName);
        if (t.teamId() == null || !t.teamId().equals(team.id())) {
            throw new SandboxException(Reason.FORBIDDEN, "template '" + templateIdOrName + "' is not your team's");
        }
        int n = repo.sandboxCount(t.id());
        if (n > 0) {
            throw SandboxException.conflict("template '" + templateIdOrName + "' is used by " + n
                    + " sandbox(es): kill them first");
        }
        List<String> dependents = store.dependentsOf(t.id());
        if (!dependents.isEmpty()) {
            throw SandboxException.conflict("template '" + templateIdOrName + "' holds layers that template(s) "
                    + String.join(", ", dependents) + " are built on (snapshots of its sandboxes, or builds from it):"
                    + " delete those first");
        }
        for (TemplateRepository.TagRecord tag : repo.tags(t.id())) {
            untag(t, tag.tag());
        }
        orchestrator.forgetTemplate(t.id());
        runtime.dropTemplate(t.id());
        repo.delete(t.id());
        // Its builds' directories go; the team's layer cache stays (other templates may share those layers).
        DirectoryTrees.deleteRecursively(store.templateDir(t.id()));
    }

    private Info info(TemplateRecord t) {
        List<BuildRecord> builds = repo.builds(t.id());
        BuildRecord last = builds.isEmpty() ? null : builds.getLast();
        return new Info(t.id(), last == null ? null : last.id().toString(), t.aliases(), t.isPublic(), t.cpuCount(),
                t.memoryMb(), last == null ? "ready" : last.status().name().toLowerCase(), t.createdAt(),
                last == null ? t.createdAt() : Optional.ofNullable(last.finishedAt()).orElse(last.createdAt()), 0);
    }

    private TemplateRecord visible(Team team, String ref) {
        TemplateRecord t = repo.findByIdOrAlias(untagged(ref)).orElseThrow(() -> notFound(ref));
        if (t.teamId() != null && !t.teamId().equals(team.id()) && !t.isPublic()) {
            throw notFound(ref);
        }
        return t;
    }

    private TemplateRecord owned(Team team, String templateId) {
        TemplateRecord t = repo.findByIdOrAlias(templateId).orElseThrow(() -> notFound(templateId));
        if (!team.id().equals(t.teamId())) {
            throw notFound(templateId);
        }
        return t;
    }

    private BuildRecord build(TemplateRecord t, String buildId) {
        UUID id;
        try {
            id = UUID.fromString(buildId);
        } catch (IllegalArgumentException e) {
            throw new SandboxException(Reason.NOT_FOUND, "build '" + buildId + "' not found");
        }
        return repo.findBuild(id).filter(b -> b.templateId().equals(t.id())).orElseThrow(() ->
                new SandboxException(Reason.NOT_FOUND, "build '" + buildId + "' of template " + t.id() + " not found"));
    }

    private Path uploadPath(String teamId, String hash) {
        if (!hash.matches("[A-Za-z0-9]{1,128}") || !teamId.matches("[A-Za-z0-9-]{1,64}")) {
            throw SandboxException.invalid("bad files hash '" + hash + "'");
        }
        return store.root().resolve("_files").resolve(teamId).resolve(hash + ".tar");
    }

    static final Pattern TAG = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    private static void checkTag(String tag) {
        if (!TAG.matcher(tag).matches()) {
            throw SandboxException.invalid("tag '" + tag + "' must be 1-64 of [a-z0-9._-], starting with a letter or"
                    + " digit");
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /** Points {@code tag} at {@code build} and offers that build to creates of {@code name:tag}. */
    private void tag(TemplateRecord t, BuildRecord build, String tag) {
        repo.setTag(t.id(), tag, build.id());
        store.linkTagged(t.id(), tag, build.id().toString());
        PreparedTemplate prepared = runtime.prepareTemplate(TemplateStore.taggedId(t.id(), tag), line -> { });
        orchestrator.registerTagged(prepared, t, build);
    }

    private void untag(TemplateRecord t, String tag) {
        String id = TemplateStore.taggedId(t.id(), tag);
        orchestrator.forgetTagged(id);
        runtime.dropTemplate(id);
        store.unlinkTagged(t.id(), tag);
    }

    @Override
    public Assigned assignTags(Team team, String target, List<String> tags) {
        TemplateCatalog.Reference ref = TemplateCatalog.Reference.of(target);
        String name = ref.name();
        String from = ref.tag();
        TemplateRecord t = owned(team, name);
        UUID buildId;
        if (from.equals("default")) {
            buildId = repo.latestReadyBuild(t.id()).map(BuildRecord::id).orElseThrow(() ->
                    new SandboxException(Reason.NOT_FOUND, "template '" + name + "' has no ready build"));
        } else {
            buildId = repo.tags(t.id()).stream().filter(r -> r.tag().equals(from)).findFirst()
                    .map(TemplateRepository.TagRecord::buildId).orElseThrow(() ->
                            new SandboxException(Reason.NOT_FOUND, "template '" + name + "' has no tag '" + from + "'"));
        }
        for (String tag : tags) {
            checkTag(tag);
            if (tag.equals("default")) {
                throw SandboxException.invalid("the 'default' tag always names the newest ready build; it cannot be"
                        + " assigned");
            }
        }
        BuildRecord build = repo.findBuild(buildId).orElseThrow();
        for (String tag : tags) {
            tag(t, build, tag);
        }
        return new Assigned(buildId.toString(), List.copyOf(tags));
    }

    @Override
    public void removeTags(Team team, String name, List<String> tags) {
        TemplateRecord t = owned(team, untagged(name));
        for (String tag : tags) {
            if (tag.equals("default")) {
                throw SandboxException.invalid("the 'default' tag always names the newest ready build; it cannot be"
                        + " removed");
            }
        }
        List<String> known = repo.tags(t.id()).stream().map(TemplateRepository.TagRecord::tag).toList();
        for (String tag : tags) {
            if (!known.contains(tag)) {
                throw new SandboxException(Reason.NOT_FOUND, "template '" + name + "' has no tag '" + tag + "'");
            }
        }
        for (String tag : tags) {
            repo.removeTag(t.id(), tag);
            untag(t, tag);
        }
    }

    @Override
    public List<TagInfo> tags(Team team, String templateIdOrName) {
        TemplateRecord t = visible(team, templateIdOrName);
        List<TagInfo> out = new ArrayList<>();
        repo.latestReadyBuild(t.id()).ifPresent(b -> out.add(new TagInfo("default", b.id().toString(),
                Optional.ofNullable(b.finishedAt()).orElse(b.createdAt()))));
        for (TemplateRepository.TagRecord r : repo.tags(t.id())) {
            out.add(new TagInfo(r.tag(), r.buildId().toString(), r.createdAt()));
        }
        return out;
    }

    /**
     * A reference as the SDKs write it ({@code name}, {@code name:default}, {@code namespace/name:default}: what a
     * snapshot's ID looks like) as the ID or alias it is stored under; other tags stay and so find nothing.
     */
    static String untagged(String ref) {
        String r = ref.endsWith(":default") ? ref.substring(0, ref.length() - ":default".length()) : ref;
        int slash = r.lastIndexOf('/');
        return slash < 0 ? r : r.substring(slash + 1);
    }

    private static SandboxException notFound(String ref) {
        return new SandboxException(Reason.NOT_FOUND, "template '" + ref + "' not found");
    }

    /**
     * Prepares the templates built before this daemon started (their builds are on disk and ready in the store), so
     * that creates find them again after a restart.
     *
     * @return the IDs prepared
     */
    public List<String> restoreBuilt() {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(store.root())) {
            return out;
        }
        try (var dirs = Files.list(store.root())) {
            for (Path d : dirs.toList()) {
                String id = d.getFileName().toString();
                if (!id.matches("[a-z0-9]{1,64}") || id.equals(BaseTemplateBuilder.TEMPLATE_ID)) {
                    continue;
                }
                Optional<TemplateRecord> t = repo.findByIdOrAlias(id).filter(r -> r.id().equals(id));
                if (t.isEmpty() || store.latest(id).isEmpty() || repo.latestReadyBuild(id).isEmpty()) {
                    continue;
                }
                orchestrator.registerTemplate(runtime.prepareTemplate(id, line -> { }), t.get().cpuCount(),
                        t.get().memoryMb());
                for (TemplateRepository.TagRecord tag : repo.tags(id)) {
                    Optional<BuildRecord> build = repo.findBuild(tag.buildId());
                    if (build.isPresent() && store.find(id, tag.buildId().toString()).isPresent()) {
                        tag(t.get(), build.get(), tag.tag());
                    }
                }
                out.add(id);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + store.root(), e);
        }
        return out;
    }

    @Override
    public void close() {
        buildThread.shutdownNow();
    }
}
