// MARK: - SourcePosition

/// Where something was written: file, 1-based line and column.
public struct SourcePosition: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`.
    public var description: String { "\(file):\(line):\(column)" }
}

// MARK: - PolicyDiagnostic

/// One error in a policy: where, which key, what is wrong.
public struct PolicyDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    /// The key path, e.g. `network.allow_out[2]` (empty for the document as a whole).
    public let path: String
    /// The message; it starts with the key path when there is one.
    public let message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// A diagnostic at `position` whose message is `path: detail`.
    public init(at position: SourcePosition, path: String, _ detail: String) {
        self.init(file: position.file, line: position.line, column: position.column, path: path,
                  message: path.isEmpty ? detail : "\(path): \(detail)")
    }

    /// `FILE:LINE:COLUMN: message`.
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

// MARK: - PolicyLoadError

/// Every error found in a policy, in document order.
public struct PolicyLoadError: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [PolicyDiagnostic]

    public init(diagnostics: [PolicyDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One `FILE:LINE:COLUMN: message` line per diagnostic.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
