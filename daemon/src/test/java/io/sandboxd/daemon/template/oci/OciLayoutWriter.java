package io.sandboxd.daemon.template.oci;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes an OCI image layout (what {@code skopeo copy oci:DIR:TAG ...} reads) from layers the tests make, so the
 * tests push images of their own to a real registry without Docker or any download.
 */
final class OciLayoutWriter {
    static final ObjectMapper JSON = new ObjectMapper();

    record Blob(String digest, long size) {}

    private final Path dir;
    private final ArrayNode manifests = JSON.createArrayNode();

    OciLayoutWriter(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    Blob blob(byte[] content) throws IOException {
        String digest = RegistryClient.sha256(content);
        Files.write(dir.resolve("blobs/sha256").resolve(digest.substring(7)), content);
        return new Blob(digest, content.length);
    }

    /** An image manifest over compressed layers ({@code uncompressed} gives their diff IDs); returns its descriptor. */
    Blob image(String architecture, String layerType, List<byte[]> compressedLayers, List<byte[]> uncompressed, List<String> env,
               String workingDir, String user, List<String> cmd) throws IOException {
        ObjectNode config = JSON.createObjectNode();
        config.put("architecture", architecture).put("os", "linux");
        ObjectNode c = config.putObject("config");
        env.forEach(c.putArray("Env")::add);
        c.put("WorkingDir", workingDir).put("User", user);
        cmd.forEach(c.putArray("Cmd")::add);
        ObjectNode rootfs = config.putObject("rootfs").put("type", "layers");
        ArrayNode diffIds = rootfs.putArray("diff_ids");
        uncompressed.forEach(l -> diffIds.add(RegistryClient.sha256(l)));
        Blob configBlob = blob(JSON.writeValueAsBytes(config));

        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2).put("mediaType", "application/vnd.oci.image.manifest.v1+json");
        manifest.putObject("config").put("mediaType", "application/vnd.oci.image.config.v1+json")
                .put("digest", configBlob.digest()).put("size", configBlob.size());
        ArrayNode layers = manifest.putArray("layers");
        for (byte[] l : compressedLayers) {
            Blob b = blob(l);
            layers.addObject().put("mediaType", layerType)
                    .put("digest", b.digest()).put("size", b.size());
        }
        return blob(JSON.writeValueAsBytes(manifest));
    }

    /** Names one image manifest in the layout's index. */
    void tag(String tag, Blob manifest) {
        ObjectNode m = manifests.addObject();
        m.put("mediaType", "application/vnd.oci.image.manifest.v1+json").put("digest", manifest.digest())
                .put("size", manifest.size());
        m.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
    }

    /** Names an index of several platforms' manifests in the layout's index. */
    void tagIndex(String tag, List<Blob> images, List<String> architectures) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2).put("mediaType", "application/vnd.oci.image.index.v1+json");
        ArrayNode list = index.putArray("manifests");
        for (int i = 0; i < images.size(); i++) {
            list.addObject().put("mediaType", "application/vnd.oci.image.manifest.v1+json")
                    .put("digest", images.get(i).digest()).put("size", images.get(i).size())
                    .putObject("platform").put("architecture", architectures.get(i)).put("os", "linux");
        }
        Blob b = blob(JSON.writeValueAsBytes(index));
        ObjectNode m = manifests.addObject();
        m.put("mediaType", "application/vnd.oci.image.index.v1+json").put("digest", b.digest()).put("size", b.size());
        m.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
    }

    void finish() throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.set("manifests", manifests);
        Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    }
}
