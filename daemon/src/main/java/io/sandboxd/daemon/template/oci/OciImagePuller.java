package io.sandboxd.daemon.template.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Pulls an image through the distribution API into a root file system: the manifest (from a manifest list or
 * index, the linux/amd64 entry), the config, and each layer through the {@link BlobCache}, applied in order with
 * {@link LayerUnpacker}. A second pull of the same image (or of one sharing layers) fetches only what the cache
 * lacks.
 */
public final class OciImagePuller {
    public static final String OS = "linux";
    public static final String ARCHITECTURE = "amd64";

    static final Set<String> INDEX_TYPES = Set.of("application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json");
    static final Set<String> MANIFEST_TYPES = Set.of("application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json");
    /** Layer media types this puller applies; compression is told by the content itself. */
    static final Set<String> LAYER_TYPES = Set.of("application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** An image pulled into a root file system. */
    public record PulledImage(ImageReference reference, String manifestDigest, ImageConfig config,
                              List<String> layers, int layersFetched) {}

    private final RegistryClient registry;
    private final BlobCache cache;

    public OciImagePuller(RegistryClient registry, BlobCache cache) {
        this.registry = registry;
        this.cache = cache;
    }

    /**
     * The digest of the image manifest {@code name} names for this platform (through a manifest list if it is one):
     * what {@link #pull} would report as {@link PulledImage#manifestDigest()}, for one or two manifest fetches and no
     * layers, so a caller can find an image it pulled before.
     */
    public String digestOf(String name) {
        ImageReference ref = ImageReference.parse(name);
        RegistryClient.Manifest m = registry.manifest(ref, ref.reference());
        JsonNode manifest = json(m.bytes(), ref, "manifest");
        String type = m.mediaType().isEmpty() || m.mediaType().equals("application/json")
                ? manifest.path("mediaType").asText(manifest.has("manifests") ? "application/vnd.oci.image.index.v1+json"
                        : "application/vnd.oci.image.manifest.v1+json")
                : m.mediaType();
        return INDEX_TYPES.contains(type) ? platform(manifest, ref) : m.digest();
    }

    /** Pulls {@code name} into the empty or absent directory {@code rootfs}; {@code log} gets one line a step. */
    public PulledImage pull(String name, Path rootfs, Consumer<String> log) {
        ImageReference ref = ImageReference.parse(name);
        RegistryClient.Manifest m = registry.manifest(ref, ref.reference());
        JsonNode manifest = json(m.bytes(), ref, "manifest");
        String type = m.mediaType().isEmpty() || m.mediaType().equals("application/json")
                ? manifest.path("mediaType").asText(manifest.has("manifests") ? "application/vnd.oci.image.index.v1+json"
                        : "application/vnd.oci.image.manifest.v1+json")
                : m.mediaType();
        if (INDEX_TYPES.contains(type)) {
            String digest = platform(manifest, ref);
            log.accept("image " + ref + ": manifest list, " + OS + "/" + ARCHITECTURE + " is " + digest);
            m = registry.manifest(ref, digest);
            manifest = json(m.bytes(), ref, "manifest");
            type = m.mediaType().isEmpty() ? manifest.path("mediaType").asText("application/vnd.oci.image.manifest.v1+json")
                    : m.mediaType();
        }
        if (!MANIFEST_TYPES.contains(type)) {
            throw new OciException(ref + ": unsupported manifest type \"" + type + "\" (schema 1 and artifacts "
                    + "are not images sandboxd can run)");
        }
        JsonNode configDesc = manifest.path("config");
        Path configBlob = cache.get(configDesc.path("digest").asText(), configDesc.path("size").asLong(-1),
                () -> registry.blob(ref, configDesc.path("digest").asText()));
        ImageConfig config;
        try {
            config = ImageConfig.parse(json(Files.readAllBytes(configBlob), ref, "config"));
        } catch (IOException e) {
            throw new OciException(ref + ": reading the config: " + e.getMessage(), e);
        }
        if (!config.os().isEmpty() && !config.os().equals(OS)
                || !config.architecture().isEmpty() && !config.architecture().equals(ARCHITECTURE)) {
            throw new OciException(ref + " is a " + config.os() + "/" + config.architecture() + " image; this host "
                    + "runs " + OS + "/" + ARCHITECTURE);
        }
        try {
            Files.createDirectories(rootfs);
        } catch (IOException e) {
            throw new OciException("creating " + rootfs + ": " + e.getMessage(), e);
        }
        List<String> layers = new ArrayList<>();
        int fetched = 0;
        JsonNode layerList = manifest.path("layers");
        for (int i = 0; i < layerList.size(); i++) {
            JsonNode layer = layerList.get(i);
            String mediaType = layer.path("mediaType").asText();
            String digest = layer.path("digest").asText();
            if (!LAYER_TYPES.contains(mediaType)) {
                throw new OciException(ref + ": layer " + (i + 1) + " has the unsupported media type \"" + mediaType
                        + "\"");
            }
            boolean cached = cache.contains(digest);
            Path blob = cache.get(digest, layer.path("size").asLong(-1), () -> registry.blob(ref, digest));
            fetched += cached ? 0 : 1;
            LayerUnpacker.Applied applied = LayerUnpacker.apply(blob, rootfs);
            log.accept(String.format("layer %d/%d %s (%.1f MiB, %s): %d entries, %d removed", i + 1,
                    layerList.size(), digest.substring(0, 19), layer.path("size").asLong() / 1048576.0,
                    cached ? "cached" : "fetched", applied.entries(), applied.removed()));
            layers.add(digest);
        }
        return new PulledImage(ref, m.digest(), config, List.copyOf(layers), fetched);
    }

    private static String platform(JsonNode index, ImageReference ref) {
        List<String> offered = new ArrayList<>();
        for (JsonNode d : index.path("manifests")) {
            JsonNode p = d.path("platform");
            offered.add(p.path("os").asText("?") + "/" + p.path("architecture").asText("?"));
            if (p.path("os").asText().equals(OS) && p.path("architecture").asText().equals(ARCHITECTURE)) {
                return d.path("digest").asText();
            }
        }
        throw new OciException(ref + " has no " + OS + "/" + ARCHITECTURE + " image (it has " + offered + ")");
    }

    private static JsonNode json(byte[] bytes, ImageReference ref, String what) {
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) {
                throw new OciException(ref + ": the " + what + " is not a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new OciException(ref + ": the " + what + " is not JSON: " + e.getMessage(), e);
        }
    }
}
