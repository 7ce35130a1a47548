// MARK: - HostPatternSet

/// Compiled host patterns: exact names, `*.suffix` (sub-domains at any depth, not the suffix
/// itself) and `*` (every host). Matching costs one dictionary lookup per label of the host,
/// whatever the number of patterns.
public struct HostPatternSet: Sendable {
    /// Why a pattern was refused; the message is meant for a policy diagnostic.
    public struct PatternError: Error, Sendable, Equatable, CustomStringConvertible {
        public let pattern: String
        public let message: String
        public var description: String { message }
    }

    /// The normalised patterns, in policy order.
    public let patterns: [String]
    /// Exact name -> smallest pattern index.
    private let exact: [String: Int]
    /// Suffix of a `*.suffix` pattern -> smallest pattern index.
    private let suffixes: [String: Int]
    /// Index of the first `*` pattern.
    private let everything: Int?

    /// Compiles patterns; throws for the first invalid one.
    public init(_ patterns: [String]) throws(PatternError) {
        var normalized: [String] = []
        for pattern in patterns {
            switch Self.validate(pattern) {
            case .success(let value): normalized.append(value)
            case .failure(let error): throw error
            }
        }
        self.init(validated: normalized)
    }

    /// Compiles patterns that were validated (and normalised) already. An invalid pattern just
    /// never matches.
    public init(validated patterns: [String]) {
        var exact: [String: Int] = [:]
        var suffixes: [String: Int] = [:]
        var everything: Int?
        for (index, pattern) in patterns.enumerated() {
            if pattern == "*" {
                if everything == nil { everything = index }
            } else if pattern.hasPrefix("*.") {
                let suffix = String(pattern.dropFirst(2))
                if suffixes[suffix] == nil { suffixes[suffix] = index }
            } else if exact[pattern] == nil {
                exact[pattern] = index
            }
        }
        self.patterns = patterns
        self.exact = exact
        self.suffixes = suffixes
        self.everything = everything
    }

    /// An empty set (matches nothing).
    public static let empty = HostPatternSet(validated: [])

    /// Whether the set has no pattern.
    public var isEmpty: Bool { patterns.isEmpty }

    /// Whether any pattern matches `host` (normalised here).
    public func matches(_ host: String) -> Bool {
        firstMatch(host) != nil
    }

    /// The smallest index of a pattern matching `host` (normalised here), for rule paths.
    public func firstMatch(_ host: String) -> Int? {
        firstMatch(normalized: HostName.normalize(host))
    }

    /// Like `firstMatch(_:)` for a host that is normalised already.
    public func firstMatch(normalized host: String) -> Int? {
        var best = everything
        func consider(_ index: Int?) {
            if let index, best.map({ index < $0 }) ?? true { best = index }
        }
        consider(exact[host])
        if !suffixes.isEmpty {
            // Walk the label boundaries: "a.b.example.com" asks for "b.example.com",
            // "example.com" and "com".
            var rest = Substring(host)
            while let dot = rest.firstIndex(of: ".") {
                rest = rest[rest.index(after: dot)...]
                if rest.isEmpty { break }
                consider(suffixes[String(rest)])
            }
        }
        return best
    }

    // MARK: Validation

    /// Normalises and checks one pattern: `*`, `*.name` or `name`.
    public static func validate(_ pattern: String) -> Result<String, PatternError> {
        if pattern == "*" { return .success("*") }
        if pattern.isEmpty {
            return .failure(PatternError(pattern: pattern, message: "empty host pattern"))
        }
        if pattern.contains("://") || pattern.contains("/") {
            return .failure(PatternError(pattern: pattern, message: "bad host pattern '\(pattern)': give a host name, not a URL or path"))
        }
        if let address = IPAddress(pattern) {
            // An IP literal names exactly that host (e.g. a secret bound to an internal address).
            return .success(address.description)
        }
        if pattern.contains(":") {
            return .failure(PatternError(pattern: pattern, message: "bad host pattern '\(pattern)': ports are not part of a host pattern"))
        }
        var body = Substring(pattern)
        var prefix = ""
        if body.hasPrefix("*.") {
            prefix = "*."
            body = body.dropFirst(2)
        }
        if body.contains("*") {
            return .failure(PatternError(pattern: pattern, message: "bad host pattern '\(pattern)': '*' is allowed only as the whole pattern or as a leading '*.' label"))
        }
        let normalized = HostName.normalize(String(body))
        guard HostName.isValid(normalized) else {
            return .failure(PatternError(pattern: pattern, message: "bad host pattern '\(pattern)': not a valid host name"))
        }
        return .success(prefix + normalized)
    }
}
