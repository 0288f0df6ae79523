package io.sandboxd.daemon.template.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImageReferenceTest {
    @Test
    void readsNamesAsDockerPullDoes() {
        assertEquals(new ImageReference(ImageReference.DOCKER_HUB, "library/debian", "bookworm", null),
                ImageReference.parse("debian:bookworm"));
        assertEquals(new ImageReference(ImageReference.DOCKER_HUB, "library/python", "latest", null),
                ImageReference.parse("python"));
        assertEquals(new ImageReference(ImageReference.DOCKER_HUB, "e2bdev/base", "latest", null),
                ImageReference.parse("docker.io/e2bdev/base"));
        assertEquals(new ImageReference("127.0.0.1:5000", "team/app", "1.0", null),
                ImageReference.parse("127.0.0.1:5000/team/app:1.0"));
        assertEquals(new ImageReference("localhost", "app", "latest", null), ImageReference.parse("localhost/app"));
        String digest = "sha256:" + "ab".repeat(32);
        ImageReference pinned = ImageReference.parse("ghcr.io/org/img:v1@" + digest);
        assertEquals(new ImageReference("ghcr.io", "org/img", "v1", digest), pinned);
        assertEquals(digest, pinned.reference(), "a digest pins the content, over the tag");
        assertEquals("v1", ImageReference.parse("ghcr.io/org/img:v1").reference());
    }

    @Test
    void onlyRegistriesOnThisMachineGetPlainHttp() {
        assertTrue(ImageReference.parse("127.0.0.1:5000/a").loopback());
        assertTrue(ImageReference.parse("localhost:5000/a").loopback());
        assertFalse(ImageReference.parse("registry.example.com/a").loopback());
        assertFalse(ImageReference.parse("debian").loopback());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "Debian:bookworm", "debian:", "debian:-bad", "a//b", "debian@sha256:12",
            "debian@md5:" + "ab", "../../etc", "bad host!/x", "a/b/../c"})
    void refusesMalformedNames(String name) {
        OciException e = assertThrows(OciException.class, () -> ImageReference.parse(name));
        assertFalse(e.getMessage().isBlank());
    }
}
