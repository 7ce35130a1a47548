import Foundation
import PIIDetect
import PolicyEngine

// MARK: - Field names

/// The audit record's field names (SPEC section 7), as constants so that every writer,
/// reader and test spells them the same way.
public enum AuditField {
    public static let time = "time"
    public static let sandbox = "sandbox"
    public static let event = "event"
    public static let decision = "decision"
    public static let reason = "reason"
    public static let host = "host"
    public static let port = "port"
    public static let mode = "mode"
    public static let rule = "rule"
    public static let method = "method"
    public static let path = "path"
    public static let ip = "ip"
    public static let status = "status"
    public static let secrets = "secrets"
    public static let pii = "pii"
    public static let injection = "injection"
    public static let transformations = "transformations"
    public static let bytesUp = "bytes_up"
    public static let bytesDown = "bytes_down"
    public static let durationMS = "duration_ms"
    public static let detail = "detail"
}

/// How a connection or request was carried.
public enum ProxyMode: String, Sendable {
    case mitm, tunnel, http
}

/// One canonical audit record: one per CONNECT (or tunnel) and one per request.
///
/// It holds no secret or PII value by construction: secrets appear by name, PII by type
/// and count, and the path has its query values removed.
public struct AuditRecord: Sendable {
    public enum Event: String, Sendable { case connect, request }

    public var time: Date
    public var sandbox: String
    public var event: Event
    public var decision: Decision
    public var host: String
    public var port: Int
    public var mode: ProxyMode
    public var method: String?
    public var path: String?
    public var ip: String?
    public var status: Int?
    public var secrets: [String] = []
    public var pii: [(type: String, count: Int)] = []
    public var injection: (score: Double, action: String)?
    public var transformations: Int?
    public var bytesUp: Int?
    public var bytesDown: Int?
    public var durationMS: Double?
    /// A short, secret-free explanation for operators (e.g. an upstream error's kind).
    public var detail: String?

    public init(
        time: Date = Date(), sandbox: String, event: Event, decision: Decision,
        host: String, port: Int, mode: ProxyMode
    ) {
        self.time = time
        self.sandbox = sandbox
        self.event = event
        self.decision = decision
        self.host = host
        self.port = port
        self.mode = mode
    }

    // MARK: JSON

    /// One JSON object, no trailing newline. Keys in a fixed order so lines diff well.
    public func jsonLine() -> String {
        var out = "{"
        var first = true
        func key(_ k: String) {
            if !first { out += "," }
            first = false
            out += "\"" + k + "\":"
        }
        func str(_ k: String, _ v: String) { key(k); out += JSONText.quote(v) }
        func num(_ k: String, _ v: Int) { key(k); out += String(v) }

        str(AuditField.time, RFC3339.format(time))
        str(AuditField.sandbox, sandbox)
        str(AuditField.event, event.rawValue)
        str(AuditField.decision, decision.verdict.rawValue)
        str(AuditField.reason, decision.reason.rawValue)
        str(AuditField.host, host)
        num(AuditField.port, port)
        str(AuditField.mode, mode.rawValue)
        if let rule = decision.rule { str(AuditField.rule, rule) }
        if let method { str(AuditField.method, method) }
        if let path { str(AuditField.path, path) }
        if let ip { str(AuditField.ip, ip) }
        if let status { num(AuditField.status, status) }
        if !secrets.isEmpty {
            key(AuditField.secrets)
            out += "[" + secrets.map(JSONText.quote).joined(separator: ",") + "]"
        }
        if !pii.isEmpty {
            key(AuditField.pii)
            out += "[" + pii.map { "{\"type\":\(JSONText.quote($0.type)),\"count\":\($0.count)}" }.joined(separator: ",") + "]"
        }
        if let injection {
            key(AuditField.injection)
            out += "{\"score\":\(JSONText.number(injection.score)),\"action\":\(JSONText.quote(injection.action))}"
        }
        if let transformations { num(AuditField.transformations, transformations) }
        if let bytesUp { num(AuditField.bytesUp, bytesUp) }
        if let bytesDown { num(AuditField.bytesDown, bytesDown) }
        if let durationMS { key(AuditField.durationMS); out += JSONText.number(durationMS) }
        if let detail { str(AuditField.detail, detail) }
        out += "}"
        return out
    }
}

// MARK: - Small JSON and time helpers

/// RFC 3339 timestamps in UTC with milliseconds, e.g. `2026-11-23T11:37:42.123Z`.
public enum RFC3339 {
    public static func format(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000) % 1000
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1, Int(tmv.tm_mday),
            Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), ms)
    }
}
