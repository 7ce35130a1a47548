@testable import EgressProxy
import Foundation
import PolicyEngine
import Testing

/// Checks the Prometheus text format 0.0.4 line by line: comments are `# TYPE name kind` or
/// `# HELP name text`, samples are `name{label="value",...} number`. Returns the problems.
func prometheusFormatProblems(_ text: String) -> [String] {
    var problems: [String] = []
    let name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
    let label = #"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*""#
    let sample = try! Regex("^\(name)(\\{(\(label))(,\(label))*\\})? [-+]?([0-9.eE+-]+|NaN|\\+Inf|-Inf)$")
    let type = try! Regex("^# TYPE \(name) (counter|gauge|histogram|summary|untyped)$")
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# HELP ") { continue }
        if line.hasPrefix("#") {
            if line.wholeMatch(of: type) == nil { problems.append("bad comment: \(line)") }
            continue
        }
        if line.wholeMatch(of: sample) == nil { problems.append("bad sample: \(line)") }
    }
    return problems
}

/// The value of the sample line that starts with `series ` (name plus labels as emitted).
func sampleValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

@Suite("ProxyMetrics")
struct ProxyMetricsTests {
    static func record(_ sandbox: String, _ decision: Decision, up: Int? = nil, down: Int? = nil) -> AuditRecord {
        var record = AuditRecord(sandbox: sandbox, event: .request, decision: decision, host: "api.example.com", port: 443, mode: .mitm)
        record.bytesUp = up
        record.bytesDown = down
        record.durationMS = 12.5
        return record
    }

    @Test("the exposition is valid Prometheus text with a TYPE line per family")
    func format() {
        let metrics = ProxyMetrics()
        metrics.requestCompleted(Self.record("sb-1", .allow(), up: 10, down: 20))
        metrics.requestCompleted(Self.record("sb-1", .deny(.host_denied, rule: "network.deny_out[0]")))
        metrics.recordUpstreamLatency(.milliseconds(30))
        metrics.leafCacheHits(sandbox: "sb-1", count: 2)
        metrics.connectionOpened()
        let text = metrics.prometheusText()
        #expect(prometheusFormatProblems(text) == [])
        for (name, kind) in [
            ("egress_requests_total", "counter"), ("egress_bytes_total", "counter"),
            ("egress_connections_open", "gauge"), ("egress_upstream_latency_seconds", "histogram"),
            ("egress_request_duration_seconds", "histogram"), ("egress_leaf_cache_hits_total", "counter"),
            ("egress_policy_reloads_total", "counter"), ("egress_sandboxes", "gauge"),
        ] {
            #expect(text.contains("# TYPE \(name) \(kind)\n"), "missing TYPE of \(name)")
        }
    }

    @Test("a recorded request moves its counter and the byte counters")
    func countersMove() {
        let metrics = ProxyMetrics()
        let series = #"egress_requests_total{sandbox="sb-1",event="request",decision="deny",reason="host_denied"}"#
        #expect(sampleValue(metrics.prometheusText(), series) == nil)
        metrics.requestCompleted(Self.record("sb-1", .deny(.host_denied)))
        #expect(sampleValue(metrics.prometheusText(), series) == 1)
        metrics.requestCompleted(Self.record("sb-1", .deny(.host_denied)))
        metrics.requestCompleted(Self.record("sb-1", .allow(), up: 100, down: 2_000))
        let text = metrics.prometheusText()
        #expect(sampleValue(text, series) == 2)
        #expect(sampleValue(text, #"egress_requests_total{sandbox="sb-1",event="request",decision="allow",reason="allowed"}"#) == 1)
        #expect(sampleValue(text, #"egress_bytes_total{sandbox="sb-1",direction="up"}"#) == 100)
        #expect(sampleValue(text, #"egress_bytes_total{sandbox="sb-1",direction="down"}"#) == 2_000)
        #expect(sampleValue(text, "egress_request_duration_seconds_count") == 3)
    }

    @Test("connections: opened/closed and set by a scrape hook")
    func connections() {
        let metrics = ProxyMetrics()
        metrics.connectionOpened()
        metrics.connectionOpened()
        metrics.connectionClosed()
        #expect(sampleValue(metrics.prometheusText(), "egress_connections_open") == 1)
        metrics.addScrapeHook { metrics.setConnectionsOpen(7) }
        #expect(sampleValue(metrics.prometheusText(), "egress_connections_open") == 7)
    }

    @Test("sandbox labels are capped; later sandboxes share _other")
    func cardinalityCap() {
        let metrics = ProxyMetrics(maximumSandboxLabels: 2)
        for id in ["sb-1", "sb-2", "sb-3", "sb-4"] { metrics.requestCompleted(Self.record(id, .allow())) }
        let text = metrics.prometheusText()
        #expect(text.contains(#"sandbox="sb-2""#))
        #expect(!text.contains(#"sandbox="sb-3""#))
        #expect(sampleValue(text, #"egress_requests_total{sandbox="_other",event="request",decision="allow",reason="allowed"}"#) == 2)
    }

    @Test("MetricsAuditSink counts and forwards every record")
    func auditSink() {
        let metrics = ProxyMetrics()
        let memory = MemoryAuditSink()
        let sink = MetricsAuditSink(base: memory, metrics: metrics)
        sink.write(Self.record("", .deny(.proxy_auth_required)))
        #expect(memory.records.count == 1)
        #expect(sampleValue(metrics.prometheusText(), #"egress_requests_total{sandbox="",event="request",decision="deny",reason="proxy_auth_required"}"#) == 1)
    }

    @Test("two instances never share series")
    func isolatedInstances() {
        let a = ProxyMetrics()
        let b = ProxyMetrics()
        a.requestCompleted(Self.record("sb-1", .allow()))
        #expect(!b.prometheusText().contains("sb-1"))
    }
}
