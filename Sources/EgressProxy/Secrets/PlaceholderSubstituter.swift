import NIOCore

/// Swaps secret placeholders for real values in a request to one host, and finds placeholders
/// of secrets that this host may not receive.
///
/// Built per (policy, host) by the proxy, which decides `allowed` for each secret (host in
/// `allowed_hosts`, verified TLS to that very host). For an allowed secret, placeholders are
/// replaced only in the places its `inject_in` names (and, for headers, only in its
/// `header_names` when given); elsewhere they stay as they are. A placeholder of a secret that
/// is not allowed is never replaced and is reported as `refused`: the proxy denies the request
/// (`secret_host_mismatch`). The path is never substituted: callers pass only the query.
public struct PlaceholderSubstituter: Sendable {
    /// Where in a request a secret may be injected (`inject_in`).
    public enum Location: String, Sendable, Hashable, CaseIterable {
        case headers
        case query
        case body
    }

    /// One secret as the substituter needs it.
    private struct Entry: Sendable {
        let name: String
        let value: [UInt8]
        let allowed: Bool
        let injectIn: Set<Location>
        /// Lower-cased; nil means every header.
        let headerNames: Set<String>?
        /// A value with CR, LF or NUL would split or end a header line: never put in a header.
        let headerSafe: Bool
    }

    // MARK: State

    private let entries: [Entry]
    /// Raw placeholders of every secret; pattern i belongs to entry i.
    private let headerPatterns: SecretPatternSet
    /// Raw and percent-encoded placeholders of every secret, with their owners.
    private let queryPatterns: SecretPatternSet
    private let queryOwners: [Int]
    /// Raw placeholders of allowed secrets with `body` in `inject_in`, replaced by their values.
    private let bodyPatterns: SecretPatternSet
    private let bodyValues: [[UInt8]]
    private let bodyLabels: [String]
    /// Raw and percent-encoded placeholders of secrets that are not allowed.
    private let refusalPatterns: SecretPatternSet
    private let refusalForms: [[UInt8]]
    private let refusalLabels: [String]

    // MARK: Creating

    /// Compiles the placeholders. `headerNames` are compared case-insensitively.
    public init(
        _ secrets: [(
            name: String, placeholder: [UInt8], value: [UInt8], allowed: Bool,
            injectIn: Set<Location>, headerNames: Set<String>?
        )]
    ) {
        var entries: [Entry] = []
        var queryForms: [[UInt8]] = []
        var queryOwners: [Int] = []
        var bodyForms: [[UInt8]] = []
        var bodyValues: [[UInt8]] = []
        var bodyLabels: [String] = []
        var refusalForms: [[UInt8]] = []
        var refusalLabels: [String] = []
        for (index, secret) in secrets.enumerated() {
            entries.append(Entry(
                name: secret.name,
                value: secret.value,
                allowed: secret.allowed,
                injectIn: secret.injectIn,
                headerNames: secret.headerNames.map { Set($0.map { $0.lowercased() }) },
                headerSafe: !secret.value.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
            ))
            // The placeholder is chosen by the policy author, so no minimum length applies here.
            let forms = Self.placeholderForms(secret.placeholder)
            for form in forms {
                queryForms.append(form)
                queryOwners.append(index)
            }
            if secret.allowed {
                if secret.injectIn.contains(.body) {
                    bodyForms.append(secret.placeholder)
                    bodyValues.append(secret.value)
                    bodyLabels.append(secret.name)
                }
            } else {
                for form in forms {
                    refusalForms.append(form)
                    refusalLabels.append(secret.name)
                }
            }
        }
        self.entries = entries
        self.headerPatterns = SecretPatternSet(secrets.map(\.placeholder))
        self.queryPatterns = SecretPatternSet(queryForms)
        self.queryOwners = queryOwners
        self.bodyPatterns = SecretPatternSet(bodyForms)
        self.bodyValues = bodyValues
        self.bodyLabels = bodyLabels
        self.refusalPatterns = SecretPatternSet(refusalForms)
        self.refusalForms = refusalForms
        self.refusalLabels = refusalLabels
    }

