package io.sandboxd.api.metrics;

/**
 * Port: where the API reports the requests it answers, and what it serves at {@code GET /metrics}. The daemon owns
 * the metrics (and their format); the API only counts its own requests and hands out the exposition it is given.
 */
public interface ApiMetrics {
    /**
     * One request answered.
     *
     * @param method the request method, one of a fixed set ({@code OTHER} for anything else)
     * @param route  the matched route's template ({@code /sandboxes/{sandboxID}}), or {@code unmatched}: never the
     *               raw path, so a client cannot make up new series
     * @param status the status answered
     */
    void requestServed(String method, String route, int status);

    /** The current values in a scraper's format. */
    Exposition scrape();

    /** A scrape's body and the content type that names its format. */
    record Exposition(String contentType, byte[] body) {
    }

    /** Counts nothing, serves nothing: for an API started without metrics. */
    ApiMetrics NONE = new ApiMetrics() {
        @Override
        public void requestServed(String method, String route, int status) {
        }

        @Override
        public Exposition scrape() {
            throw new UnsupportedOperationException("this API was started without metrics");
        }
    };
}
