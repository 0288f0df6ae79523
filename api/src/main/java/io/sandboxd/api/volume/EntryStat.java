package io.sandboxd.api.volume;

import java.time.Instant;

/**
 * One file, directory or symbolic link inside a volume, as the volume file API's {@code VolumeEntryStat} shows it.
 *
 * @param path   absolute inside the volume ({@code /} is the volume's root)
 * @param type   {@code file}, {@code directory}, {@code symlink} or {@code unknown} (devices, FIFOs, sockets)
 * @param mode   permission bits ({@code st_mode & 07777})
 * @param target what a symbolic link points to, as written (never followed); null for other types
 */
public record EntryStat(String name, String path, String type, long size, int mode, int uid, int gid, Instant atime,
                        Instant mtime, Instant ctime, String target) {}
