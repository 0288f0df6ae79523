package io.sandboxd.daemon.template.build;

import java.util.List;

/**
 * Checks of the paths a COPY step names and of the entries of its uploaded tar: relative sources that stay inside
 * the build context, destinations without {@code ..}, and lengths Linux can take ({@code PATH_MAX}).
 */
public final class CopyPaths {
    public static final int MAX_PATH = 4096;

    private CopyPaths() {
    }

    /** @return null when fine, else why not */
    public static String sourceProblem(String src) {
        if (src.isEmpty()) {
            return "the source path is empty";
        }
        if (src.length() > MAX_PATH) {
            return "the source path is " + src.length() + " characters long (at most " + MAX_PATH + ")";
        }
        if (src.startsWith("/")) {
            return "the source path '" + src + "' is absolute; it must be relative to the build context";
        }
        if (hasDotDot(src)) {
            return "the source path '" + shorten(src) + "' leaves the build context (..)";
        }
        return null;
    }

    public static String destinationProblem(String dest) {
        if (dest.isEmpty()) {
            return "the destination path is empty";
        }
        if (dest.length() > MAX_PATH) {
            return "the destination path is " + dest.length() + " characters long (at most " + MAX_PATH + ")";
        }
        if (hasDotDot(dest)) {
            return "the destination path '" + shorten(dest) + "' contains '..'";
        }
        if (dest.indexOf('\0') >= 0) {
            return "the destination path contains a NUL character";
        }
        return null;
    }

    /** A tar member name as {@code tar -t} prints it. */
    public static String entryProblem(String name) {
        if (name.length() > MAX_PATH) {
            return "the upload has an entry " + name.length() + " characters long (at most " + MAX_PATH + ")";
        }
        if (name.startsWith("/")) {
            return "the upload has an absolute entry '" + shorten(name) + "'";
        }
        if (hasDotDot(name)) {
            return "the upload has an entry that leaves its directory: '" + shorten(name) + "'";
        }
        return null;
    }

    private static final String NAME = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}";

    /**
     * What {@code chown} is given for a COPY's owner: Dockerfile's {@code COPY --chown} names {@code user},
     * {@code user:group} or numeric ids ({@code 1000:1000}); a user alone means that user and its login group.
     *
     * @return the {@code chown} owner argument, or null when {@code owner} is neither form
     */
    public static String chownSpec(String owner) {
        if (owner.matches(NAME + ":" + NAME)) {
            return owner;
        }
        return owner.matches(NAME) ? owner + ":" : null;
    }

    static boolean hasDotDot(String path) {
        return List.of(path.split("/")).contains("..");
    }

    private static String shorten(String s) {
        return s.length() <= 120 ? s : s.substring(0, 120) + "…";
    }
}
