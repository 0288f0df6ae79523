package io.sandboxd.vmm.memory;

import io.sandboxd.vmm.snapshot.LayerWriter;
import io.sandboxd.vmm.snapshot.MemoryImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/** Memory images with known content for backend tests, and fd/mapping counts of this process. */
final class TestImages {
    static final int PAGE = 4096;

    /** An image and the bytes it must read as. */
    record Image(MemoryImage image, byte[] bytes) {
    }

    private TestImages() {
    }

    /** A base image of {@code pages} pages: every 4th page zero, the rest a seeded pattern. */
    static Image base(Path dir, int pages, long seed) throws IOException {
        byte[] mem = new byte[pages * PAGE];
        Random rnd = new Random(seed);
        for (int p = 0; p < pages; p++) {
            if (p % 4 != 3) {
                fillPage(mem, p, rnd);
            }
        }
        return new Image(LayerWriter.writeBase(dir, MemorySegment.ofArray(mem), PAGE), mem);
    }

    /** {@code generations - 1} diff layers over a base, each rewriting (or zeroing) some pages. */
    static Image chain(Path dir, int pages, int generations, long seed) throws IOException {
        Image img = base(dir, pages, seed);
        byte[] mem = img.bytes().clone();
        MemoryImage image = img.image();
        Random rnd = new Random(seed + 1);
        for (int g = 2; g <= generations; g++) {
            BitSet dirty = new BitSet();
            for (int i = 0; i < pages / 8; i++) {
                int p = rnd.nextInt(pages);
                if (rnd.nextInt(5) == 0) {
                    java.util.Arrays.fill(mem, p * PAGE, (p + 1) * PAGE, (byte) 0);
                } else {
                    fillPage(mem, p, rnd);
                }
                dirty.set(p);
            }
            image = LayerWriter.writeDiff(image, MemorySegment.ofArray(mem), dirty);
        }
        return new Image(image, mem);
    }

    static void fillPage(byte[] mem, int page, Random rnd) {
        for (int i = 0; i < PAGE; i += 8) {
            long v = rnd.nextLong() | 1;
            for (int b = 0; b < 8; b++) {
                mem[page * PAGE + i + b] = (byte) (v >>> (8 * b));
            }
        }
    }

    /** Reads a byte the safe way (the fault, if any, is taken inside madvise: see MappedGuestMemory). */
    static byte peek(MappedGuestMemory mem, long offset) {
        mem.populate(offset, 1, false);
        return mem.host().get(java.lang.foreign.ValueLayout.JAVA_BYTE, offset);
    }

    static void poke(MappedGuestMemory mem, long offset, byte value) {
        mem.populate(offset, 1, true);
        mem.host().set(java.lang.foreign.ValueLayout.JAVA_BYTE, offset, value);
    }

    static int openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    static List<String> maps() throws IOException {
        return new ArrayList<>(Files.readAllLines(Path.of("/proc/self/maps")));
    }

    /** The mappings of exactly {@code bytes} bytes. */
    static List<String> sized(List<String> maps, long bytes) {
        List<String> out = new ArrayList<>();
        for (String line : maps) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            if (Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16) == bytes) {
                out.add(line);
            }
        }
        return out;
    }

    /** Mappings that name a file in {@code dir} or cover {@code address}. */
    static List<String> mapsTouching(Path dir, long address) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : maps()) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            long lo = Long.parseUnsignedLong(range[0], 16);
            long hi = Long.parseUnsignedLong(range[1], 16);
            if (line.contains(dir.toString()) || (address >= lo && address < hi)) {
                out.add(line);
            }
        }
        return out;
    }

    /** Waits until the thread with {@code tid} sleeps in a userfaultfd wait (fault or event), up to 5 s. */
    static void awaitBlockedInUserfault(int tid) throws Exception {
        Path wchan = Path.of("/proc/self/task/" + tid + "/wchan");
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (Files.readString(wchan).contains("userfault")) {
                return;
            }
            Thread.sleep(2);
        }
        throw new AssertionError("thread " + tid + " never blocked in userfaultfd: wchan " + Files.readString(wchan));
    }
}
