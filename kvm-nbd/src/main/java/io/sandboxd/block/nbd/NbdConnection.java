package io.sandboxd.block.nbd;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.ReadSink;
import io.sandboxd.block.Zeros;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.NativeException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One client connection: the fixed newstyle handshake, then transmission with simple replies, all on the calling
 * (platform) thread.
 *
 * <p>Why one blocking thread per connection doing the I/O itself, rather than Netty with a worker pool: every
 * request here is a file operation that may block, so an event loop would have to hand each one to another thread
 * and back (a futex wake and a context switch per request, which is what nbdkit pays with its reader thread and
 * worker pool). Here the thread that decodes a request performs it and appends the reply to an output buffer;
 * replies are only written when the input runs dry, so a burst of pipelined requests costs one {@code read} and
 * one {@code write} system call in all plus one {@code pread}/{@code pwrite} each. Read data is copied into the
 * output buffer with {@code pread} and leaves with the reply header in one {@code write}: measured here against
 * {@code sendfile} of the file run after a separate header write, the copy was 1.5-2x faster for 1 MiB and 4 MiB
 * reads over loopback (fewer, larger segments; no header-only packet). Connections are capped
 * ({@link NbdLimits#maxConnections}), so threads are bounded.
 *
 * <p>Memory per connection is bounded: {@link #IN_BYTES} of input, {@link #OUT_BYTES} of output, and one write
 * chunk ({@link NbdLimits#writeChunk}) allocated on the first WRITE. No request length makes it allocate more.
 *
 * <p>Hostile input: every offset/length is checked against the export with overflow-safe arithmetic before the
 * device sees it; a bad magic or an oversized option is a hard disconnect; everything else gets an error reply.
 */
public final class NbdConnection implements Runnable {
    private static final System.Logger LOG = System.getLogger(NbdConnection.class.getName());
    static final int IN_BYTES = 64 << 10;
    /** Room for a 1 MiB read reply and its header in one write (measured: 2x the throughput of 256 KiB pieces). */
    static final int OUT_BYTES = (1 << 20) + (4 << 10);
    static final int PREFERRED_BLOCK = 4096;

    private final Transport transport;
    private final Map<String, Export> exports;
    private final NbdLimits limits;
    private final ByteBuffer in = ByteBuffer.allocateDirect(IN_BYTES).flip();
    private final ByteBuffer out = ByteBuffer.allocateDirect(OUT_BYTES);
    private final SendSink sendSink = new SendSink();
    private ByteBuffer chunk;
    private long bytesFlushed;

    public NbdConnection(Transport transport, Map<String, Export> exports, NbdLimits limits) {
        this.transport = transport;
        this.exports = exports;
        this.limits = limits;
        if (limits.maxOptionData() + OptionDecoder.HEADER_BYTES > IN_BYTES) {
            throw new IllegalArgumentException("maxOptionData must fit the " + IN_BYTES + "-byte input buffer");
        }
    }

    @Override
    public void run() {
        try (transport) {
            Export export = handshake();
            if (export != null) {
                transmission(export);
            }
        } catch (EOFException e) {
            LOG.log(System.Logger.Level.DEBUG, "nbd client went away: {0}", e.getMessage());
        } catch (NbdProtocolException e) {
            LOG.log(System.Logger.Level.INFO, "nbd client dropped: {0}", e.getMessage());
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "nbd connection failed: {0}", e.toString());
        } catch (RuntimeException e) {
            // A bug must cost this connection, never the server.
            LOG.log(System.Logger.Level.WARNING, "nbd connection failed unexpectedly", e);
        }
    }

    // ---- handshake ---------------------------------------------------------------------------------------------

    /** Returns the export chosen for transmission, or null when the client ended the session. */
    private Export handshake() throws IOException, NbdProtocolException {
        ReplyEncoder.greeting(out, NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
        flushOut();
        need(4);
        int clientFlags = in.getInt();
        if ((clientFlags & ~(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES)) != 0) {
            throw new NbdProtocolException("unknown client flags 0x" + Integer.toHexString(clientFlags));
        }
        boolean zeroes = (clientFlags & NbdProtocol.FLAG_C_NO_ZEROES) == 0;
        for (int count = 0; count < limits.maxOptions(); count++) {
            OptionRequest opt;
            while ((opt = OptionDecoder.decode(in, limits.maxOptionData())) == null) {
                fill();
            }
            switch (opt.option()) {
                case NbdProtocol.OPT_EXPORT_NAME -> {
                    Export e = exports.get(decodeName(opt.data(), 0, opt.data().length));
                    if (e == null) {
                        // EXPORT_NAME has no error reply: the protocol says hang up.
                        throw new NbdProtocolException("client asked for an unknown export");
                    }
                    ReplyEncoder.exportNameReply(out, e.device().size(), e.transmissionFlags(), zeroes);
                    return e;
                }
                case NbdProtocol.OPT_ABORT -> {
                    ReplyEncoder.optionReply(out, opt.option(), NbdProtocol.REP_ACK);
                    flushOut();
                    return null;
                }
                case NbdProtocol.OPT_LIST -> {
                    if (opt.data().length != 0) {
                        ReplyEncoder.optionError(out, opt.option(), NbdProtocol.REP_ERR_INVALID, "LIST takes no data");
                    } else {
                        for (Map.Entry<String, Export> e : exports.entrySet()) {
                            if (e.getKey().equals(e.getValue().name())) {
                                ensureOut(OptionDecoder.HEADER_BYTES + 8 + 2 * 4096 * 3);
                                ReplyEncoder.server(out, e.getKey(), e.getValue().description());
                            }
                        }
                        ReplyEncoder.optionReply(out, opt.option(), NbdProtocol.REP_ACK);
                    }
                }
                case NbdProtocol.OPT_INFO, NbdProtocol.OPT_GO -> {
                    Export e = infoOrGo(opt);
                    if (e != null && opt.option() == NbdProtocol.OPT_GO) {
                        return e;
                    }
                }
                default -> ReplyEncoder.optionError(out, opt.option(), NbdProtocol.REP_ERR_UNSUP,
                        "option " + opt.option() + " is not supported by this server");
            }
            // Replies are flushed when the next option has not arrived yet (fill flushes before blocking).
        }
        throw new NbdProtocolException("more than " + limits.maxOptions() + " options without choosing an export");
    }

    /** NBD_OPT_INFO / NBD_OPT_GO: replies, and returns the export on success (null after an error reply). */
    private Export infoOrGo(OptionRequest opt) throws IOException {
        ByteBuffer d = ByteBuffer.wrap(opt.data());
        int option = opt.option();
        if (d.remaining() < 6) {
            ReplyEncoder.optionError(out, option, NbdProtocol.REP_ERR_INVALID, "option data too short");
            return null;
        }
        long nameLength = Integer.toUnsignedLong(d.getInt());
        if (nameLength > d.remaining() - 2) {
            ReplyEncoder.optionError(out, option, NbdProtocol.REP_ERR_INVALID, "name length exceeds the option");
            return null;
        }
        String name;
        try {
            name = decodeName(opt.data(), 4, (int) nameLength);
        } catch (NbdProtocolException e) {
            ReplyEncoder.optionError(out, option, NbdProtocol.REP_ERR_INVALID, "export name is not UTF-8");
            return null;
        }
        d.position(4 + (int) nameLength);
        int requests = Short.toUnsignedInt(d.getShort());
        if (d.remaining() != 2 * requests) {
            ReplyEncoder.optionError(out, option, NbdProtocol.REP_ERR_INVALID, "information request count mismatch");
            return null;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < requests; i++) {
            int info = Short.toUnsignedInt(d.getShort());
            wantName |= info == NbdProtocol.INFO_NAME;
            wantDescription |= info == NbdProtocol.INFO_DESCRIPTION;
        }
        Export e = exports.get(name);
        if (e == null) {
            ReplyEncoder.optionError(out, option, NbdProtocol.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        ensureOut(3 * 4096 + 256);
        ReplyEncoder.infoExport(out, option, e.device().size(), e.transmissionFlags());
        if (wantName) {
            ReplyEncoder.infoString(out, option, NbdProtocol.INFO_NAME, e.name());
        }
        if (wantDescription && !e.description().isEmpty()) {
            ReplyEncoder.infoString(out, option, NbdProtocol.INFO_DESCRIPTION, e.description());
        }
        // Sent whether asked or not: minimum 1 (any alignment works, partial blocks are read-modify-written),
        // preferred 4 KiB (the overlay's block), maximum our payload cap.
        ReplyEncoder.infoBlockSize(out, option, 1, PREFERRED_BLOCK, limits.maxPayload());
        ReplyEncoder.optionReply(out, option, NbdProtocol.REP_ACK);
        return e;
    }

    private static String decodeName(byte[] data, int offset, int length) throws NbdProtocolException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(data, offset, length)).toString();
        } catch (CharacterCodingException e) {
            throw new NbdProtocolException("export name is not valid UTF-8");
        }
    }

    // ---- transmission ------------------------------------------------------------------------------------------

    private void transmission(Export export) throws IOException, NbdProtocolException {
        BlockDevice dev = export.device();
        long size = dev.size();
        boolean readOnly = dev.readOnly();
        while (true) {
            Request next;
            while ((next = RequestDecoder.decode(in)) == null) {
                fill();
            }
            Request r = next;
            int flags = r.flags();
            boolean fua = (flags & NbdProtocol.CMD_FLAG_FUA) != 0;
            switch (r.type()) {
                case NbdProtocol.CMD_READ -> read(dev, r, size);
                case NbdProtocol.CMD_WRITE -> write(dev, r, size, readOnly);
                case NbdProtocol.CMD_FLUSH -> reply(flagsOk(flags, 0) ? run(dev::flush) : NbdProtocol.EINVAL, r);
                case NbdProtocol.CMD_TRIM -> {
                    int err = !flagsOk(flags, 0) ? NbdProtocol.EINVAL
                            : readOnly ? NbdProtocol.EPERM
                            : !inBounds(r, size) ? NbdProtocol.EINVAL
                            : run(() -> {
                                dev.trim(r.offset(), r.length());
                                if (fua) {
                                    dev.flush();
                                }
                            });
                    reply(err, r);
                }
                case NbdProtocol.CMD_WRITE_ZEROES -> {
                    boolean punch = (flags & NbdProtocol.CMD_FLAG_NO_HOLE) == 0;
                    int err = !flagsOk(flags, NbdProtocol.CMD_FLAG_NO_HOLE) ? NbdProtocol.EINVAL
                            : readOnly ? NbdProtocol.EPERM
                            : !inBounds(r, size) ? NbdProtocol.ENOSPC
                            : run(() -> {
                                dev.writeZeroes(r.offset(), r.length(), punch);
                                if (fua) {
                                    dev.flush();
                                }
                            });
                    reply(err, r);
                }
                case NbdProtocol.CMD_DISC -> {
                    // Every earlier request has been answered (we work in order); flush replies and hang up.
                    flushOut();
                    return;
                }
                default -> reply(NbdProtocol.EINVAL, r);
            }
        }
    }

    /** Flags other than FUA and {@code extra} are invalid for a command (the spec asks for EINVAL). */
    private static boolean flagsOk(int flags, int extra) {
        return (flags & ~(NbdProtocol.CMD_FLAG_FUA | extra)) == 0;
    }

    private static boolean inBounds(Request r, long size) {
        return r.offsetFitsInLong() && BlockDevice.inBounds(r.offset(), r.length(), size);
    }

    private void read(BlockDevice dev, Request r, long size) throws IOException {
        int err = !flagsOk(r.flags(), 0) ? NbdProtocol.EINVAL
                : r.length() > limits.maxPayload() ? NbdProtocol.EINVAL
                : !inBounds(r, size) ? NbdProtocol.EINVAL : 0;
        if (err != 0) {
            reply(err, r);
            return;
        }
        ensureOut(ReplyEncoder.SIMPLE_REPLY_BYTES);
        int mark = out.position();
        long flushedAtMark = bytesFlushed;
        ReplyEncoder.simpleReply(out, 0, r.cookie());
        try {
            dev.read(r.offset(), r.length(), sendSink);
        } catch (IOException | RuntimeException e) {
            if (bytesFlushed != flushedAtMark) {
                // Part of a success reply already left: the only honest move is a hard disconnect.
                throw new IOException("read failed after its reply started: " + e, e);
            }
            out.position(mark);
            reply(errorOf(e), r);
        }
    }

    private void write(BlockDevice dev, Request r, long size, boolean readOnly) throws IOException {
        long length = r.length();
        int err = !flagsOk(r.flags(), 0) ? NbdProtocol.EINVAL
                : readOnly ? NbdProtocol.EPERM
                : length > limits.maxPayload() ? NbdProtocol.EINVAL
                : !inBounds(r, size) ? NbdProtocol.ENOSPC : 0;
        if (chunk == null && err == 0) {
            chunk = ByteBuffer.allocateDirect(limits.writeChunk());
        }
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(length - done, err == 0 ? chunk.capacity() : Zeros.PAGE);
            if (err != 0) {
                // Refused: read the payload and drop it, so the next request header is found where it belongs.
                skip(n);
            } else {
                chunk.clear().limit(n);
                readPayload(chunk);
                chunk.flip();
                long at = r.offset() + done;
                err = run(() -> dev.write(at, chunk));
            }
            done += n;
        }
        if (err == 0 && (r.flags() & NbdProtocol.CMD_FLAG_FUA) != 0) {
            err = run(dev::flush);
        }
        reply(err, r);
    }

    /** Fills {@code dst} from buffered input first, then straight from the transport (no copy through {@link #in}). */
    private void readPayload(ByteBuffer dst) throws IOException {
        if (in.hasRemaining()) {
            int n = Math.min(in.remaining(), dst.remaining());
            dst.put(in.slice(in.position(), n));
            in.position(in.position() + n);
        }
        if (dst.hasRemaining()) {
            flushOut();
            while (dst.hasRemaining()) {
                if (transport.read(dst) < 0) {
                    throw new EOFException("client closed in the middle of a write payload");
                }
            }
        }
    }

    private void skip(int n) throws IOException {
        int left = n;
        while (left > 0) {
            if (!in.hasRemaining()) {
                fill();
            }
            int k = Math.min(left, in.remaining());
            in.position(in.position() + k);
            left -= k;
        }
    }

    private void reply(int error, Request r) throws IOException {
        ensureOut(ReplyEncoder.SIMPLE_REPLY_BYTES);
        ReplyEncoder.simpleReply(out, error, r.cookie());
    }

    private interface DeviceCall {
        void run() throws IOException;
    }

    /** Runs a device operation; returns 0 or the NBD error to reply with. */
    private static int run(DeviceCall call) {
        try {
            call.run();
            return 0;
        } catch (IOException | RuntimeException e) {
            return errorOf(e);
        }
    }

    static int errorOf(Exception e) {
        if (e instanceof NativeException ne) {
            return switch (ne.errno()) {
                case Errno.ENOSPC, Errno.EFBIG, 122 /* EDQUOT */ -> NbdProtocol.ENOSPC;
                case Errno.EROFS, Errno.EPERM, Errno.EACCES -> NbdProtocol.EPERM;
                case Errno.ENOMEM -> NbdProtocol.ENOMEM;
                default -> NbdProtocol.EIO;
            };
        }
        if (e instanceof IOException && e.getMessage() != null && e.getMessage().contains("No space left")) {
            return NbdProtocol.ENOSPC;
        }
        if (e instanceof UnsupportedOperationException || e instanceof IllegalStateException) {
            return NbdProtocol.EPERM;
        }
        if (e instanceof IllegalArgumentException) {
            return NbdProtocol.EINVAL;
        }
        LOG.log(System.Logger.Level.WARNING, "nbd request failed", e);
        return NbdProtocol.EIO;
    }

    /** Copies read data into the reply in {@link #out}, writing it out whenever the buffer fills. */
    private final class SendSink implements ReadSink {
        @Override
        public void file(FileChannel file, long position, long length) throws IOException {
            // No fstat per read: a layer file shorter than the image simply hits end of file, read as zeros.
            long pos = position;
            long left = length;
            while (left > 0) {
                if (!out.hasRemaining()) {
                    flushOut();
                }
                int n = (int) Math.min(left, out.remaining());
                int limit = out.limit();
                out.limit(out.position() + n);
                try {
                    while (out.hasRemaining()) {
                        if (file.read(out, pos + (n - out.remaining())) < 0) {
                            Zeros.put(out, out.remaining());
                        }
                    }
                } finally {
                    out.limit(limit);
                }
                pos += n;
                left -= n;
            }
        }

        @Override
        public void zeros(long length) throws IOException {
            long left = length;
            while (left > 0) {
                if (!out.hasRemaining()) {
                    flushOut();
                }
                int n = (int) Math.min(left, Math.min(out.remaining(), Zeros.PAGE));
                out.put(Zeros.view(n));
                left -= n;
            }
        }
    }

    // ---- buffers -----------------------------------------------------------------------------------------------

    private void need(int n) throws IOException {
        while (in.remaining() < n) {
            fill();
        }
    }

    /** Reads more input; pending replies go out first, since the client may be waiting for them. */
    private void fill() throws IOException {
        flushOut();
        in.compact();
        try {
            if (!in.hasRemaining()) {
                throw new IllegalStateException("input buffer full without a complete message");
            }
            if (transport.read(in) < 0) {
                throw new EOFException("client closed the connection");
            }
        } finally {
            in.flip();
        }
    }

    private void ensureOut(int n) throws IOException {
        if (out.remaining() < n) {
            flushOut();
        }
    }

    private void flushOut() throws IOException {
        if (out.position() > 0) {
            out.flip();
            bytesFlushed += out.remaining();
            transport.write(out);
            out.clear();
        }
    }
}
