package io.sandboxd.block.nbd;

/** One handshake option from the client: its number and its data (at most the server's option cap). */
public record OptionRequest(int option, byte[] data) {
}
