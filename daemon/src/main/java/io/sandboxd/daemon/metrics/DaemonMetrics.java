package io.sandboxd.daemon.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.sandboxd.api.metrics.ApiMetrics;
import io.sandboxd.daemon.runtime.PoolLevel;
import io.sandboxd.daemon.runtime.SandboxRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The daemon's Prometheus metrics, in a registry of its own (never the client's global default, so two daemons in
 * one test JVM do not share counts). The orchestrator counts what it does; gauges of live state (sandboxes by state,
 * pool levels) are read at scrape time from whoever owns that state, bound once with {@link #observeSandboxes} and
 * {@link #observeRuntime}. The API serves {@link #scrape()} at {@code GET /metrics} and reports its requests through
 * {@link #requestServed}. Every label has a small fixed set of values (states, reasons, route templates, template
 * IDs): nothing a client sends becomes a series by itself.
 */
public final class DaemonMetrics implements ApiMetrics {
    /** Creates of a warm pool take milliseconds, an empty pool's about a second, a stuck one up to its wait. */
    /** What {@link #operationFailed} counts. */
    static final List<String> OPERATIONS = List.of("kill", "pause", "resume", "stats", "network", "snapshot");
    static final double[] CREATE_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    /** Why a kill, pause or resume happened. */
    public enum Cause {
        /** A client asked (API). */
        REQUEST,
        /** The sandbox's TTL ran out. */
        TIMEOUT,
        /** Traffic reached a paused sandbox created with autoResume. */
        TRAFFIC;

        String label() {
            return name().toLowerCase();
        }
    }

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final Counter creates;
    private final Histogram createSeconds;
    private final Counter kills;
    private final Counter pauses;
    private final Counter resumes;
    private final Counter operationFailures;
    private final Counter envdErrors;
    private final Counter httpRequests;
    private volatile Supplier<Map<String, Long>> sandboxStates = Map::of;
    private volatile Supplier<List<PoolLevel>> pools = List::of;
    private volatile LongSupplier poolStartFailures = () -> 0;

    public DaemonMetrics() {
        GaugeWithCallback.builder().name("sandboxd_sandboxes")
                .help("Sandboxes this daemon runs, by lifecycle state")
                .labelNames("state")
                .callback(cb -> sandboxStates.get().forEach((state, n) -> cb.call(n, state)))
                .register(registry);
        creates = Counter.builder().name("sandboxd_sandbox_creates")
                .help("Sandbox creates, by result: ok, or the reason of the refusal (invalid, not_found, busy, ...)")
                .labelNames("result").register(registry);
        createSeconds = Histogram.builder().name("sandboxd_sandbox_create_duration_seconds")
                .help("Time from a create request to a sandbox ready to use (successful creates)")
                .classicOnly().classicUpperBounds(CREATE_BUCKETS).withoutExemplars().register(registry);
        kills = Counter.builder().name("sandboxd_sandbox_kills")
                .help("Sandboxes killed, by cause: request or timeout").labelNames("cause").register(registry);
        pauses = Counter.builder().name("sandboxd_sandbox_pauses")
                .help("Sandboxes paused, by cause: request or timeout (autoPause)").labelNames("cause").register(registry);
        resumes = Counter.builder().name("sandboxd_sandbox_resumes")
                .help("Sandboxes resumed, by cause: request (connect, resume) or traffic (autoResume)")
                .labelNames("cause").register(registry);
        operationFailures = Counter.builder().name("sandboxd_sandbox_operation_failures")
                .help("Runtime failures of an operation on a running sandbox (kill, pause, resume, stats, network)")
                .labelNames("operation").register(registry);
        envdErrors = Counter.builder().name("sandboxd_envd_errors")
                .help("Calls to a running sandbox's envd that failed: init (the daemon's /init at create), proxy "
                        + "(SDK traffic the proxy could not deliver)").labelNames("call")
                .register(registry);
        httpRequests = Counter.builder().name("sandboxd_http_requests")
                .help("API requests answered, by method, route template and status")
                .labelNames("method", "route", "status").register(registry);
        GaugeWithCallback.builder().name("sandboxd_pool_ready")
                .help("Started sandboxes waiting in a template's warm pool").labelNames("template")
                .callback(cb -> pools.get().forEach(p -> cb.call(p.ready(), p.templateId())))
                .register(registry);
        GaugeWithCallback.builder().name("sandboxd_pool_starting")
                .help("Sandboxes being started for a template's warm pool").labelNames("template")
                .callback(cb -> pools.get().forEach(p -> cb.call(p.starting(), p.templateId())))
                .register(registry);
        GaugeWithCallback.builder().name("sandboxd_pool_waiting_creates")
                .help("Creates waiting for a template's warm pool to hand them a sandbox").labelNames("template")
                .callback(cb -> pools.get().forEach(p -> cb.call(p.waiting(), p.templateId())))
                .register(registry);
        GaugeWithCallback.builder().name("sandboxd_pool_target")
                .help("Sandboxes a template's warm pool keeps ready").labelNames("template")
                .callback(cb -> pools.get().forEach(p -> cb.call(p.target(), p.templateId())))
                .register(registry);
        CounterWithCallback.builder().name("sandboxd_pool_start_failures")
                .help("Starts of pooled sandboxes that failed (each is logged and retried)")
                .callback(cb -> cb.call(poolStartFailures.getAsLong()))
                .register(registry);
        // Series that are known up front start at zero, so that a rate over them works from the first scrape on
        // (a series that appears at its first increment loses that increment to rate()).
        creates.labelValues("ok");
        for (Cause c : List.of(Cause.REQUEST, Cause.TIMEOUT)) {
            kills.labelValues(c.label());
            pauses.labelValues(c.label());
        }
        for (Cause c : List.of(Cause.REQUEST, Cause.TRAFFIC)) {
            resumes.labelValues(c.label());
        }
        for (String op : OPERATIONS) {
            operationFailures.labelValues(op);
        }
        envdErrors.labelValues("init");
        envdErrors.labelValues("proxy");
    }

    /** Where the sandboxes-by-state gauge reads from: state name to count, every state present (zeros too). */
    public void observeSandboxes(Supplier<Map<String, Long>> countsByState) {
        this.sandboxStates = countsByState;
    }

    /** Where the pool gauges and the pool failure count read from. */
    public void observeRuntime(SandboxRuntime runtime) {
        this.pools = runtime::poolLevels;
        this.poolStartFailures = runtime::poolStartFailures;
    }

    /** A create that handed out a sandbox after {@code nanos}. */
    public void createSucceeded(long nanos) {
        creates.labelValues("ok").inc();
        createSeconds.observe(nanos / 1e9);
    }

    /** A create refused or failed, with the reason of the error the client got ({@code busy}, {@code invalid}...). */
    public void createFailed(String reason) {
        creates.labelValues(reason).inc();
    }

    public void killed(Cause cause) {
        kills.labelValues(cause.label()).inc();
    }

    public void paused(Cause cause) {
        pauses.labelValues(cause.label()).inc();
    }

    public void resumed(Cause cause) {
        resumes.labelValues(cause.label()).inc();
    }

    /** The runtime failed an operation on a sandbox ({@code kill}, {@code pause}, {@code resume}, ...). */
    public void operationFailed(String operation) {
        operationFailures.labelValues(operation).inc();
    }

    /** A call to a sandbox's envd failed: {@code init} (the create's /init) or {@code proxy} (traffic). */
    public void envdError(String call) {
        envdErrors.labelValues(call).inc();
    }

    @Override
    public void requestServed(String method, String route, int status) {
        httpRequests.labelValues(method, route, Integer.toString(status)).inc();
    }

    @Override
    public Exposition scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException("writing the metrics", e); // a byte array does not fail
        }
        return new Exposition(writer.getContentType(), out.toByteArray());
    }
}
