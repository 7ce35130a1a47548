import NIOCore

/// Masks real secret values, in all their encoded forms (`SecretForms`), out of what reaches
/// the sandbox: response bodies, response header values and WebSocket frame payloads.
///
/// Built once per policy and shared; `makeStream()` gives each body its own cheap
/// `StreamingReplacer` over the same compiled patterns. Also usable for values that must be
/// redacted from requests (`env.mask_patterns`), with a redaction marker as "placeholder".
public struct ResponseMasker: Sendable {
    // MARK: State

    private let patternSet: SecretPatternSet
    private let replacements: [[UInt8]]
    /// The secret name of each pattern.
    private let labels: [String]

    /// The names of the secrets masked, in the order given.
    public let secretNames: [String]

    // MARK: Creating

    /// Compiles every form of every secret. A secret whose forms are all shorter than
    /// `SecretForms.minimumLength` is not masked.
    public init(_ secrets: [(name: String, value: [UInt8], placeholder: [UInt8])]) {
        var patterns: [[UInt8]] = []
        var replacements: [[UInt8]] = []
        var labels: [String] = []
        for secret in secrets {
            let forms = SecretForms(name: secret.name, value: secret.value, placeholder: secret.placeholder)
            for form in forms.forms {
                patterns.append(form.pattern)
                replacements.append(form.replacement)
                labels.append(secret.name)
            }
        }
        self.patternSet = SecretPatternSet(patterns)
        self.replacements = replacements
        self.labels = labels
        self.secretNames = secrets.map(\.name)
    }

    /// True when there is nothing to mask: callers can skip the body pass.
    public var isEmpty: Bool { patternSet.isEmpty }

    /// The number of byte patterns (forms of all secrets) searched.
    public var patternCount: Int { patternSet.count }

    // MARK: Masking

    /// A fresh stream for one body (or one WebSocket message); its `matchedLabels` are the
    /// names of the secrets masked.
    public func makeStream() -> StreamingReplacer {
        StreamingReplacer(patternSet: patternSet, replacements: replacements, labels: labels)
    }

    /// Masks one whole buffer (a WebSocket frame payload, a small body).
    public func mask(_ buffer: ByteBuffer) -> (ByteBuffer, masked: [String]) {
        var stream = makeStream()
        let out = stream.replaceAll(in: buffer)
        return (out, stream.matchedLabels)
    }

    /// Masks one header value; returns it unchanged (the same string) when nothing matched.
    public func maskHeaderValue(_ s: String) -> (String, masked: [String]) {
        if patternSet.isEmpty { return (s, []) }
        let utf8 = Array(s.utf8)
        let matches = utf8.withUnsafeBytes {
            patternSet.scan($0, from: 0, limit: $0.count, final: true).matches
        }
        if matches.isEmpty { return (s, []) }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var literalStart = 0
        var maskedPatterns = Set<Int>()
        for match in matches {
            out += utf8[literalStart..<match.start]
            out += replacements[match.pattern]
            literalStart = match.start + patternSet.lengths[match.pattern]
            maskedPatterns.insert(match.pattern)
        }
        out += utf8[literalStart...]
        // Patterns are grouped by secret in the order given, so pattern order is secret order.
        var masked: [String] = []
        for pattern in maskedPatterns.sorted() where !masked.contains(labels[pattern]) {
            masked.append(labels[pattern])
        }
        return (String(decoding: out, as: UTF8.self), masked)
    }
}

// MARK: - Redacted descriptions

extension ResponseMasker: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names and counts only.
    public var description: String {
        "ResponseMasker(<redacted>, secrets: [\(secretNames.joined(separator: ", "))], patterns: \(patternSet.count))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["secretNames": secretNames], displayStyle: .struct)
    }
}
