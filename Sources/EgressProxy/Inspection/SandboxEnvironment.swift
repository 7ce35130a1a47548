// MARK: - SandboxEnvironment

/// The sandbox's environment (`--sandbox-env FILE`) and the part of it `env.mask_patterns`
/// turns into secrets: values of variables whose names match a pattern are masked in
/// responses and redacted from requests (also base64 and URL-encoded), as `[ENV_NAME]`.
/// Its description never shows values.
public struct SandboxEnvironment: Sendable {
    /// Name → value, as read.
    private let values: [String: String]

    public init(_ values: [String: String]) {
        self.values = values
    }

    /// Reads `KEY=VALUE` lines: blank lines and `#` comments are skipped, an `export ` prefix
    /// is allowed, matching single or double quotes around the value are removed.
    public static func parse(_ text: String) -> SandboxEnvironment {
        var values: [String: String] = [:]
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = String(rawLine).trimmingASCIISpaces()
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingASCIISpaces() }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<eq]).trimmingASCIISpaces()
            var value = String(line[line.index(after: eq)...])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            if !name.isEmpty { values[name] = value }
        }
        return SandboxEnvironment(values)
    }

    /// The names of the variables.
    public var names: [String] { values.keys.sorted() }

    /// The variables whose names match one of `patterns` (`*` any run, `?` one character),
    /// sorted by name, excluding empty values.
    func masked(by patterns: [String]) -> [(name: String, value: [UInt8])] {
        guard !patterns.isEmpty else { return [] }
        return values.keys.sorted().compactMap { name in
            guard let value = values[name], !value.isEmpty,
                  patterns.contains(where: { Self.glob($0, matches: name) }) else { return nil }
            return (name, Array(value.utf8))
        }
    }

    /// Glob match over ASCII names (`*`, `?`), case-sensitive as environment names are.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern.utf8), s = Array(name.utf8)
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == s[si] {
                pi += 1
                si += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// The marker a masked value becomes.
    static func marker(for name: String) -> [UInt8] { Array("[ENV_\(name)]".utf8) }
}

// MARK: - Redacted descriptions

extension SandboxEnvironment: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names only: values may be secrets.
    public var description: String { "SandboxEnvironment(<redacted>, names: [\(names.joined(separator: ", "))])" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["names": names], displayStyle: .struct) }
}
