package io.sandboxd.block;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** A base image of seeded random bytes written to {@code dir/base.img}; its bytes are kept to check reads against. */
public record RandomImage(byte[] bytes, Path path) {
    public static RandomImage write(Path dir, int size, long seed) throws IOException {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        Path path = dir.resolve("base.img");
        Files.write(path, bytes);
        return new RandomImage(bytes, path);
    }
}
