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

    static boolean hasDotDot(String path) {
        return List.of(path.split("/")).contains("..");
    }

    private static String shorten(String s) {
        return s.length() <= 120 ? s : s.substring(0, 120) + "…";
    }
}
