package io.sandboxd.envd.files;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.filesystem.OwnedDirs;
import io.sandboxd.envd.filesystem.UserAccess;
import io.sandboxd.envd.filesystem.UserMetadata;
import io.sandboxd.envd.http.HttpResponses;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.NativeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * {@code POST /files} on a worker thread (spec 3.1): authorises, then streams the body into the target file(s).
 * {@code application/octet-stream} goes to {@code path} (chunks written straight from Netty's buffers, gathered);
 * {@code multipart/form-data} parts named {@code file} go to {@code path} or to their file name taken as a path.
 * Parents are created and owned by the user, files are truncated and owned by the user, and the upload's
 * {@code X-Metadata-*} headers become the file's metadata. Whatever happens, the rest of the body is read (and
 * dropped) before the answer, so the connection stays usable.
 */
final class FileUpload implements Runnable {
    private static final Logger LOG = Logger.getLogger(FileUpload.class.getName());
    private static final String METADATA_HEADER_PREFIX = "x-metadata-";
    /** Gathered writes: at most this much is handed to one {@code write}. */
    private static final int GATHER_BYTES = 1 << 20;

    /** A failure with the HTTP status it is answered with. */
    static final class UploadException extends Exception {
        private static final long serialVersionUID = 1L;
        final HttpResponseStatus status;

        UploadException(HttpResponseStatus status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    /** What the answer lists for each written file. */
    record Written(String path, String name, Map<String, String> metadata) {
    }

    private final FilesRoute route;
    private final FilesExchange exchange;
    private final UploadBody body;

    FileUpload(FilesRoute route, FilesExchange exchange, UploadBody body) {
        this.route = route;
        this.exchange = exchange;
        this.body = body;
    }

    @Override
    public void run() {
        try {
            List<Written> written = upload();
            body.discardRest();
            exchange.respond(HttpResponses.json(HttpResponseStatus.OK, answer(written)));
        } catch (UploadException e) {
            finishWithError(e.status, e.getMessage());
        } catch (IOException e) {
            if (exchange.clientGone()) {
                LOG.fine("upload aborted by the client: " + e.getMessage());
                return;
            }
            finishWithError(HttpResponseStatus.INTERNAL_SERVER_ERROR, "upload failed: " + e.getMessage());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "upload failed", e);
            finishWithError(HttpResponseStatus.INTERNAL_SERVER_ERROR, "upload failed: " + e);
        } finally {
            body.close();
        }
    }

    private void finishWithError(HttpResponseStatus status, String message) {
        try {
            body.discardRest();
        } catch (IOException gone) {
            return; // nobody to answer
        }
        exchange.respond(HttpResponses.error(status, message));
    }

    private List<Written> upload() throws UploadException, IOException {
        HttpHeaders headers = exchange.head().headers();
        String path = exchange.query("path");
        String username = exchange.query("username");
        try {
            FileSignature.check(route.auth.state().accessToken().orElse(null), headers.get("X-Access-Token"),
                    path, FileSignature.WRITE, username, exchange.query("signature"),
                    exchange.query("signature_expiration"), route.clock.instant());
        } catch (FileSignature.Rejected e) {
            throw new UploadException(HttpResponseStatus.UNAUTHORIZED, e.getMessage());
        }
        UserAccount user = route.auth.user(username).orElseThrow(() -> new UploadException(
                HttpResponseStatus.UNAUTHORIZED, "error looking up user '" + userName(username) + "': unknown user"));
        Map<String, String> metadata = metadata(headers);

        String encoding;
        try {
            encoding = AcceptEncoding.contentEncoding(headers.get(HttpHeaderNames.CONTENT_ENCODING));
        } catch (IllegalArgumentException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST, e.getMessage());
        }
        String contentType = headers.get(HttpHeaderNames.CONTENT_TYPE, "");
        String mediaType = contentType.split(";")[0].trim().toLowerCase(Locale.ROOT);
        if (mediaType.equals("application/octet-stream")) {
            if (path == null) {
                throw new UploadException(HttpResponseStatus.BAD_REQUEST,
                        "path query parameter is required for an application/octet-stream upload");
            }
            Path target = resolve(path, user);
            if (encoding.equals(AcceptEncoding.GZIP)) {
                try (InputStream in = gunzip(body)) {
                    writeFile(target, user, metadata, out -> copy(in, out));
                } catch (ZipException | java.io.EOFException e) {
                    throw new UploadException(HttpResponseStatus.BAD_REQUEST, "malformed gzip body: " + e.getMessage());
                }
            } else {
                writeFile(target, user, metadata, this::copyChunks);
            }
            return List.of(new Written(target.toString(), name(target), metadata));
        }
        if (mediaType.startsWith("multipart/")) {
            String boundary;
            try {
                boundary = MultipartReader.boundary(contentType);
            } catch (MultipartReader.MalformedException e) {
                throw new UploadException(HttpResponseStatus.BAD_REQUEST, e.getMessage());
            }
            InputStream in = encoding.equals(AcceptEncoding.GZIP) ? gunzip(body) : body;
            return multipart(new MultipartReader(in, boundary), path, user, metadata);
        }
        throw new UploadException(HttpResponseStatus.BAD_REQUEST, "unsupported content type: '" + contentType
                + "', expected multipart/form-data or application/octet-stream");
    }

