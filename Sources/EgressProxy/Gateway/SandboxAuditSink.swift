import NIOConcurrencyHelpers

// MARK: - SandboxAuditSink

/// One sandbox's audit sink in the gateway: counts every record in the metrics, and writes it
/// to the shared sink unless the sandbox's current policy says `audit.enabled: false`. The flag
/// follows policy reloads; the runtime keeps this one object for its whole life.
final class SandboxAuditSink: AuditSink, Sendable {
    private let base: AuditSink
    private let metrics: ProxyMetrics?
    private let enabled: NIOLockedValueBox<Bool>

    init(base: AuditSink, metrics: ProxyMetrics?, enabled: Bool) {
        self.base = base
        self.metrics = metrics
        self.enabled = NIOLockedValueBox(enabled)
    }

    var isEnabled: Bool {
        get { enabled.withLockedValue { $0 } }
        set { enabled.withLockedValue { $0 = newValue } }
    }

    func write(_ record: AuditRecord) {
        metrics?.requestCompleted(record)
        if isEnabled { base.write(record) }
    }

    func flush() { base.flush() }
}
