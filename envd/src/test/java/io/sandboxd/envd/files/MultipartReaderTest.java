package io.sandboxd.envd.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MultipartReaderTest {
    static final String B = "----e2bBoundary42";

    record Read(String name, String filename, byte[] body) {
    }

    /** A stream that returns at most {@code step} bytes per read: splits the input at every offset. */
    static InputStream trickle(byte[] data, int step) {
        return new ByteArrayInputStream(data) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, step));
            }
        };
    }

    static List<Read> readAll(InputStream in, String boundary) throws IOException {
        MultipartReader r = new MultipartReader(in, boundary);
        List<Read> out = new ArrayList<>();
        MultipartReader.Part p;
        while ((p = r.next()) != null) {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            r.transferBody(body::write);
            out.add(new Read(p.name(), p.filename(), body.toByteArray()));
        }
        r.drainEpilogue();
        return out;
    }

    static byte[] form(byte[]... bodies) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes("preamble to ignore\r\n".getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < bodies.length; i++) {
            o.writeBytes(("--" + B + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/home/user/f" + i
                    + ".bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            o.writeBytes(bodies[i]);
            o.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        o.writeBytes(("--" + B + "--\r\nepilogue").getBytes(StandardCharsets.US_ASCII));
        return o.toByteArray();
    }

    @Test
    void readsPartsSplitAtEveryOffset() throws IOException {
        byte[] tricky = ("almost\r\n--" + B.substring(0, 10) + " not a boundary\r\n--\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] empty = new byte[0];
        byte[] data = form(tricky, empty, "third".getBytes(StandardCharsets.US_ASCII));
        for (int step = 1; step <= data.length; step++) {
            List<Read> parts = readAll(trickle(data, step), B);
            assertEquals(3, parts.size(), "step " + step);
            assertArrayEquals(tricky, parts.get(0).body(), "step " + step);
            assertArrayEquals(empty, parts.get(1).body(), "step " + step);
            assertEquals("/home/user/f2.bin", parts.get(2).filename());
            assertEquals("file", parts.get(2).name());
        }
    }

    @Test
    void streamsLargeBinaryBodiesThroughTheWindow() throws IOException {
        byte[] big = new byte[3 * MultipartReader.WINDOW + 12345];
        new Random(7).nextBytes(big);
        List<Read> parts = readAll(trickle(form(big, big), 65536), B);
        assertArrayEquals(big, parts.get(0).body());
        assertArrayEquals(big, parts.get(1).body());
    }

    @Test
    void unreadBodiesAreSkippedAndBoundaryAtTheVeryStartWorks() throws IOException {
        byte[] data = ("--" + B + "\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--" + B
                + "\r\nContent-Disposition: form-data; name=file; filename*=UTF-8''%2Ftmp%2Fcaf%C3%A9.txt\r\n\r\nx\r\n--"
                + B + "--").getBytes(StandardCharsets.UTF_8);
        MultipartReader r = new MultipartReader(new ByteArrayInputStream(data), B);
        assertEquals("note", r.next().name());
        MultipartReader.Part p = r.next();
        assertEquals("file", p.name());
        assertEquals("/tmp/caf\u00e9.txt", p.filename());
        assertNull(r.next());
    }

    @Test
    void malformedBodiesFailClearly() {
        assertThrows(MultipartReader.MalformedException.class,
                () -> readAll(new ByteArrayInputStream("no boundary here".getBytes()), B));
        byte[] truncated = ("--" + B + "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nbody without end")
                .getBytes(StandardCharsets.US_ASCII);
        assertThrows(MultipartReader.MalformedException.class, () -> readAll(new ByteArrayInputStream(truncated), B));
        byte[] badHeader = ("--" + B + "\r\nno colon line\r\n\r\nx\r\n--" + B + "--").getBytes(StandardCharsets.US_ASCII);
        assertThrows(MultipartReader.MalformedException.class, () -> readAll(new ByteArrayInputStream(badHeader), B));
        byte[] hugeHeader = ("--" + B + "\r\nX: " + "a".repeat(MultipartReader.MAX_HEADER_BYTES) + "\r\n\r\nx\r\n--" + B
                + "--").getBytes(StandardCharsets.US_ASCII);
        assertThrows(MultipartReader.MalformedException.class, () -> readAll(new ByteArrayInputStream(hugeHeader), B));
        byte[] noCrlf = ("--" + B + "garbage").getBytes(StandardCharsets.US_ASCII);
        assertThrows(MultipartReader.MalformedException.class, () -> readAll(new ByteArrayInputStream(noCrlf), B));
    }

    @Test
    void boundaryComesFromTheContentType() throws Exception {
        assertEquals("abc", MultipartReader.boundary("multipart/form-data; boundary=abc"));
        assertEquals("a b:c", MultipartReader.boundary("multipart/form-data; charset=utf-8; boundary=\"a b:c\""));
        assertThrows(MultipartReader.MalformedException.class, () -> MultipartReader.boundary("multipart/form-data"));
        assertThrows(MultipartReader.MalformedException.class,
                () -> MultipartReader.boundary("multipart/form-data; boundary=" + "x".repeat(71)));
    }
}
