package io.sandboxd.api.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.sandboxd.api.http.HttpError;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetadataFilterTest {
    private static Map<String, String> fromQuery(String query) {
        return MetadataFilter.parse(new QueryStringDecoder("?" + query).parameters().get("metadata").getFirst());
    }

    @Test
    void decodesTheSpecExample() {
        assertEquals(Map.of("user id", "a&b"), fromQuery("metadata=user%252520id%3Da%252526b"));
    }

    @Test
    void severalPairsAndSpecialCharacters() {
        // {"k=1": "v+2", "x": "é"} encoded part by part, joined, encoded again, then by the query layer.
        assertEquals(Map.of("k=1", "v+2", "x", "é"),
                fromQuery("metadata=k%25253D1%3Dv%25252B2%26x%3D%2525C3%2525A9"));
    }

    @Test
    void emptyMeansNoFilter() {
        assertEquals(Map.of(), MetadataFilter.parse(""));
        assertEquals(Map.of(), MetadataFilter.parse(null));
    }

    @Test
    void partsThatAreNotKeyValueAre400() {
        for (String bad : new String[] {"novalue", "=v", "a=b&c", "a=b=c", "a=1&a=2", "%zz=1"}) {
            HttpError e = assertThrows(HttpError.class, () -> MetadataFilter.parse(bad), bad);
            assertEquals(400, e.status());
        }
    }
}
