package io.sandboxd.block.nbd;

/**
 * Resource caps of the server: every per-connection buffer is bounded by these, whatever the client sends.
 *
 * @param maxPayload     largest READ/WRITE payload accepted (advertised as the maximum block size); larger
 *                       requests get NBD_EINVAL (a WRITE's payload is read and dropped, so the stream stays in step)
 * @param maxConnections connections served at once; more are closed at accept
 * @param maxOptionData  largest option payload in the handshake; more is a hard disconnect
 * @param maxOptions     options per handshake before the server gives up on a client that never finishes
 * @param writeChunk     WRITE payloads larger than one worker buffer are streamed to the device in chunks of this size
 * @param workers        threads per connection performing requests (each with one buffer of up to 1 MiB)
 */
public record NbdLimits(int maxPayload, int maxConnections, int maxOptionData, int maxOptions, int writeChunk,
        int workers) {
    public static final NbdLimits DEFAULT = new NbdLimits(32 << 20, 64, 16 << 10, 1024, 1 << 20,
            Integer.getInteger("sandboxd.nbd.workers", 4));

    public NbdLimits {
        if (maxPayload < 4096 || maxConnections < 1 || maxOptionData < 4096 + 64 || maxOptions < 1
                || writeChunk < 4096 || writeChunk % 4096 != 0 || workers < 1 || workers > 64) {
            throw new IllegalArgumentException("unusable NBD limits " + this);
        }
    }
}
