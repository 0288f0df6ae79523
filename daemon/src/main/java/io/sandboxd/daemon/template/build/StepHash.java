package io.sandboxd.daemon.template.build;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The cache key of a layer: a hash of the parent layer's key, the step (type and arguments) and, for COPY, the hash
 * of the copied files. A step's result depends on nothing else (user, workdir and environment come from earlier
 * steps, which the parent key covers), so equal keys mean equal layers and a changed step changes its own key and
 * every key after it.
 */
public final class StepHash {
    private StepHash() {
    }

    /** The key of the bottom of a build: the base it starts from (a template build). */
    public static String ofBase(String baseTemplateId, String baseBuildId) {
        return sha256("base\0" + baseTemplateId + "\0" + baseBuildId);
    }

    public static String of(String parent, Step step) {
        StringBuilder b = new StringBuilder("step\0").append(parent).append('\0').append(step.type());
        b.append('\0').append(step.args().size());
        for (String a : step.args()) {
            // length-prefixed, so ["a b"] and ["a", "b"] differ
            b.append('\0').append(a.length()).append(':').append(a);
        }
        if (step.filesHash() != null) {
            b.append("\0files\0").append(step.filesHash());
        }
        return sha256(b.toString());
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is required of every JDK", e);
        }
    }
}