    /// The placeholder raw and percent-encoded (both hex cases), without repeats.
    private static func placeholderForms(_ placeholder: [UInt8]) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        for encoding in [SecretEncoding.raw, .percent, .percentLowercase] {
            let form = encoding.encode(placeholder)
            if !form.isEmpty && !forms.contains(form) { forms.append(form) }
        }
        return forms
    }

    // MARK: Inspecting

    /// True when some allowed secret is injected in bodies: the body needs a substitution pass.
    public var substitutesInBody: Bool { !bodyPatterns.isEmpty }

    /// True when some secret is not allowed for this host: bodies need a refusal scan.
    public var detectsRefused: Bool { !refusalPatterns.isEmpty }

    // MARK: Headers

    /// Substitutes placeholders in one header value.
    ///
    /// A placeholder of an allowed secret is replaced when `inject_in` has `headers` and its
    /// `header_names` (if any) contain `name`. One of a secret that is not allowed stays and is
    /// reported in `refused`; so does one whose value contains CR, LF or NUL (it would split the
    /// header). Names are reported once each, in the order the secrets were given.
    public func substituteHeader(name: String, value: String) -> (String, substituted: [String], refused: [String]) {
        if headerPatterns.isEmpty { return (value, [], []) }
        let headerName = name.lowercased()
        return substitute(value, in: headerPatterns, owner: { $0 }) { entry in
            guard entry.injectIn.contains(.headers) else { return .keep }
            if let names = entry.headerNames, !names.contains(headerName) { return .keep }
            return entry.headerSafe ? .replace(entry.value) : .refuse
        }
    }

    // MARK: Query

    /// Substitutes placeholders, raw or percent-encoded, in a query string (without `?`).
    ///
    /// The value is inserted percent-encoded (RFC 3986 unreserved characters kept), so it
    /// decodes back to the exact bytes whatever they are.
    public func substituteQuery(_ query: String) -> (String, substituted: [String], refused: [String]) {
        if queryPatterns.isEmpty { return (query, [], []) }
        return substitute(query, in: queryPatterns, owner: { queryOwners[$0] }) { entry in
            entry.injectIn.contains(.query) ? .replace(SecretEncoding.percent.encode(entry.value)) : .keep
        }
    }

    // MARK: Body

    /// A fresh stream that replaces placeholders of allowed secrets with `body` in `inject_in`
    /// by their raw values; its `matchedLabels` are the names substituted.
    public func makeBodyStream() -> StreamingReplacer {
        StreamingReplacer(patternSet: bodyPatterns, replacements: bodyValues, labels: bodyLabels)
    }

    /// A fresh detector for placeholders (raw or percent-encoded) of secrets that are not
    /// allowed for this host, over a body fed in chunks.
    public func makeRefusalDetector() -> PlaceholderDetector {
        PlaceholderDetector(
            replacer: StreamingReplacer(patternSet: refusalPatterns, replacements: refusalForms, labels: refusalLabels)
        )
    }

    /// The names of the secrets not allowed for this host whose placeholders (raw or
    /// percent-encoded) occur in `buffer`; for a whole body, or for a path.
    public func findPlaceholders(in buffer: ByteBuffer) -> [String] {
        var detector = makeRefusalDetector()
        detector.feed(buffer)
        detector.finish()
        return detector.found
    }

    // MARK: Substitution core

    private enum Action {
        case replace([UInt8])
        case keep
        case refuse
    }

    /// Finds placeholders in `text`; a secret that is not allowed is always refused, the others
    /// go to `decide`.
    private func substitute(
        _ text: String,
        in patterns: SecretPatternSet,
        owner: (Int) -> Int,
        decide: (Entry) -> Action
    ) -> (String, substituted: [String], refused: [String]) {
        let bytes = Array(text.utf8)
        let matches = bytes.withUnsafeBytes {
            patterns.scan($0, from: 0, limit: $0.count, final: true).matches
        }
        if matches.isEmpty { return (text, [], []) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var literalStart = 0
        var substituted = Set<Int>()
        var refused = Set<Int>()
        for match in matches {
            let index = owner(match.pattern)
            let entry = entries[index]
            let action = entry.allowed ? decide(entry) : .refuse
            let end = match.start + patterns.lengths[match.pattern]
            switch action {
            case .replace(let value):
                out += bytes[literalStart..<match.start]
                out += value
                literalStart = end
                substituted.insert(index)
            case .refuse:
                refused.insert(index)
            case .keep:
                break
            }
        }
        if substituted.isEmpty { return (text, [], names(refused)) }
        out += bytes[literalStart...]
        return (String(decoding: out, as: UTF8.self), names(substituted), names(refused))
    }

    /// Secret names by entry index, in the order given, each once.
    private func names(_ indices: Set<Int>) -> [String] {
        var result: [String] = []
        for index in indices.sorted() where !result.contains(entries[index].name) {
            result.append(entries[index].name)
        }
        return result
    }
}

// MARK: - Redacted descriptions

extension PlaceholderSubstituter: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names and permissions only: placeholders are harmless but values are secret.
    public var description: String {
        let parts = entries.map { entry in
            "\(entry.name): \(entry.allowed ? "allowed" : "refused") in [\(Location.allCases.filter(entry.injectIn.contains).map(\.rawValue).joined(separator: ", "))]"
        }
        return "PlaceholderSubstituter(<redacted>, \(parts.joined(separator: "; ")))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["secrets": entries.map(\.name)], displayStyle: .struct)
    }
}
