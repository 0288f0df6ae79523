package io.sandboxd.daemon.template.oci;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An image name as {@code docker pull} reads it: {@code [registry[:port]/]repository[:tag][@sha256:digest]}. A
 * first component without a dot, a colon or {@code localhost} is part of the repository on Docker Hub, whose
 * one-component names live under {@code library/}.
 *
 * @param registry   the registry's host and port, as the distribution API is addressed
 * @param repository the repository path, lowercase
 * @param tag        the tag, or null when a digest is given alone
 * @param digest     {@code sha256:<hex>}, or null
 */
public record ImageReference(String registry, String repository, String tag, String digest) {
    public static final String DOCKER_HUB = "registry-1.docker.io";

    private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\\[[0-9a-fA-F:]+\\](?::[0-9]{1,5})?");

    public static ImageReference parse(String name) {
        if (name == null || name.isBlank() || name.length() > 512) {
            throw new OciException("image name must be 1-512 characters, like debian:bookworm or "
                    + "registry.example.com/team/app:1.0");
        }
        String rest = name.strip();
        String digest = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            digest = rest.substring(at + 1);
            rest = rest.substring(0, at);
            if (!DIGEST.matcher(digest).matches()) {
                throw new OciException("image \"" + name + "\": the digest must be sha256: and 64 lowercase hex digits");
            }
        }
        String tag = null;
        int slash = rest.lastIndexOf('/');
        int colon = rest.lastIndexOf(':');
        if (colon > slash) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!TAG.matcher(tag).matches()) {
                throw new OciException("image \"" + name + "\": \"" + tag + "\" is not a valid tag");
            }
        }
        String registry = DOCKER_HUB;
        int first = rest.indexOf('/');
        if (first > 0) {
            String head = rest.substring(0, first);
            if (head.contains(".") || head.contains(":") || head.equals("localhost") || head.startsWith("[")) {
                if (!HOST.matcher(head).matches()) {
                    throw new OciException("image \"" + name + "\": \"" + head + "\" is not a registry host");
                }
                registry = head.toLowerCase(Locale.ROOT);
                rest = rest.substring(first + 1);
            }
        }
        if (registry.equals("docker.io") || registry.equals("index.docker.io")) {
            registry = DOCKER_HUB;
        }
        if (registry.equals(DOCKER_HUB) && !rest.contains("/")) {
            rest = "library/" + rest;
        }
        for (String component : rest.split("/", -1)) {
            if (!COMPONENT.matcher(component).matches()) {
                throw new OciException("image \"" + name + "\": \"" + component + "\" is not a valid repository "
                        + "component (lowercase letters, digits and . _ - separators)");
            }
        }
        if (tag == null && digest == null) {
            tag = "latest";
        }
        return new ImageReference(registry, rest, tag, digest);
    }

    /** What the manifest is asked for by: the digest when given (it pins the content), else the tag. */
    public String reference() {
        return digest != null ? digest : tag;
    }

    /** Whether the registry is on this machine (then plain HTTP is used, as Docker allows for localhost). */
    public boolean loopback() {
        String host = registry.startsWith("[") ? registry.substring(0, registry.indexOf(']') + 1)
                : registry.split(":", 2)[0];
        return host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]");
    }

    @Override
    public String toString() {
        return registry + "/" + repository + (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
    }
}
