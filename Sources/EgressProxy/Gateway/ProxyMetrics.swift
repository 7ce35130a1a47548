import Metrics
import NIOConcurrencyHelpers
import PolicyEngine
import Prometheus

// MARK: - ProxyMetrics

/// The proxy's metrics: swift-metrics handles made by a `PrometheusMetricsFactory` over this
/// instance's own `PrometheusCollectorRegistry` (not the process-wide `MetricsSystem`, so
/// several instances, e.g. in tests, never mix), exposed as Prometheus text for `/metrics`.
///
/// Series (`sandbox` labels are capped at `maximumSandboxLabels`; later sandboxes share the
/// label value `_other`):
/// - `egress_requests_total{sandbox,event,decision,reason}`: one per audit record
/// - `egress_bytes_total{sandbox,direction}`: `up` (to the upstream) and `down`
/// - `egress_connections_open`: front connections open now
/// - `egress_upstream_latency_seconds`: time to the upstream response head (histogram)
/// - `egress_request_duration_seconds`: audit `duration_ms` of requests (histogram)
/// - `egress_leaf_cache_hits_total{sandbox}`: MITM leaf certificates served from the cache
/// - `egress_policy_reloads_total{result}`: `success` or `failure`
/// - `egress_sandboxes`: sandboxes registered now
public final class ProxyMetrics: Sendable {
    /// Names, as constants so tests and dashboards spell them the same way.
    public enum Name {
        public static let requests = "egress_requests_total"
        public static let bytes = "egress_bytes_total"
        public static let connectionsOpen = "egress_connections_open"
        public static let upstreamLatency = "egress_upstream_latency_seconds"
        public static let requestDuration = "egress_request_duration_seconds"
        public static let leafCacheHits = "egress_leaf_cache_hits_total"
        public static let policyReloads = "egress_policy_reloads_total"
        public static let sandboxes = "egress_sandboxes"
    }

    /// The label value of sandboxes beyond `maximumSandboxLabels`.
    public static let overflowSandboxLabel = "_other"

    /// The registry the text is emitted from.
    public let registry: PrometheusCollectorRegistry
    /// The most distinct `sandbox` label values (bounds the number of series).
    public let maximumSandboxLabels: Int

    private let factory: PrometheusMetricsFactory
    private let connectionsOpen: CoreMetrics.Meter
    private let upstreamLatency: Metrics.Timer
    private let requestDuration: Metrics.Timer
    private let sandboxCount: CoreMetrics.Gauge
    private let state = NIOLockedValueBox(State())

    private struct RequestKey: Hashable {
        var sandbox: String
        var event: String
        var decision: String
        var reason: String
    }

    private struct BytesKey: Hashable {
        var sandbox: String
        var up: Bool
    }

    /// Handles made so far: swift-metrics makes a handle per call, and the registry looks it up
    /// under its own lock; caching them keeps a request to one dictionary lookup.
    private struct State {
        var requests: [RequestKey: CoreMetrics.Counter] = [:]
        var bytes: [BytesKey: CoreMetrics.Counter] = [:]
        var leafHits: [String: CoreMetrics.Counter] = [:]
        var reloads: [Bool: CoreMetrics.Counter] = [:]
        var sandboxLabels: Set<String> = []
        var scrapeHooks: [@Sendable () -> Void] = []
    }

