package io.sandboxd.envd.filesystem;

import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;

/** Maps a failed file operation to the Connect code the SDKs act on (spec 3.5, 4). */
final class FsErrors {
    private FsErrors() {
    }

    static ConnectException of(String what, IOException e) {
        String detail = what + ": " + describe(what, e);
        if (e instanceof NoSuchFileException) {
            return new ConnectException(ConnectCode.NOT_FOUND, detail, e);
        }
        if (e instanceof NotDirectoryException || e instanceof NotLinkException) {
            return new ConnectException(ConnectCode.INVALID_ARGUMENT, detail, e);
        }
        if (e instanceof FileAlreadyExistsException || e instanceof DirectoryNotEmptyException) {
            return new ConnectException(ConnectCode.ALREADY_EXISTS, detail, e);
        }
        if (e instanceof AccessDeniedException) {
            return new ConnectException(ConnectCode.PERMISSION_DENIED, detail, e);
        }
        if (isLoop(e)) {
            return new ConnectException(ConnectCode.FAILED_PRECONDITION,
                    what + ": cyclic symlink or a chain of too many links", e);
        }
        if (e instanceof FileSystemException fse && fse.getReason() != null
                && fse.getReason().contains("No space left")) {
            return new ConnectException(ConnectCode.RESOURCE_EXHAUSTED, detail, e);
        }
        return new ConnectException(ConnectCode.INTERNAL, detail, e);
    }

    static boolean isLoop(IOException e) {
        return e instanceof FileSystemLoopException
                || e instanceof FileSystemException fse && fse.getReason() != null
                && fse.getReason().contains("Too many levels of symbolic links");
    }

    private static String describe(String what, IOException e) {
        if (e instanceof FileSystemException fse) {
            String reason = fse.getReason();
            String file = fse.getFile();
            String kind = switch (e) {
                case NoSuchFileException x -> "no such file or directory";
                case NotDirectoryException x -> "not a directory";
                case FileAlreadyExistsException x -> "already exists";
                case DirectoryNotEmptyException x -> "directory not empty";
                case AccessDeniedException x -> "permission denied";
                default -> reason == null ? e.getClass().getSimpleName() : reason;
            };
            boolean named = file == null || what.contains(file);
            return (named ? "" : file + ": ") + kind + (reason != null && !kind.equals(reason) ? " (" + reason + ")" : "");
        }
        return e.toString();
    }
}
