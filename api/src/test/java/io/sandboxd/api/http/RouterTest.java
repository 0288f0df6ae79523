package io.sandboxd.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RouterTest {
    private final Endpoint ok = r -> RestResponse.noContent();
    private final Router router = new Router()
            .add(HttpMethod.GET, "/sandboxes/metrics", ok)
            .add(HttpMethod.GET, "/sandboxes/{id}", ok)
            .add(HttpMethod.DELETE, "/sandboxes/{id}", ok)
            .addArea("/snapshots", ok);

    @Test
    void percentEncodedSlashDecodesInsideTheSegment() {
        assertEquals(List.of("snapshots", "team/name:tag"), PathSegments.of("/snapshots/team%2Fname%3Atag"));
        assertEquals(List.of("a+b c"), PathSegments.of("/a+b%20c"));
        assertEquals(List.of("x"), PathSegments.of("//x/"));
        assertEquals(400, assertThrows(HttpError.class, () -> PathSegments.of("/a%2")).status());
    }

    @Test
    void literalRoutesWinWhenAddedFirstAndParametersBind() {
        var m = assertInstanceOf(Router.Match.Found.class,
                router.match(HttpMethod.GET, PathSegments.of("/sandboxes/metrics")));
        assertEquals("/sandboxes/metrics", m.route().template());
        var p = assertInstanceOf(Router.Match.Found.class,
                router.match(HttpMethod.DELETE, PathSegments.of("/sandboxes/ab%2Fc")));
        assertEquals(Map.of("id", "ab/c"), p.params());
    }

    @Test
    void areasMatchThemselvesAndEverythingBelow() {
        assertInstanceOf(Router.Match.Found.class, router.match(HttpMethod.POST, List.of("snapshots")));
        assertInstanceOf(Router.Match.Found.class, router.match(HttpMethod.GET, List.of("snapshots", "a", "b")));
        assertInstanceOf(Router.Match.NoRoute.class, router.match(HttpMethod.GET, List.of("snapshotsx")));
    }

    @Test
    void wrongMethodListsTheAllowedOnes() {
        var m = assertInstanceOf(Router.Match.MethodNotAllowed.class,
                router.match(HttpMethod.POST, List.of("sandboxes", "x")));
        assertEquals(Set.of(HttpMethod.GET, HttpMethod.DELETE), m.allowed());
        assertInstanceOf(Router.Match.NoRoute.class, router.match(HttpMethod.GET, List.of("sandboxes", "x", "y")));
    }
}
