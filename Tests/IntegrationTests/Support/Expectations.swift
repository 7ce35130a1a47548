import Foundation
import Testing

// MARK: - Denials

/// Checks a denial as SPEC section 4 defines it: the status, `X-Egress-Decision: deny;
/// reason=R`, and the JSON body `{"error": "egress_denied", "reason", "rule", "host", "message"}`.
/// `host` and `rule` are checked only when given.
func expectDenial(
    status: Int?,
    decisionHeader: String?,
    body: Data,
    reason: String,
    host: String? = nil,
    rule: String? = nil,
    expectedStatus: Int = 403,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(status == expectedStatus, "status", sourceLocation: sourceLocation)
    #expect(decisionHeader == "deny; reason=\(reason)", "X-Egress-Decision", sourceLocation: sourceLocation)
    let text = String(decoding: body, as: UTF8.self)
    guard let json = try? JSONValue.parse(body), json.objectValue != nil else {
        Issue.record("denial body is not a JSON object: \(text)", sourceLocation: sourceLocation)
        return
    }
    #expect(json["error"]?.stringValue == "egress_denied", "\(text)", sourceLocation: sourceLocation)
    #expect(json["reason"]?.stringValue == reason, "\(text)", sourceLocation: sourceLocation)
    #expect(json["message"]?.stringValue?.isEmpty == false, "\(text)", sourceLocation: sourceLocation)
    #expect(json.objectValue?.keys.contains("rule") == true, "\(text)", sourceLocation: sourceLocation)
    #expect(json.objectValue?.keys.contains("host") == true, "\(text)", sourceLocation: sourceLocation)
    if let host {
        #expect(json["host"]?.stringValue == host, "\(text)", sourceLocation: sourceLocation)
    }
    if let rule {
        #expect(json["rule"]?.stringValue == rule, "\(text)", sourceLocation: sourceLocation)
    }
}

/// A denial as curl saw it (plain HTTP or an inner MITM request; a refused CONNECT's body is
/// not shown by curl, use `RawClient.connect` for that).
func expectDenial(
    _ transfer: CurlTransfer, reason: String, host: String? = nil, rule: String? = nil, expectedStatus: Int = 403,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectDenial(
        status: transfer.status, decisionHeader: transfer.header("x-egress-decision"), body: transfer.body,
        reason: reason, host: host, rule: rule, expectedStatus: expectedStatus, sourceLocation: sourceLocation)
}

/// A denial as the raw client saw it.
func expectDenial(
    _ response: RawResponse, reason: String, host: String? = nil, rule: String? = nil, expectedStatus: Int = 403,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectDenial(
        status: response.status, decisionHeader: response.header("x-egress-decision"), body: response.body,
        reason: reason, host: host, rule: rule, expectedStatus: expectedStatus, sourceLocation: sourceLocation)
}

// MARK: - Audit

/// Waits for the audit record matching `predicate` and records an issue (with all records
/// seen) when none comes.
@discardableResult
func expectAudit(
    _ proxy: ProxyProcess,
    _ description: String,
    timeout: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation,
    where predicate: (AuditRecord) -> Bool
) async throws -> AuditRecord? {
    let record = try await proxy.waitForAudit(timeout: timeout, where: predicate)
    if record == nil {
        let all = (try? proxy.auditRecords().map(\.raw).joined(separator: "\n")) ?? "(unreadable)"
        Issue.record("no audit record: \(description); audit log:\n\(all)", sourceLocation: sourceLocation)
    }
    return record
}

/// Checks the fields SPEC section 7 says are always present.
func expectRequiredAuditFields(_ record: AuditRecord, sourceLocation: SourceLocation = #_sourceLocation) {
    for field in ["time", "sandbox", "event", "decision", "reason", "host", "port", "mode"] {
        #expect(record[field] != nil, "audit field \(field) missing: \(record)", sourceLocation: sourceLocation)
    }
    #expect(record.string("sandbox") == PolicyYAML.sandbox, sourceLocation: sourceLocation)
    #expect(["connect", "request"].contains(record.event ?? ""), sourceLocation: sourceLocation)
    #expect(["allow", "deny"].contains(record.decision ?? ""), sourceLocation: sourceLocation)
    #expect(["mitm", "tunnel", "http"].contains(record.mode ?? ""), sourceLocation: sourceLocation)
    // RFC 3339 in UTC: "2026-01-02T03:04:05Z" or with fractional seconds / +00:00.
    let time = record.string("time") ?? ""
    #expect(time.count >= 20 && time.dropFirst(10).first == "T", "time: \(time)", sourceLocation: sourceLocation)
    #expect(time.hasSuffix("Z") || time.hasSuffix("+00:00"), "time: \(time)", sourceLocation: sourceLocation)
}

// MARK: - Secrets

/// Checks that no form of the real secret appears in any of the labelled texts.
func expectNoSecret(
    _ secret: TestSecret, in texts: [(label: String, text: String)], sourceLocation: SourceLocation = #_sourceLocation
) {
    for (label, text) in texts {
        for form in secret.forbiddenForms {
            #expect(!text.contains(form), "a real secret value appears in \(label)", sourceLocation: sourceLocation)
        }
    }
}

/// Everything a proxy wrote: audit log, stderr and stdout.
func proxyOutputs(_ proxy: ProxyProcess) -> [(label: String, text: String)] {
    [("audit log", proxy.auditText), ("proxy stderr", proxy.stderrText), ("proxy stdout", proxy.stdoutText)]
}
