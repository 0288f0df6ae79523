package io.sandboxd.daemon.runtime.jail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Optional;

/**
 * What a jail's directory says about the sandbox that claimed it ({@code claim.json}), written when a create takes
 * the jail: enough for a later daemon to take the sandbox over after this one died ({@link JailRuntime#adopt}).
 * A pooled jail has none, so it is never adopted: nothing outside the dead daemon referred to it.
 *
 * @param sandboxId   the orchestrator's ID
 * @param jailId      the runc container ID, also the directory's and the cgroups' name
 * @param slotIndex   the network slot: namespace, veth and addresses follow from it and the network config
 * @param sandboxIp   the slot's sandbox address when it was claimed (envd listens there); a daemon started with
 *                    another subnet finds a different address for the index and refuses to adopt
 * @param envdPort    the port envd listens on
 * @param cgroupParent where runc put the jail's cgroups
 */
record JailClaim(String sandboxId, String jailId, int slotIndex, String sandboxIp, int envdPort, String templateId,
                 String buildId, String cgroupParent, int cpuCount, int memoryMB, int pidsLimit, Instant startedAt) {
    static final String FILE = "claim.json";
    static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path file(Path jailDir) {
        return jailDir.resolve(FILE);
    }

    /** Written to a temporary file and renamed, so a crash mid-write leaves either no claim or a whole one. */
    void writeTo(Path jailDir) {
        ObjectNode n = JSON.createObjectNode();
        n.put("version", VERSION);
        n.put("sandboxId", sandboxId);
        n.put("jailId", jailId);
        n.put("slotIndex", slotIndex);
        n.put("sandboxIp", sandboxIp);
        n.put("envdPort", envdPort);
        n.put("templateId", templateId);
        n.put("buildId", buildId);
        n.put("cgroupParent", cgroupParent);
        n.put("cpuCount", cpuCount);
        n.put("memoryMB", memoryMB);
        n.put("pidsLimit", pidsLimit);
        n.put("startedAt", startedAt.toString());
        Path tmp = jailDir.resolve(FILE + ".tmp");
        try {
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
            Files.move(tmp, file(jailDir), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the claim of jail " + jailId + " in " + jailDir, e);
        }
    }

    /**
     * The jail's claim, or empty when it has none (a pooled jail, or one whose create did not get that far).
     *
     * @throws IllegalArgumentException when the file is there but not a claim this code wrote
     */
    static Optional<JailClaim> read(Path jailDir) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file(jailDir));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file(jailDir), e);
        }
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new IllegalArgumentException(file(jailDir) + " is not JSON: " + e.getMessage(), e);
        }
        if (n == null || n.path("version").asInt() != VERSION) {
            throw new IllegalArgumentException(file(jailDir) + " has version " + (n == null ? "none" : n.path("version"))
                    + ", this daemon reads " + VERSION);
        }
        try {
            JailClaim c = new JailClaim(text(n, "sandboxId"), text(n, "jailId"), n.path("slotIndex").asInt(-1),
                    text(n, "sandboxIp"), n.path("envdPort").asInt(-1), text(n, "templateId"), text(n, "buildId"),
                    text(n, "cgroupParent"), n.path("cpuCount").asInt(), n.path("memoryMB").asInt(),
                    n.path("pidsLimit").asInt(), Instant.parse(text(n, "startedAt")));
            if (!c.jailId().equals(jailDir.getFileName().toString())) {
                throw new IllegalArgumentException("it names jail " + c.jailId() + " but lies in " + jailDir);
            }
            if (c.slotIndex() < 0 || c.envdPort() <= 0 || c.envdPort() > 65535) {
                throw new IllegalArgumentException("slot " + c.slotIndex() + " or port " + c.envdPort() + " is out of range");
            }
            return Optional.of(c);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file(jailDir) + " is not a whole claim: " + e.getMessage(), e);
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual() || v.asText().isEmpty()) {
            throw new IllegalArgumentException("no " + field);
        }
        return v.asText();
    }
}
