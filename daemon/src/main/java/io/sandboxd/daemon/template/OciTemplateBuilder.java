package io.sandboxd.daemon.template;

import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.template.oci.OciException;
import io.sandboxd.daemon.template.oci.OciImagePuller;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * A template build from an OCI image: the image is pulled into {@code templates/<id>/.build-*}/rootfs, given the
 * user every E2B sandbox has ({@code user}, uid 1000, home {@code /home/user}) when it lacks one, and moved into
 * place with its {@code metadata.json} (the image's env, working directory, user, entrypoint and command kept for
 * the start command). The build ID comes from the manifest digest, so the same image is one build however often it
 * is asked for; envd is not copied in: the jail runtime mounts it, and it needs the image's glibc.
 */
public final class OciTemplateBuilder {
    public static final String USER = "user";
    public static final int USER_UID = 1000;

    private final TemplateStore store;
    private final OciImagePuller puller;

    public OciTemplateBuilder(TemplateStore store, OciImagePuller puller) {
        this.store = store;
        this.puller = puller;
    }

    public TemplateBuild build(String templateId, String image, Consumer<String> progress) {
        Path templateDir = store.templateDir(templateId);
        Path work = templateDir.resolve(".build-oci-" + UUID.randomUUID().toString().substring(0, 8));
        Path rootfs = work.resolve("rootfs");
        Instant start = Instant.now();
        try {
            Files.createDirectories(work);
            progress.accept("pulling " + image);
            OciImagePuller.PulledImage pulled = puller.pull(image, rootfs, progress);
            String buildId = "oci-" + pulled.manifestDigest().substring("sha256:".length(), "sha256:".length() + 12);
            Optional<TemplateBuild> existing = store.find(templateId, buildId);
            if (existing.isPresent()) {
                progress.accept("template " + templateId + " already has build " + buildId + " of this image");
                DirectoryTrees.deleteRecursively(work);
                return existing.get();
            }
            if (addUser(rootfs)) {
                progress.accept("added user " + USER + " (uid " + USER_UID + ", home /home/" + USER + ")");
            }
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("image", pulled.reference().toString());
            details.put("manifestDigest", pulled.manifestDigest());
            details.put("layers", pulled.layers());
            details.put("env", pulled.config().env());
            details.put("workingDir", pulled.config().workingDir());
            details.put("imageUser", pulled.config().user());
            details.put("entrypoint", pulled.config().entrypoint());
            details.put("cmd", pulled.config().cmd());
            details.put("buildSeconds", Duration.between(start, Instant.now()).toMillis() / 1000.0);
            TemplateMetadata md = new TemplateMetadata(templateId, buildId, "oci", Instant.now().toString(),
                    DirectoryTrees.sizeOf(rootfs), details);
            md.writeTo(work);
            Path dest = store.buildDir(templateId, buildId);
            Files.move(work, dest, StandardCopyOption.ATOMIC_MOVE);
            progress.accept("template " + templateId + " build " + buildId + " ready");
            return new TemplateBuild(templateId, buildId, dest, md);
        } catch (IOException e) {
            discard(work);
            throw new UncheckedIOException("building template " + templateId + " from " + image, e);
        } catch (RuntimeException e) {
            discard(work);
            throw e;
        }
    }

    /** Adds {@code user} to the image's account files unless it has one; true when it did. */
    static boolean addUser(Path rootfs) throws IOException {
        Path etc = rootfs.resolve("etc");
        for (String f : List.of("passwd", "group")) {
            if (Files.isSymbolicLink(etc.resolve(f))) {
                throw new OciException("the image's /etc/" + f + " is a symbolic link: refused");
            }
        }
        Files.createDirectories(etc);
        Path passwd = etc.resolve("passwd");
        String users = Files.exists(passwd) ? Files.readString(passwd) : "root:x:0:0:root:/root:/bin/sh\n";
        if (users.lines().anyMatch(l -> l.startsWith(USER + ":"))) {
            return false;
        }
        if (users.lines().anyMatch(l -> l.split(":", -1).length > 2 && l.split(":", -1)[2].equals(String.valueOf(USER_UID)))) {
            throw new OciException("the image has another account with uid " + USER_UID + "; sandboxes run as "
                    + USER + " with that uid");
        }
        String shell = Files.exists(rootfs.resolve("bin/bash"), LinkOption.NOFOLLOW_LINKS)
                || Files.isSymbolicLink(rootfs.resolve("bin")) ? "/bin/bash" : "/bin/sh";
        Files.writeString(passwd, terminated(users) + USER + ":x:" + USER_UID + ":" + USER_UID + "::/home/" + USER + ":"
                + shell + "\n");
        Path group = etc.resolve("group");
        String groups = Files.exists(group) ? Files.readString(group) : "root:x:0:\n";
        if (groups.lines().noneMatch(l -> l.startsWith(USER + ":"))) {
            Files.writeString(group, terminated(groups) + USER + ":x:" + USER_UID + ":\n");
        }
        Path home = rootfs.resolve("home").resolve(USER);
        if (Files.isSymbolicLink(rootfs.resolve("home")) || Files.isSymbolicLink(home)) {
            throw new OciException("the image's /home/" + USER + " is reached through a symbolic link: refused");
        }
        Files.createDirectories(home);
        Files.setAttribute(home, "unix:uid", USER_UID, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(home, "unix:gid", USER_UID, LinkOption.NOFOLLOW_LINKS);
        return true;
    }

    private static String terminated(String s) {
        return s.isEmpty() || s.endsWith("\n") ? s : s + "\n";
    }

    private static void discard(Path work) {
        try {
            if (Files.exists(work)) {
                DirectoryTrees.deleteRecursively(work);
            }
        } catch (RuntimeException ignored) {
            // a .build-* directory is skipped by TemplateStore and removed with the template
        }
    }
}
