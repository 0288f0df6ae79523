package io.sandboxd.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The strict text-format parser the metrics tests rely on: what it reads, and that it refuses what it must. */
class PrometheusTextTest {
    static final String GOOD = """
            # HELP reqs_total Requests \\\\ served\\nper route
            # TYPE reqs_total counter
            reqs_total{route="/a/{id}",status="200"} 3
            reqs_total{route="q\\"uote\\\\d\\n",status="500"} 1.5e0 1700000000000
            # a plain comment
            # TYPE lat histogram
            lat_bucket{le="0.1"} 1
            lat_bucket{le="1"} 2
            lat_bucket{le="+Inf"} 2
            lat_count 2
            lat_sum 0.7
            up NaN
            """;

    @Test
    void readsFamiliesTypesHelpLabelsWithEscapesAndValues() {
        PrometheusText m = PrometheusText.parse(GOOD);
        assertEquals("counter", m.family("reqs_total").type());
        assertEquals("Requests \\ served\nper route", m.family("reqs_total").help());
        assertEquals(3, m.value("reqs_total", "route", "/a/{id}", "status", "200"));
        assertEquals(1.5, m.value("reqs_total", "route", "q\"uote\\d\n", "status", "500"));
        assertEquals("histogram", m.family("lat").type());
        assertEquals(5, m.family("lat").samples().size());
        assertEquals("untyped", m.family("up").type());
        assertEquals(Map.of(), m.family("up").samples().getFirst().labels());
    }

    @Test
    void refusesWhatTheFormatForbids() {
        String[] bad = {
            "x 1",                                          // no trailing newline
            "1x 1\n",                                       // bad metric name
            "x{1a=\"v\"} 1\n",                              // bad label name
            "x{__reserved=\"v\"} 1\n",                      // reserved label name
            "x{a=v} 1\n",                                   // unquoted label value
            "x{a=\"v} 1\n",                                 // unterminated label value
            "x{a=\"\\t\"} 1\n",                             // bad escape
            "x{a=\"1\",a=\"2\"} 1\n",                       // label twice
            "x one\n",                                      // value not a number
            "x 0x10\n",                                     // a Java float, not a Go one
            "x 1 soon\n",                                   // bad timestamp
            "x\n",                                          // no value
            "x 1\nx 2\n",                                   // duplicate series
            "x 1\ny 1\nx{a=\"b\"} 1\n",                     // a family in two groups
            "# TYPE x counter\n# TYPE x counter\nx 1\n",    // two TYPEs
            "x 1\n# TYPE x counter\n",                      // TYPE after samples
            "# TYPE x countr\nx 1\n",                       // unknown type
            "# HELP x a \\\"quote\n",                       // \" is not an escape in HELP
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 2\nh_sum 1\n",                       // no +Inf
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n", // decreasing
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\nh_sum 1\n",                    // count differs
            "# TYPE h histogram\nh_bucket 2\nh_count 2\nh_sum 1\n",                                 // no le
        };
        for (String text : bad) {
            assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse(text), text);
        }
    }
}
