package io.sandboxd.api.volume;

import java.util.List;

/**
 * The file tree of one volume, for the volume file API. Paths are inside the volume ({@code /a/b} or {@code a/b});
 * {@code ..} is refused and no symbolic link is ever followed. Refusals are
 * {@link io.sandboxd.api.sandbox.SandboxException}s: NOT_FOUND (the SDK's VolumePathNotFoundError), INVALID for a
 * path that is not allowed or runs through a file or link, CONFLICT for an entry that exists or a directory that is
 * not empty where that matters.
 */
public interface VolumeFiles {
    /** Entries under the directory, {@code depth} levels deep (1 = its children only); the directory itself is not listed. */
    List<EntryStat> list(String path, int depth);

    EntryStat stat(String path);

    /** {@code parents}: create missing parents and accept an existing directory (the SDK's {@code force}). */
    EntryStat makeDir(String path, Ownership ownership, boolean parents);

    byte[] read(String path);

    /** Creates or replaces a regular file; missing parent directories are created. */
    EntryStat write(String path, byte[] content, Ownership ownership);

    /** Sets what is not null of uid, gid and mode. */
    EntryStat updateMetadata(String path, Ownership ownership);

    /** Removes a file, link, or a directory with everything in it. */
    void remove(String path);
}
