import Yams

// MARK: - NodeReader

/// Reads typed values out of a Yams node tree and collects one diagnostic per problem, with
/// the node's line and column, instead of stopping at the first.
///
/// Values are decoded by hand (not `Codable`) because a diagnostic must name the file, the
/// position and the key path of the very node that is wrong.
struct NodeReader {
    let file: String
    private(set) var diagnostics: [PolicyDiagnostic] = []
    /// Nodes visited so far: aliases make a small document a huge tree ("billion laughs"),
    /// so the walk is bounded.
    private var visits = 0
    static let maximumVisits = 200_000

    init(file: String) {
        self.file = file
    }

    // MARK: Positions and errors

    /// The position of `node` (1:1 when Yams has none).
    func position(_ node: Node) -> SourcePosition {
        let mark = node.mark
        return SourcePosition(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Records a diagnostic at `node`.
    mutating func error(_ node: Node, _ path: String, _ detail: String) {
        error(at: position(node), path, detail)
    }

    /// Records a diagnostic at `position`.
    mutating func error(at position: SourcePosition, _ path: String, _ detail: String) {
        diagnostics.append(PolicyDiagnostic(at: position, path: path, detail))
    }

    /// Counts a visit; false (with one diagnostic) once the budget is spent.
    mutating func visit(_ node: Node, _ path: String) -> Bool {
        visits += 1
        if visits == Self.maximumVisits {
            error(node, path, "policy is too large (more than \(Self.maximumVisits) nodes, through aliases?)")
        }
        return visits < Self.maximumVisits
    }

    // MARK: Describing nodes

    /// "a list", "an integer (5)", ... for type-mismatch messages.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch node.tagName {
            case .null: return "null"
            case .bool: return "a boolean (\(scalar.string))"
            case .int: return "an integer (\(scalar.string))"
            case .float: return "a number (\(scalar.string))"
            case .timestamp: return "a date (\(scalar.string))"
            case .str: return "a string"
            default: return "a scalar (\(scalar.string))"
            }
        }
    }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar = node, node.tagName == .null { return true }
        return false
    }

    // MARK: Mappings

    /// A mapping's entries with string keys, in document order. Keys not in `allowed` are
    /// reported (with a suggestion). Null values are dropped unless `keepNulls`, so an SDK's
    /// `"field": null` means "not set"; mappings whose keys are names (secret entries, headers)
    /// keep them so that an empty entry is reported rather than silently ignored.
    mutating func mapping(_ node: Node, _ path: String, allowed: [String]? = nil, keepNulls: Bool = false) -> Fields? {
        guard visit(node, path) else { return nil }
        guard case .mapping(let mapping) = node else {
            error(node, path.isEmpty ? "(document)" : path, "expected a mapping, got \(Self.describe(node))")
            return nil
        }
        var fields = Fields(node: node, position: position(node))
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode, keyNode.tagName == .str else {
                error(keyNode, path, "keys must be strings, got \(Self.describe(keyNode))")
                continue
            }
            let key = keyScalar.string
            let childPath = Self.join(path, key)
            if let allowed, !allowed.contains(key) {
                var message = "unknown key '\(key)'"
                if let suggestion = Self.closest(key, in: allowed) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += " (expected one of: \(allowed.joined(separator: ", ")))"
                }
                error(keyNode, childPath, message)
                continue
            }
            if Self.isNull(value), !keepNulls { continue }
            fields.entries.append(Fields.Entry(key: key, keyNode: keyNode, value: value))
        }
        return fields
    }

    /// The entries of a mapping in document order, looked up by key.
    struct Fields {
        struct Entry {
            let key: String
            let keyNode: Node
            let value: Node
        }

        let node: Node
        let position: SourcePosition
        var entries: [Entry] = []

        init(node: Node, position: SourcePosition) {
            self.node = node
            self.position = position
        }

        subscript(key: String) -> Node? {
            entries.first { $0.key == key }?.value
        }

        func entry(_ key: String) -> Entry? {
            entries.first { $0.key == key }
        }
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    // MARK: Scalars

    /// A string scalar; numbers, booleans, dates and null are type errors (quote them).
    mutating func string(_ node: Node, _ path: String) -> String? {
        guard visit(node, path) else { return nil }
        guard case .scalar(let scalar) = node, node.tagName == .str else {
            var message = "expected a string, got \(Self.describe(node))"
            if case .scalar = node, !Self.isNull(node) { message += "; quote it to make it a string" }
            error(node, path, message)
            return nil
        }
        return scalar.string
    }

    /// A non-empty string scalar.
    mutating func nonEmptyString(_ node: Node, _ path: String) -> String? {
        guard let value = string(node, path) else { return nil }
        guard !value.isEmpty else {
            error(node, path, "must not be empty")
            return nil
        }
        return value
    }

    /// `true` / `false`.
    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard visit(node, path) else { return nil }
        guard case .scalar = node, node.tagName == .bool, let value = node.bool else {
            error(node, path, "expected true or false, got \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// An integer within `range`.
    mutating func int(_ node: Node, _ path: String, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard visit(node, path) else { return nil }
        guard case .scalar = node, node.tagName == .int, let value = node.int else {
            error(node, path, "expected an integer, got \(Self.describe(node))")
            return nil
        }
        guard range.contains(value) else {
            error(node, path, "must be \(Self.describe(range)), got \(value)")
            return nil
        }
        return value
    }

    /// A finite number (integer or decimal) within `range`.
    mutating func number(_ node: Node, _ path: String, in range: ClosedRange<Double>) -> Double? {
        guard visit(node, path) else { return nil }
        guard case .scalar = node, node.tagName == .int || node.tagName == .float,
              let value = node.tagName == .int ? node.int.map(Double.init) : node.float, value.isFinite else {
            error(node, path, "expected a number, got \(Self.describe(node))")
            return nil
        }
        guard range.contains(value) else {
            error(node, path, "must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound)), got \(Self.format(value))")
            return nil
        }
        return value
    }

    /// One of an enum's raw values.
    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _ type: E.Type) -> E?
        where E.RawValue == String {
        guard let text = string(node, path) else { return nil }
        guard let value = E(rawValue: text) else {
            let choices = E.allCases.map(\.rawValue).joined(separator: " | ")
            error(node, path, "unknown value '\(text)'; expected \(choices)")
            return nil
        }
        return value
    }

    // MARK: Lists

    /// The items of a list, with their paths.
    mutating func list(_ node: Node, _ path: String) -> [(node: Node, path: String)]? {
        guard visit(node, path) else { return nil }
        guard case .sequence(let sequence) = node else {
            error(node, path, "expected a list, got \(Self.describe(node))")
            return nil
        }
        return sequence.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
    }

    /// A list of strings; a wrong item is reported and skipped.
    mutating func stringList(_ node: Node, _ path: String) -> [(value: String, node: Node, path: String)]? {
        guard let items = list(node, path) else { return nil }
        var result: [(String, Node, String)] = []
        for item in items {
            if let value = nonEmptyString(item.node, item.path) { result.append((value, item.node, item.path)) }
        }
        return result
    }

    /// A single string or a list of strings (`host: a` or `host: [a, b]`).
    mutating func stringOrList(_ node: Node, _ path: String) -> [(value: String, node: Node, path: String)]? {
        if case .sequence = node { return stringList(node, path) }
        guard let value = nonEmptyString(node, path) else { return nil }
        return [(value, node, path)]
    }

    // MARK: Helpers

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// The allowed key nearest to a mistyped one (edit distance at most 2).
    static func closest(_ key: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(Array(key.lowercased().utf8), Array(candidate.utf8))
            if distance <= 2, best.map({ distance < $0.1 }) ?? true { best = (candidate, distance) }
        }
        return best?.0
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

// MARK: - Node tag

extension Node {
    /// The resolved tag's name (Yams keeps `Tag.name` internal; `rawValue` is the same text).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
