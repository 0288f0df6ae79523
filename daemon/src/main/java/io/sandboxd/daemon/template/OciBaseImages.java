package io.sandboxd.daemon.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.template.oci.BlobCache;
import io.sandboxd.daemon.template.oci.ImageConfig;
import io.sandboxd.daemon.template.oci.ImageReference;
import io.sandboxd.daemon.template.oci.OciImagePuller;
import io.sandboxd.daemon.template.oci.RegistryClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * OCI images as the bottom layer of template builds ({@code fromImage}): each image manifest is unpacked once into
 * {@code templates/_images/<digest>/rootfs} (with the sandbox user added, as {@link OciTemplateBuilder} does) beside
 * its {@code config.json}, and shared read-only by every build on it; the blobs stay in {@code templates/_oci}. A
 * rebuild from the same image costs one manifest fetch.
 */
public final class OciBaseImages {
    /** An unpacked image: its root file system, manifest digest and config. */
    public record Image(ImageReference reference, String digest, Path rootfs, ImageConfig config) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;
    private final BlobCache blobs;

    public OciBaseImages(TemplateStore store) {
        this.root = store.root().resolve("_images");
        this.blobs = new BlobCache(store.root().resolve("_oci"));
    }

    /** Pulls {@code image} unless it is unpacked already; {@code login} is for the image's registry only. */
    public synchronized Image get(String image, Optional<RegistryClient.Credentials> login, Consumer<String> log) {
        ImageReference ref = ImageReference.parse(image);
        String host = ref.registry();
        OciImagePuller puller = new OciImagePuller(new RegistryClient(h -> h.equals(host) ? login : Optional.empty()),
                blobs);
        String digest = puller.digestOf(image);
        Path dir = root.resolve(digest.replace(':', '-'));
        Path configFile = dir.resolve("config.json");
        if (Files.isRegularFile(configFile)) {
            log.accept("image " + ref + " is " + digest + ", unpacked before");
            return new Image(ref, digest, dir.resolve("rootfs"), readConfig(configFile));
        }
        Path work = root.resolve(".pull-" + UUID.randomUUID().toString().substring(0, 8));
        try {
            Files.createDirectories(work);
            OciImagePuller.PulledImage pulled = puller.pull(image, work.resolve("rootfs"), log);
            if (OciTemplateBuilder.addUser(work.resolve("rootfs"))) {
                log.accept("added user " + OciTemplateBuilder.USER + " (uid " + OciTemplateBuilder.USER_UID + ")");
            }
            JSON.writeValue(work.resolve("config.json").toFile(), pulled.config());
            Path dest = root.resolve(pulled.manifestDigest().replace(':', '-'));
            Files.move(work, dest, StandardCopyOption.ATOMIC_MOVE);
            return new Image(ref, pulled.manifestDigest(), dest.resolve("rootfs"), pulled.config());
        } catch (IOException e) {
            discard(work);
            throw new UncheckedIOException("unpacking " + image, e);
        } catch (RuntimeException e) {
            discard(work);
            throw e;
        }
    }

    private static ImageConfig readConfig(Path file) {
        try {
            return JSON.readValue(file.toFile(), ImageConfig.class);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file, e);
        }
    }

    private static void discard(Path work) {
        try {
            if (Files.exists(work)) {
                DirectoryTrees.deleteRecursively(work);
            }
        } catch (RuntimeException ignored) {
            // a .pull-* directory is never read; the next pull makes its own
        }
    }
}