    private List<Written> multipart(MultipartReader reader, String pathParam, UserAccount user,
                                    Map<String, String> metadata) throws UploadException, IOException {
        List<Written> written = new ArrayList<>();
        Set<Path> targets = new LinkedHashSet<>();
        try {
            MultipartReader.Part part;
            while ((part = reader.next()) != null) {
                if (!"file".equals(part.name())) {
                    continue; // other form fields are not files; their bodies are skipped by next()
                }
                String given = pathParam != null ? pathParam : part.filename();
                if (given == null || given.isEmpty()) {
                    throw new UploadException(HttpResponseStatus.BAD_REQUEST,
                            "no path query parameter and the part has no filename to use as the path");
                }
                Path target = resolve(given, user);
                if (!targets.add(target)) {
                    throw new UploadException(HttpResponseStatus.BAD_REQUEST, "you cannot upload multiple files "
                            + "to the same path '" + target + "' in one upload request, only the first specified "
                            + "file was uploaded");
                }
                MultipartReader r = reader;
                writeFile(target, user, metadata, out -> r.transferBody((b, off, len) -> writeFully(out,
                        ByteBuffer.wrap(b, off, len))));
                written.add(new Written(target.toString(), name(target), metadata));
            }
            reader.drainEpilogue();
        } catch (MultipartReader.MalformedException | ZipException | java.io.EOFException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST, "malformed multipart body: " + e.getMessage());
        }
        if (written.isEmpty()) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST, "the multipart body has no part named 'file'");
        }
        return written;
    }

    @FunctionalInterface
    private interface Content {
        void writeTo(FileChannel out) throws IOException, UploadException;
    }

    /**
     * Creates parents, truncates or creates the file, hands it to the user, writes it, sets its metadata. The file is
     * written in place, as upstream envd does (watchers see its writes, links and mode stay); when the upload fails
     * part way (a full disk, a malformed or cut body, the client gone), what it wrote is not left behind: a file it
     * created is removed, one it was replacing is left empty.
     */
    private void writeFile(Path target, UserAccount user, Map<String, String> metadata, Content content)
            throws IOException, UploadException {
        opened = false;
        existed = false;
        try {
            writeInPlace(target, user, metadata, content);
        } catch (IOException | UploadException | RuntimeException e) {
            if (opened) {
                dropPartial(target, existed);
            }
            throw e;
        }
    }

    /** Set by {@link #writeInPlace} (this upload's worker thread only): whether the target existed, and was opened. */
    private boolean existed;
    private boolean opened;

    private void writeInPlace(Path target, UserAccount user, Map<String, String> metadata, Content content)
            throws IOException, UploadException {
        try {
            UserAccess.Resolved lands = UserAccess.resolve(target);
            if (lands.throughSymlink() && !UserAccess.mayWrite(lands.destination(), user)) {
                throw new UploadException(HttpResponseStatus.FORBIDDEN, "permission denied: " + target
                        + " leads through a symbolic link to " + lands.destination() + ", which user '" + user.name()
                        + "' may not write");
            }
            Path parent = target.getParent();
            if (parent != null) {
                OwnedDirs.create(parent, user);
            }
            if (Files.isDirectory(target)) {
                throw new UploadException(HttpResponseStatus.BAD_REQUEST, "path is a directory: " + target);
            }
            existed = Files.exists(target);
            try (FileChannel out = FileChannel.open(target, StandardOpenOption.WRITE, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                opened = true;
                if (!(existed && lands.throughSymlink())) {
                    // A file reached through a link keeps its owner: the link's maker does not get it.
                    OwnedDirs.chown(target.toRealPath(), user);
                }
                content.writeTo(out);
            }
            replaceMetadata(target, metadata);
        } catch (java.nio.file.FileSystemLoopException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST,
                    "cannot write " + target + ": cyclic symlink or a chain of too many links");
        } catch (java.nio.file.NotDirectoryException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST,
                    "cannot create " + target + ": " + e.getFile() + " is not a directory");
        } catch (FileSystemException e) {
            if (isNoSpace(e)) {
                throw noSpace(target);
            }
            throw new UploadException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "cannot write " + target + ": "
                    + e.getMessage());
        } catch (IOException e) {
            if (isNoSpace(e)) {
                throw noSpace(target);
            }
            throw e;
        }
    }

    /** No partial content stays after a failed upload: neither a half-written new file nor a half-replaced old one. */
    private static void dropPartial(Path target, boolean existed) {
        try {
            if (!existed) {
                Path real = target.toRealPath();
                if (Files.isRegularFile(real, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(real);
                }
            } else if (Files.isRegularFile(target)) {
                try (FileChannel f = FileChannel.open(target, StandardOpenOption.WRITE)) {
                    f.truncate(0);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove the partial upload at " + target, e);
        }
    }

    private static void replaceMetadata(Path target, Map<String, String> metadata) throws UploadException {
        try {
            UserMetadata.replace(target, metadata);
        } catch (NativeException e) {
            if (e.errno() == Errno.ENOSPC) {
                throw noSpace(target);
            }
            if (metadata.isEmpty() && e.errno() == Errno.EOPNOTSUPP) {
                return; // a filesystem without xattrs has no metadata to clear
            }
            throw new UploadException(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                    "cannot store metadata on " + target + ": " + e.getMessage());
        }
    }

    /** Identity octet-stream: Netty's buffers go to the file as they are, several per gathering write. */
    private void copyChunks(FileChannel out) throws IOException {
        List<ByteBuf> batch = new ArrayList<>();
        ByteBuf first;
        while ((first = body.take()) != null) {
            batch.add(first);
            try {
                long size = first.readableBytes();
                ByteBuf more;
                while (size < GATHER_BYTES && (more = body.poll()) != null) {
                    batch.add(more);
                    size += more.readableBytes();
                }
                List<ByteBuffer> nio = new ArrayList<>();
                for (ByteBuf b : batch) {
                    for (ByteBuffer bb : b.nioBuffers()) {
                        nio.add(bb);
                    }
                }
                ByteBuffer[] arr = nio.toArray(ByteBuffer[]::new);
                long left = size;
                while (left > 0) {
                    left -= out.write(arr);
                }
            } finally {
                batch.forEach(ByteBuf::release);
                batch.clear();
            }
        }
    }

    private static void copy(InputStream in, FileChannel out) throws IOException {
        byte[] buf = new byte[256 << 10];
        int n;
        while ((n = in.read(buf)) >= 0) {
            writeFully(out, ByteBuffer.wrap(buf, 0, n));
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    private static InputStream gunzip(InputStream in) throws UploadException, IOException {
        try {
            return new GZIPInputStream(in, 64 << 10);
        } catch (ZipException | java.io.EOFException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST,
                    "Content-Encoding is gzip but the body is not gzip data: " + e.getMessage());
        }
    }

    /**
     * The {@code X-Metadata-<key>} headers as metadata (keys lower-cased, as HTTP header names carry no case; the
     * first value of a repeated header wins; an empty key is ignored).
     */
    static Map<String, String> metadata(HttpHeaders headers) throws UploadException {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> h : headers) {
            String name = h.getKey();
            if (name.length() > METADATA_HEADER_PREFIX.length()
                    && name.regionMatches(true, 0, METADATA_HEADER_PREFIX, 0, METADATA_HEADER_PREFIX.length())) {
                out.putIfAbsent(name.substring(METADATA_HEADER_PREFIX.length()).toLowerCase(Locale.ROOT),
                        h.getValue());
            }
        }
        try {
            UserMetadata.validate(out);
        } catch (IllegalArgumentException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST, "invalid X-Metadata header: " + e.getMessage());
        }
        return out;
    }

    private Path resolve(String path, UserAccount user) throws UploadException {
        if (path.indexOf('\0') >= 0) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST, "path contains a NUL byte");
        }
        try {
            return route.auth.resolvePath(path, user);
        } catch (InvalidPathException e) {
            throw new UploadException(HttpResponseStatus.BAD_REQUEST, "invalid path '" + path + "': " + e.getReason());
        }
    }

    private static List<Map<String, Object>> answer(List<Written> written) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Written w : written) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("path", w.path());
            m.put("name", w.name());
            m.put("type", "file");
            if (!w.metadata().isEmpty()) {
                m.put("metadata", w.metadata());
            }
            out.add(m);
        }
        return out;
    }

    private static String name(Path p) {
        Path n = p.getFileName();
        return n == null ? "/" : n.toString();
    }

    private static String userName(String username) {
        return username == null || username.isEmpty() ? "(default user)" : username;
    }

    static boolean isNoSpace(IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
                return true;
            }
        }
        return false;
    }

    private static UploadException noSpace(Path target) {
        return new UploadException(HttpResponseStatus.INSUFFICIENT_STORAGE,
                "not enough disk space available to write " + target);
    }
}
