import PIIDetect
import PolicyEngine

// MARK: - PIIRule

/// PII detection as a window rule. Every finding is counted by its type name; with `redact`
/// a committed finding becomes its vault token (percent-encoded in form bodies and queries),
/// minted only when the finding is really replaced.
struct PIIRule: WindowRule {
    let detector: Detector
    let redact: Bool
    let vault: TokenVault
    /// Form body or query: tokens are percent-encoded, values read with `+` as space.
    let form: Bool

    mutating func candidates(in buffer: [UInt8], historyCount: Int, absoluteStart: Int, isFinal: Bool)
        throws(WindowFailure) -> [WindowCandidate] {
        detector.scan(buffer).map { finding in
            WindowCandidate(range: finding.range, label: finding.type.rawValue, replacement: nil, render: redact)
        }
    }

    mutating func render(_ candidate: WindowCandidate, in buffer: [UInt8]) -> [UInt8]? {
        guard redact else { return nil }
        let value = RedactionToken.canonicalValue(buffer[candidate.range], form: form)
        return RedactionToken.encoded(vault.token(for: value, type: candidate.label), percent: form)
    }
}
