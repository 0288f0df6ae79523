package io.sandboxd.block.nbd;

import io.sandboxd.block.BlockDevice;
import io.sandboxd.block.ReadSink;
import io.sandboxd.block.Zeros;
import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.NativeException;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * One client connection: the fixed newstyle handshake, then transmission with simple replies.
 *
 * <p>Threads, and why not Netty: every request is a file operation that may block (page cache misses, dirty-page
 * throttling, fdatasync), so an event loop would hand each request to a pool and back anyway. Here the calling
 * platform thread is the reader: it decodes requests and performs the ones where a hand-off costs more than it
 * buys, whenever no request is with the workers (so replies keep request order): WRITEs up to {@link #TASK_BYTES}
 * go to the device straight from the input buffer or, when larger than it, from one reader buffer just filled
 * (cache-hot), and READs are answered from the device's file mappings, small ones through the output buffer,
 * large ones sent from the mapping (measured on this 2-core machine: handing these to workers cost futex wake-ups
 * and a copy through cold memory; 1 MiB reads and 4 KiB random writes were at half of nbdkit's throughput, 4 KiB
 * random reads used 1.4x the CPU per request). The price: a read that misses the page cache stalls the pipeline
 * instead of overlapping with others (a {@code mincore}/{@code preadv2(RWF_NOWAIT)} probe that hands misses to
 * the workers is the way to get both). FLUSH, TRIM, WRITE_ZEROES and anything arriving while workers are busy go
 * to a small fixed set of workers per connection ({@link NbdLimits#workers}), so a flush does not stop the stream.
 * Replies of small requests are
 * appended to one output buffer and written when nothing else is in flight, when the reader waits for input, or
 * every {@link #FLUSH_BATCH}, so a burst of pipelined 4 KiB requests costs a few {@code read}s and {@code write}s in
 * all plus one {@code pwrite} per write. Read data comes from the devices' read-only mappings of their files: small
 * reads are copied into the output buffer (no {@code pread}), large ones are sent straight from the mapping behind
 * their header (one copy, page cache to socket). Not {@code sendfile}: it left the whole copy to the client, reading
 * cold page-cache pages, and measured 0.4x the throughput of copying for 1 MiB reads on this 2-core machine.
 * A streamed READ that fails after its first chunk left (an I/O error half way through a large read) can no
 * longer get an error reply with simple replies, so the connection is dropped instead (the client sees the
 * request fail); a failure in the first chunk gets the usual error reply.
 *
 * <p>Memory per connection is bounded whatever the client sends: {@link #IN_BYTES} of input, {@link #OUT_BYTES} of
 * output, {@code workers + 2} buffers of 1 MiB and 32 of 64 KiB; larger requests (up
 * to {@link NbdLimits#maxPayload}) are streamed by the reader in chunks once the workers are idle. Connections are
 * capped ({@link NbdLimits#maxConnections}), so threads are bounded too.
 *
 * <p>Hostile input: every offset/length is checked against the export with overflow-safe arithmetic before the
 * device sees it; a bad magic or an oversized option is a hard disconnect; everything else gets an error reply, and
 * a refused WRITE's payload is read and dropped so the stream stays in step.
 */
public final class NbdConnection implements Runnable {
    private static final System.Logger LOG = System.getLogger(NbdConnection.class.getName());
    static final int IN_BYTES = 64 << 10;
    /**
     * Output buffer: replies batched, and reads that cannot be sent from a mapping streamed in chunks of this size
     * (half a MiB measured best for pread-then-send: 256 KiB made more sends and wake-ups; with 1 MiB the chunk no
     * longer stayed in the 512 KiB L2 between pread and send).
     */
    static final int OUT_BYTES = 512 << 10;
    /** Payload size a worker buffer holds: larger requests are streamed by the reader with no worker running. */
    static final int TASK_BYTES = 1 << 20;
    /** Read replies up to this size are batched in {@link #out}; larger ones leave from the worker's buffer. */
    static final int COPY_LIMIT = 64 << 10;
    static final int SMALL_BYTES = 64 << 10;
    /** Mapped read runs at least this long are sent from the mapping; shorter ones are batched in {@link #out}. */
    static final int SEND_DIRECT_MIN = Integer.getInteger("sandboxd.nbd.sendDirectMin", 64 << 10);
    static final int SMALL_BUFFERS = 32;
    /**
     * Replies are written at least every this many: a client with a deep queue gets completions while the rest of
     * its burst is still being served, so it can refill its queue instead of waiting for the whole burst.
     */
    static final int FLUSH_BATCH = Integer.getInteger("sandboxd.nbd.flushBatch", 8);
    static final int PREFERRED_BLOCK = 4096;

    private final Transport transport;
    private final Map<String, Export> exports;
    private final NbdLimits limits;
    private final ByteBuffer in = ByteBuffer.allocateDirect(IN_BYTES).flip();
    private final ByteBuffer out = ByteBuffer.allocateDirect(OUT_BYTES);
    private final MemorySegment outSegment = MemorySegment.ofBuffer(out);
    private final SendSink sendSink = new SendSink();
    /** Guards {@link #out}, the transport's write side, {@link #inFlight}, {@link #unflushedReplies} and {@link #workerFailure}. */
    private final java.util.concurrent.locks.ReentrantLock sendLock = new java.util.concurrent.locks.ReentrantLock();
    private final java.util.concurrent.locks.Condition idle = sendLock.newCondition();
    private ArrayBlockingQueue<ByteBuffer> buffers;
    private ArrayBlockingQueue<ByteBuffer> smallBuffers;
    /** Holds a WRITE payload that did not fit in {@link #in}; used by the reader only. */
    private ByteBuffer readerBuffer;
    private ArrayBlockingQueue<Task> tasks;
    private Thread[] workerThreads;
    private int inFlight;
    private int unflushedReplies;
    private IOException workerFailure;
    private volatile boolean readerWaiting;
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
        try {
            Export export = handshake();
            if (export != null) {
                transmission(export);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (EOFException e) {
            LOG.log(System.Logger.Level.DEBUG, "nbd client went away: {0}", e.getMessage());
        } catch (NbdProtocolException e) {
            LOG.log(System.Logger.Level.INFO, "nbd client dropped: {0}", e.getMessage());
            answerWhatCameBefore();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "nbd connection failed: {0}", e.toString());
        } catch (RuntimeException e) {
            // A bug must cost this connection, never the server.
            LOG.log(System.Logger.Level.WARNING, "nbd connection failed unexpectedly", e);
        } finally {
            // Shut first, so a worker blocked sending fails out; close only once no worker can touch the socket.
            shutdownQuietly();
            stopWorkers();
            try {
                transport.close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "nbd close failed: {0}", e.toString());
            }
        }
    }

    /**
     * Before hanging up on a protocol violation: the replies to what came before it (option replies, requests with
     * the workers) still go out, so the client learns what was done; they may sit unsent in the output buffer when
     * the violation arrived in the same read.
     */
    private void answerWhatCameBefore() {
        try {
            if (workerThreads != null) {
                drainThen(this::flushOut);
            } else {
                flushOut();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "nbd: replies before the hang-up not sent: {0}", e.toString());
        }
    }

    private void shutdownQuietly() {
        try {
            transport.shutdown();
        } catch (IOException ignored) {
            // already failing
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

    /**
     * A request handed to a worker with its buffer (payload in for WRITE, data out for READ); {@code error} is -1
     * to perform it, or the NBD error to answer with (requests refused by validation still queue, so that replies
     * leave in request order when there is one worker).
     */
    private record Task(Request request, ByteBuffer buffer, int error) {
    }

    private static final Task STOP = new Task(null, null, 0);

    private void transmission(Export export) throws IOException, NbdProtocolException, InterruptedException {
        BlockDevice dev = export.device();
        long size = dev.size();
        boolean readOnly = dev.readOnly();
        int taskBytes = Math.min(limits.maxPayload(), TASK_BYTES);
        buffers = new ArrayBlockingQueue<>(limits.workers() + 1);
        for (int i = 0; i < limits.workers() + 1; i++) {
            // Page-aligned data: pread into it and recv into it copy to/from page-aligned memory (the 16-byte reply
            // header travels in its own small buffer, gathered into the same write).
            buffers.add(ByteBuffer.allocateDirect(taskBytes + PAGE).alignedSlice(PAGE).limit(taskBytes).slice());
        }
        // Small requests get small buffers, many of them: the reader can run a whole 4 KiB queue ahead of the
        // workers instead of handing over one request at a time (measured: with only the big buffers, one request
        // per wake-up, the futex traffic doubled the kernel time of random writes).
        smallBuffers = new ArrayBlockingQueue<>(SMALL_BUFFERS);
        for (int i = 0; i < SMALL_BUFFERS; i++) {
            smallBuffers.add(ByteBuffer.allocateDirect(SMALL_BYTES + PAGE).alignedSlice(PAGE).limit(SMALL_BYTES).slice());
        }
        readerBuffer = ByteBuffer.allocateDirect(taskBytes + PAGE).alignedSlice(PAGE).limit(taskBytes).slice();
        tasks = new ArrayBlockingQueue<>(limits.workers() + 1 + SMALL_BUFFERS);
        workerThreads = new Thread[limits.workers()];
        for (int i = 0; i < workerThreads.length; i++) {
            workerThreads[i] = Thread.ofPlatform().name(Thread.currentThread().getName() + "-worker-" + i).daemon()
                    .start(() -> work(dev));
        }
        while (true) {
            Request next;
            try {
                while ((next = RequestDecoder.decode(in)) == null) {
                    fill();
                }
            } catch (EOFException e) {
                // The client stopped sending (half-close or gone): answer what it already asked, then hang up.
                drainThen(this::flushOut);
                throw e;
            }
            Request r = next;
            int flags = r.flags();
            long length = r.length();
            switch (r.type()) {
                case NbdProtocol.CMD_READ -> {
                    int err = !flagsOk(flags, 0) ? NbdProtocol.EINVAL
                            : length > limits.maxPayload() ? NbdProtocol.EINVAL
                            : !inBounds(r, size) ? NbdProtocol.EINVAL : 0;
                    if (err != 0) {
                        submit(r, null, err);
                    } else if (length <= taskBytes && readHere(dev, r)) {
                        // Streamed by the reader (see readHere).
                    } else if (length <= taskBytes) {
                        submit(r, takeBuffer(length), -1);
                    } else {
                        drainThen(() -> readInline(dev, r));
                    }
                }
                case NbdProtocol.CMD_WRITE -> {
                    int err = !flagsOk(flags, 0) ? NbdProtocol.EINVAL
                            : readOnly ? NbdProtocol.EPERM
                            : length > limits.maxPayload() ? NbdProtocol.EINVAL
                            : !inBounds(r, size) ? NbdProtocol.ENOSPC : 0;
                    if (err != 0) {
                        // Refused: read the payload and drop it, so the next request header is found where it belongs.
                        skip(length);
                        submit(r, null, err);
                    } else if (length <= taskBytes && nothingInFlight()) {
                        writeHere(dev, r);
                    } else if (length <= taskBytes) {
                        ByteBuffer b = takeBuffer(length);
                        b.clear().limit((int) length);
                        readPayload(b);
                        b.flip();
                        submit(r, b, -1);
                    } else {
                        drainThen(() -> writeInline(dev, r));
                    }
                }
                case NbdProtocol.CMD_FLUSH ->
                    submit(r, null, flagsOk(flags, 0) ? -1 : NbdProtocol.EINVAL);
                case NbdProtocol.CMD_TRIM -> submit(r, null, !flagsOk(flags, 0) ? NbdProtocol.EINVAL
                        : readOnly ? NbdProtocol.EPERM
                        : !inBounds(r, size) ? NbdProtocol.EINVAL : -1);
                case NbdProtocol.CMD_WRITE_ZEROES -> submit(r, null,
                        !flagsOk(flags, NbdProtocol.CMD_FLAG_NO_HOLE) ? NbdProtocol.EINVAL
                        : readOnly ? NbdProtocol.EPERM
                        : !inBounds(r, size) ? NbdProtocol.ENOSPC : -1);
                case NbdProtocol.CMD_DISC -> {
                    // The protocol wants every outstanding request handled before the hang-up.
                    drainThen(this::flushOut);
                    return;
                }
                default -> submit(r, null, NbdProtocol.EINVAL);
            }
        }
    }

    private ByteBuffer takeBuffer(long length) throws InterruptedException {
        return length <= SMALL_BYTES ? smallBuffers.take() : buffers.take();
    }

    private void submit(Request r, ByteBuffer buffer, int error) throws InterruptedException, IOException {
        sendLock.lock();
        try {
            if (workerFailure != null) {
                throw workerFailure;
            }
            inFlight++;
        } finally {
            sendLock.unlock();
        }
        tasks.put(new Task(r, buffer, error));
    }

    /** Waits until every submitted request has been answered. */
    private void drain() throws InterruptedException, IOException {
        sendLock.lock();
        try {
            while (inFlight > 0 && workerFailure == null) {
                idle.await();
            }
            if (workerFailure != null) {
                throw workerFailure;
            }
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Waits until every submitted request has been answered, then runs {@code step} holding the send lock: how the
     * reader answers alone (an oversized request, a hang-up) without a worker's reply interleaving with its own.
     */
    private void drainThen(SendStep step) throws InterruptedException, IOException {
        drain();
        sendLock.lock();
        try {
            step.run();
        } finally {
            sendLock.unlock();
        }
    }

    /** Work on {@link #out} and the transport that must hold the send lock. */
    @FunctionalInterface
    private interface SendStep {
        void run() throws IOException, InterruptedException;
    }

    /**
     * A worker: performs requests and answers them. Small replies are appended to {@link #out} and written when no
     * other request is in flight or the reader waits for input (so a burst costs one write); large read replies
     * leave from the worker's own buffer in one write.
     */
    private void work(BlockDevice dev) {
        WorkerSink sink = new WorkerSink();
        while (true) {
            Task t;
            try {
                t = tasks.take();
            } catch (InterruptedException e) {
                return;
            }
            if (t == STOP) {
                return;
            }
            Request r = t.request();
            ByteBuffer buf = t.buffer();
            try {
                int err = t.error();
                if (err < 0) {
                    err = execute(dev, r, buf, sink);
                }
                sendLock.lock();
                try {
                    if (r.type() == NbdProtocol.CMD_READ && err == 0) {
                        int length = (int) r.length();
                        buf.position(0).limit(length);
                        if (length > COPY_LIMIT) {
                            flushOut();
                            header.clear();
                            ReplyEncoder.simpleReply(header, 0, r.cookie());
                            transport.write(new ByteBuffer[] {header.flip(), buf});
                        } else {
                            ensureOut(ReplyEncoder.SIMPLE_REPLY_BYTES + length);
                            ReplyEncoder.simpleReply(out, 0, r.cookie());
                            out.put(buf);
                        }
                    } else {
                        ensureOut(ReplyEncoder.SIMPLE_REPLY_BYTES);
                        ReplyEncoder.simpleReply(out, err, r.cookie());
                    }
                    inFlight--;
                    if (++unflushedReplies >= FLUSH_BATCH || inFlight == 0 || readerWaiting) {
                        flushOut();
                    }
                    if (inFlight == 0) {
                        idle.signalAll();
                    }
                } finally {
                    sendLock.unlock();
                }
                if (readerWaiting) {
                    // The reader may have found the lock busy just after our check above: flush for it.
                    sendLock.lock();
                    try {
                        flushOut();
                    } finally {
                        sendLock.unlock();
                    }
                }
            } catch (IOException | RuntimeException e) {
                sendLock.lock();
                try {
                    workerFailure = e instanceof IOException io ? io : new IOException(e);
                    inFlight--;
                    idle.signalAll();
                } finally {
                    sendLock.unlock();
                }
                shutdownQuietly(); // wakes the reader
            } finally {
                if (buf != null) {
                    (buf.capacity() == SMALL_BYTES ? smallBuffers : buffers).add(buf);
                }
            }
        }
    }

    /** The reply header of large reads, written together with the data (guarded by {@link #sendLock}). */
    private final ByteBuffer header = ByteBuffer.allocateDirect(ReplyEncoder.SIMPLE_REPLY_BYTES);
    private static final int PAGE = 4096;

    /** Runs one request on the device; returns 0 or the NBD error. READ data lands in {@code buf}. */
    private static int execute(BlockDevice dev, Request r, ByteBuffer buf, WorkerSink sink) {
        boolean fua = (r.flags() & NbdProtocol.CMD_FLAG_FUA) != 0;
        return switch (r.type()) {
            case NbdProtocol.CMD_READ -> run(() -> {
                buf.clear().limit((int) r.length());
                sink.target = buf;
                dev.read(r.offset(), r.length(), sink);
            });
            case NbdProtocol.CMD_WRITE -> run(() -> {
                dev.write(r.offset(), buf);
                if (fua) {
                    dev.flush();
                }
            });
            case NbdProtocol.CMD_FLUSH -> run(dev::flush);
            case NbdProtocol.CMD_TRIM -> run(() -> {
                dev.trim(r.offset(), r.length());
                if (fua) {
                    dev.flush();
                }
            });
            case NbdProtocol.CMD_WRITE_ZEROES -> run(() -> {
                dev.writeZeroes(r.offset(), r.length(), (r.flags() & NbdProtocol.CMD_FLAG_NO_HOLE) == 0);
                if (fua) {
                    dev.flush();
                }
            });
            default -> NbdProtocol.EINVAL;
        };
    }

    /** Copies read data into a worker's buffer. */
    private static final class WorkerSink implements ReadSink {
        ByteBuffer target;

        @Override
        public void file(FileChannel file, MemorySegment mapping, long position, long length) throws IOException {
            if (length <= mapping.byteSize() - position) {
                MemorySegment.copy(mapping, position, MemorySegment.ofBuffer(target), 0, length);
                target.position(target.position() + (int) length);
            } else {
                io.sandboxd.block.layer.LayeredImage.readFully(file, position, target, length);
            }
        }

        @Override
        public void zeros(long length) {
            Zeros.put(target, length);
        }
    }

    private void stopWorkers() {
        if (workerThreads == null) {
            return;
        }
        tasks.clear();
        for (Thread w : workerThreads) {
            if (!tasks.offer(STOP)) {
                w.interrupt();
            }
        }
        for (Thread w : workerThreads) {
            try {
                w.join(10_000);
                if (w.isAlive()) {
                    w.interrupt();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
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

    /** Whether no request is with the workers: then the reader may run one itself and replies stay in order. */
    private boolean nothingInFlight() {
        sendLock.lock();
        try {
            return inFlight == 0;
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * A READ done by the reader through the output buffer when no request is with the workers (so replies keep
     * request order); returns false, having done nothing, otherwise. No hand-off, and each chunk is sent while its
     * pread just left it in cache (measured: sent from a worker's 1 MiB buffer the copy ran from memory at a third
     * of the speed, and 1 MiB sequential reads reached half of nbdkit's throughput; 4 KiB random reads here use
     * 2.3-2.5 us of server CPU each against 3.2-3.7 through a worker).
     */
    private boolean readHere(BlockDevice dev, Request r) throws IOException {
        sendLock.lock();
        try {
            if (inFlight != 0) {
                return false;
            }
            if (workerFailure != null) {
                throw workerFailure;
            }
            readInline(dev, r);
            if (++unflushedReplies >= FLUSH_BATCH) {
                flushOut();
            }
            return true;
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * A WRITE performed by the reader itself (when no request is with the workers): a small payload is usually
     * already in {@link #in} and goes to the device from there, a large one is read into the reader's buffer and
     * written while cache-hot, so the request costs no hand-off to a worker (measured: the futex wake-ups and the
     * copy doubled the server's CPU per 4 KiB random write; 1 MiB sequential writes rose from 0.86x to ~1.1x of
     * nbdkit). Its reply joins the batch in {@link #out}, which leaves at latest when the reader next waits for
     * input.
     */
    private void writeHere(BlockDevice dev, Request r) throws IOException {
        int length = (int) r.length();
        ByteBuffer payload;
        if (in.remaining() >= length) {
            payload = in.slice(in.position(), length);
            in.position(in.position() + length);
        } else {
            payload = readerBuffer.clear().limit(length);
            readPayload(payload);
            payload.flip();
        }
        int err = execute(dev, r, payload, null);
        sendLock.lock();
        try {
            if (workerFailure != null) {
                throw workerFailure;
            }
            reply(err, r);
            if (++unflushedReplies >= FLUSH_BATCH) {
                flushOut();
            }
        } finally {
            sendLock.unlock();
        }
    }

    /** A read larger than a worker buffer (validated; no other request in flight): streamed through {@link #out}. */
    private void readInline(BlockDevice dev, Request r) throws IOException {
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

    /** A write larger than a worker buffer (validated; no other request in flight): streamed in chunks. */
    private void writeInline(BlockDevice dev, Request r) throws IOException, InterruptedException {
        long length = r.length();
        int err = 0;
        ByteBuffer chunk = buffers.take();
        try {
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(length - done, Math.min(chunk.capacity(), limits.writeChunk()));
            if (err != 0) {
                // The device failed part way: keep reading so the stream stays in step, then report the error.
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
        } finally {
            buffers.add(chunk);
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
            readerWaiting();
            try {
                while (dst.hasRemaining()) {
                    if (transport.read(dst) < 0) {
                        throw new EOFException("client closed in the middle of a write payload");
                    }
                }
            } finally {
                readerWaiting = false;
            }
        }
    }

    private void skip(long n) throws IOException {
        long left = n;
        while (left > 0) {
            if (!in.hasRemaining()) {
                fill();
            }
            int k = (int) Math.min(left, in.remaining());
            in.position(in.position() + k);
            left -= k;
        }
    }

    /**
     * The reader is about to block on input: pending replies must go out. It never waits for the send lock (a
     * worker may hold it for a 1 MiB write, and the reader would stop reading requests meanwhile): if the lock is
     * busy, its holder sees {@link #readerWaiting} and flushes (workers re-check it after unlocking).
     */
    private void readerWaiting() throws IOException {
        readerWaiting = true;
        if (sendLock.tryLock()) {
            try {
                flushOut();
            } finally {
                sendLock.unlock();
            }
        }
    }

    /** A reply from the reader's own (inline) path; the caller holds {@link #sendLock}. */
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

    /**
     * Puts read data into the reply. Runs in a mapped layer or overlay file are copied from the mapping into
     * {@link #out} (no {@code pread} per request), and runs of at least {@link #SEND_DIRECT_MIN} bytes are sent
     * straight from the mapping together with what {@link #out} holds (the reply header): one copy, page cache to
     * socket, where {@code pread} then {@code send} made two. Anything else is read from the channel into
     * {@link #out}, which is written whenever it fills.
     */
    private final class SendSink implements ReadSink {
        @Override
        public void file(FileChannel file, MemorySegment mapping, long position, long length) throws IOException {
            if (length <= mapping.byteSize() - position) {
                if (length >= SEND_DIRECT_MIN) {
                    ByteBuffer data = mapping.asSlice(position, length).asByteBuffer();
                    out.flip();
                    bytesFlushed += out.remaining() + length;
                    unflushedReplies = 0;
                    transport.write(new ByteBuffer[] {out, data});
                    out.clear();
                } else {
                    copyToOut(mapping, position, length);
                }
                return;
            }
            // No fstat per read: a layer file shorter than the image simply hits end of file, read as zeros.
            appendToOut(length, (done, n) -> {
                int limit = out.limit();
                out.limit(out.position() + n);
                try {
                    while (out.hasRemaining()) {
                        if (file.read(out, position + done + (n - out.remaining())) < 0) {
                            Zeros.put(out, out.remaining());
                        }
                    }
                } finally {
                    out.limit(limit);
                }
            });
        }

        private void copyToOut(MemorySegment mapping, long position, long length) throws IOException {
            appendToOut(length, (done, n) -> {
                MemorySegment.copy(mapping, position + done, outSegment, out.position(), n);
                out.position(out.position() + n);
            });
        }

        @Override
        public void zeros(long length) throws IOException {
            appendToOut(length, (done, n) -> Zeros.put(out, n));
        }

        /**
         * Appends a run of {@code length} bytes to {@link #out} in pieces of what fits, flushing {@link #out}
         * whenever it is full; {@code piece} puts the bytes from offset {@code done} of the run.
         */
        private void appendToOut(long length, Piece piece) throws IOException {
            long done = 0;
            while (done < length) {
                if (!out.hasRemaining()) {
                    flushOut();
                }
                int n = (int) Math.min(length - done, out.remaining());
                piece.put(done, n);
                done += n;
            }
        }
    }

    /** Puts {@code n} bytes of a run, from its offset {@code done}, into {@link #out}, advancing its position. */
    @FunctionalInterface
    private interface Piece {
        void put(long done, int n) throws IOException;
    }

    // ---- buffers -----------------------------------------------------------------------------------------------

    private void need(int n) throws IOException {
        while (in.remaining() < n) {
            fill();
        }
    }

    /** Reads more input; pending replies go out first, since the client may be waiting for them. */
    private void fill() throws IOException {
        readerWaiting();
        in.compact();
        try {
            if (!in.hasRemaining()) {
                throw new IllegalStateException("input buffer full without a complete message");
            }
            if (transport.read(in) < 0) {
                throw new EOFException("client closed the connection");
            }
        } finally {
            readerWaiting = false;
            in.flip();
        }
    }

    private void ensureOut(int n) throws IOException {
        if (out.remaining() < n) {
            flushOut();
        }
    }

    private void flushOut() throws IOException {
        unflushedReplies = 0;
        if (out.position() > 0) {
            out.flip();
            bytesFlushed += out.remaining();
            transport.write(out);
            out.clear();
        }
    }
}
