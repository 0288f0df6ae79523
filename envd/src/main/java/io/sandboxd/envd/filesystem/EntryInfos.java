package io.sandboxd.envd.filesystem;

import com.google.protobuf.Timestamp;
import io.sandboxd.envd.auth.UserDatabase;
import io.sandboxd.envd.proto.filesystem.EntryInfo;
import io.sandboxd.envd.proto.filesystem.FileType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;

/**
 * Builds {@code EntryInfo} the way the SDKs expect it (spec 3.5): for a symlink, {@code type} and {@code mode} are
 * the target's and {@code symlinkTarget} is the fully resolved target path, while {@code size} and
 * {@code permissions} describe the link itself; owner and group are names (numeric when no account has the id);
 * {@code metadata} comes from the {@code user.e2b.*} xattrs.
 */
public final class EntryInfos {
    private static final String STAT_ATTRIBUTES = "unix:mode,uid,gid,size,lastModifiedTime";

    private final UserDatabase users;

    public EntryInfos(UserDatabase users) {
        this.users = users;
    }

    /**
     * The entry at {@code path} (not followed if it is a symlink), reported under that path.
     *
     * @throws java.nio.file.NoSuchFileException when nothing is there
     */
    public EntryInfo of(Path path) throws IOException {
        Map<String, Object> st = Files.readAttributes(path, STAT_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        return build(path, st);
    }

    /** Like {@link #of(Path)} but null when the path no longer exists (watch events race with deletions). */
    public EntryInfo ofIfExists(Path path) {
        try {
            return of(path);
        } catch (IOException e) {
            return null;
        }
    }

    private EntryInfo build(Path path, Map<String, Object> st) {
        int mode = (Integer) st.get("mode");
        EntryInfo.Builder b = EntryInfo.newBuilder()
                .setName(nameOf(path))
                .setPath(path.toString())
                .setSize((Long) st.get("size"))
                .setPermissions(FileModes.permissionString(mode))
                .setOwner(users.userName((Integer) st.get("uid")))
                .setGroup(users.groupName((Integer) st.get("gid")))
                .setModifiedTime(timestamp((FileTime) st.get("lastModifiedTime")));
        if (FileModes.isSymlink(mode)) {
            Path target;
            int targetMode;
            try {
                target = path.toRealPath();
                targetMode = (Integer) Files.getAttribute(target, "unix:mode");
                b.setType(typeOf(targetMode)).setMode(FileModes.permissionBits(targetMode));
            } catch (IOException dangling) {
                // A dangling or looping link has no target to describe: report the link and where it points.
                target = readLinkAbsolute(path);
                b.setType(FileType.FILE_TYPE_SYMLINK).setMode(FileModes.permissionBits(mode));
            }
            b.setSymlinkTarget(target.toString());
        } else {
            b.setType(typeOf(mode)).setMode(FileModes.permissionBits(mode));
        }
        b.putAllMetadata(UserMetadata.read(path));
        return b.build();
    }

    static FileType typeOf(int mode) {
        if (FileModes.isRegular(mode)) {
            return FileType.FILE_TYPE_FILE;
        }
        if (FileModes.isDirectory(mode)) {
            return FileType.FILE_TYPE_DIRECTORY;
        }
        if (FileModes.isSymlink(mode)) {
            return FileType.FILE_TYPE_SYMLINK;
        }
        // devices, fifos, sockets: the SDKs have no type for them
        return FileType.FILE_TYPE_UNSPECIFIED;
    }

    static String nameOf(Path path) {
        Path name = path.getFileName();
        return name == null ? "/" : name.toString();
    }

    static Timestamp timestamp(FileTime time) {
        Instant i = time.toInstant();
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    private static Path readLinkAbsolute(Path link) {
        try {
            Path t = Files.readSymbolicLink(link);
            Path parent = link.toAbsolutePath().getParent();
            return (parent == null ? t : parent.resolve(t)).normalize();
        } catch (IOException e) {
            return link;
        }
    }
}
