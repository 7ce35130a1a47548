import NIOCore
import PolicyEngine

// MARK: - StageResult

/// What a body stage answers for each chunk (and at the end): bytes to forward now, or a
/// denial. After a denial the stage is finished: the caller stops feeding it, drops the
/// upstream exchange and answers the sandbox with the reason.
public enum StageResult: Sendable, Equatable {
    /// Bytes to send on now; may be empty (the stage is holding bytes back).
    case forward(ByteBuffer)
    /// Stop: `reason` is `pii_blocked`, `injection_blocked` or `uninspectable`; `detail` is
    /// a short, value-free explanation for the audit record (never PII or secret bytes).
    case deny(reason: Reason, detail: String)

    /// The forwarded bytes, or nil for a denial.
    public var forwarded: ByteBuffer? {
        if case .forward(let buffer) = self { return buffer }
        return nil
    }
}

// MARK: - HeadVerdict

/// What a head rewrite answers: go on (the headers and query were edited in place), or deny
/// before any byte of the body is sent.
public enum HeadVerdict: Sendable, Equatable {
    case proceed
    case deny(reason: Reason, detail: String)
}

// MARK: - Audit-facing counts

/// Counts of findings by type name (`EMAIL_ADDRESS`, `CREDIT_CARD`, ...). Holds names and
/// numbers only: no value ever enters it.
struct FindingCounts: Sendable, Equatable {
    private var byType: [String: Int] = [:]

    mutating func add(_ type: String, _ count: Int = 1) {
        guard count > 0 else { return }
        byType[type, default: 0] += count
    }

    mutating func merge(_ other: [String: Int]) {
        for (type, count) in other { add(type, count) }
    }

    var isEmpty: Bool { byType.isEmpty }

    var total: Int { byType.values.reduce(0, +) }

    /// Sorted by type name, so audit lines are stable.
    var list: [(type: String, count: Int)] {
        byType.sorted { $0.key < $1.key }.map { (type: $0.key, count: $0.value) }
    }
}
