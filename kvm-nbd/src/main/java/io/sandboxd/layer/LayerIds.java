package io.sandboxd.layer;

import java.security.SecureRandom;
import java.util.HexFormat;

/** New layer ids (random, never {@link Extent#ZERO_LAYER}) and their 16-hex-digit spelling in file names. */
public final class LayerIds {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private LayerIds() {
    }

    public static long random() {
        while (true) {
            long id = RANDOM.nextLong();
            if (id != Extent.ZERO_LAYER) {
                return id;
            }
        }
    }

    public static String hex(long id) {
        return HEX.toHexDigits(id); // 16 digits; String.format costs more than the mmap it names a file for
    }
}