    /// - Parameters:
    ///   - registry: where the series live (a new one by default).
    ///   - maximumSandboxLabels: the most distinct `sandbox` label values.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), maximumSandboxLabels: Int = 1000) {
        self.registry = registry
        self.maximumSandboxLabels = max(1, maximumSandboxLabels)
        var factory = PrometheusMetricsFactory(registry: registry)
        let latencyBuckets: [Duration] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
            .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.durationHistogramBuckets[Name.upstreamLatency] = latencyBuckets
        factory.durationHistogramBuckets[Name.requestDuration] = latencyBuckets
        self.factory = factory
        self.connectionsOpen = CoreMetrics.Meter(label: Name.connectionsOpen, dimensions: [], factory: factory)
        self.upstreamLatency = Metrics.Timer(label: Name.upstreamLatency, dimensions: [], factory: factory)
        self.requestDuration = Metrics.Timer(label: Name.requestDuration, dimensions: [], factory: factory)
        self.sandboxCount = CoreMetrics.Gauge(label: Name.sandboxes, dimensions: [], factory: factory)
        // Present from the first scrape, so dashboards and `rate()` see zeros, not gaps.
        self.connectionsOpen.set(0)
        self.sandboxCount.record(0)
        for success in [true, false] { _ = reloadCounter(success: success) }
    }

    // MARK: Requests

    /// Counts one audit record: its decision and reason, and its bytes.
    public func requestCompleted(_ record: AuditRecord) {
        let sandbox = sandboxLabel(record.sandbox)
        let key = RequestKey(sandbox: sandbox, event: record.event.rawValue,
                             decision: record.decision.verdict.rawValue, reason: record.decision.reason.rawValue)
        requestCounter(key).increment()
        if let up = record.bytesUp, up > 0 { bytesCounter(BytesKey(sandbox: sandbox, up: true)).increment(by: Int64(up)) }
        if let down = record.bytesDown, down > 0 { bytesCounter(BytesKey(sandbox: sandbox, up: false)).increment(by: Int64(down)) }
        if record.event == .request, let ms = record.durationMS, ms.isFinite, ms >= 0 {
            requestDuration.recordNanoseconds(Int64(ms * 1_000_000))
        }
    }

    // MARK: Connections

    /// A front connection was accepted.
    public func connectionOpened() { connectionsOpen.increment() }
    /// A front connection closed.
    public func connectionClosed() { connectionsOpen.decrement() }
    /// Sets the open-connection gauge (from a scrape hook reading `ProxyServer.openConnections`).
    public func setConnectionsOpen(_ count: Int) { connectionsOpen.set(Int64(count)) }

    // MARK: Upstream, TLS, policies

    /// Time from dialling (or sending on a pooled connection) to the upstream response head.
    public func recordUpstreamLatency(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        upstreamLatency.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// `count` more leaf-certificate cache hits for `sandbox`.
    public func leafCacheHits(sandbox: String, count: Int) {
        guard count > 0 else { return }
        let label = sandboxLabel(sandbox)
        let counter = state.withLockedValue { s -> CoreMetrics.Counter in
            if let c = s.leafHits[label] { return c }
            let c = CoreMetrics.Counter(label: Name.leafCacheHits, dimensions: [("sandbox", label)], factory: factory)
            s.leafHits[label] = c
            return c
        }
        counter.increment(by: Int64(count))
    }

    /// One policy reload finished (`success` false when any file was refused).
    public func policyReloaded(success: Bool) { reloadCounter(success: success).increment() }

    /// Sets the registered-sandbox gauge.
    public func setSandboxCount(_ count: Int) { sandboxCount.record(Int64(count)) }

    // MARK: Exposition

    /// Runs `hook` before every `prometheusText()`: for values read at scrape time (open
    /// connections, cache statistics) rather than pushed as they change.
    public func addScrapeHook(_ hook: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.scrapeHooks.append(hook) }
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    public func prometheusText() -> String {
        let hooks = state.withLockedValue { $0.scrapeHooks }
        for hook in hooks { hook() }
        return registry.emitToString()
    }

    /// The `Content-Type` of `prometheusText()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    // MARK: Handles

    private func sandboxLabel(_ sandbox: String) -> String {
        state.withLockedValue { s in
            if s.sandboxLabels.contains(sandbox) { return sandbox }
            guard s.sandboxLabels.count < maximumSandboxLabels else { return Self.overflowSandboxLabel }
            s.sandboxLabels.insert(sandbox)
            return sandbox
        }
    }

    private func requestCounter(_ key: RequestKey) -> CoreMetrics.Counter {
        state.withLockedValue { s in
            if let c = s.requests[key] { return c }
            let c = CoreMetrics.Counter(
                label: Name.requests,
                dimensions: [("sandbox", key.sandbox), ("event", key.event), ("decision", key.decision), ("reason", key.reason)],
                factory: factory)
            s.requests[key] = c
            return c
        }
    }

    private func bytesCounter(_ key: BytesKey) -> CoreMetrics.Counter {
        state.withLockedValue { s in
            if let c = s.bytes[key] { return c }
            let c = CoreMetrics.Counter(
                label: Name.bytes, dimensions: [("sandbox", key.sandbox), ("direction", key.up ? "up" : "down")],
                factory: factory)
            s.bytes[key] = c
            return c
        }
    }

    private func reloadCounter(success: Bool) -> CoreMetrics.Counter {
        state.withLockedValue { s in
            if let c = s.reloads[success] { return c }
            let c = CoreMetrics.Counter(
                label: Name.policyReloads, dimensions: [("result", success ? "success" : "failure")], factory: factory)
            s.reloads[success] = c
            return c
        }
    }
}

// MARK: - MetricsAuditSink

/// Counts every audit record in `metrics`, then hands it to `base`: the proxy needs no metric
/// call sites for requests. Wrap the sidecar's sink and the gateway's fallback sink (records of
/// unauthenticated requests) with it; the gateway's per-sandbox sinks count by themselves.
public struct MetricsAuditSink: AuditSink {
    public let base: AuditSink
    public let metrics: ProxyMetrics

    public init(base: AuditSink, metrics: ProxyMetrics) {
        self.base = base
        self.metrics = metrics
    }

    public func write(_ record: AuditRecord) {
        metrics.requestCompleted(record)
        base.write(record)
    }

    public func flush() { base.flush() }
}
