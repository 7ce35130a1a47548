import PolicyEngine

// MARK: - ReloadFailure

/// A file the reload refused. The sandbox it names keeps its previous policy, if it had one.
public struct ReloadFailure: Sendable, CustomStringConvertible {
    /// The file (a policy file, the policies folder, or the source map).
    public var file: String
    /// The sandbox id the file names, when it names one.
    public var sandbox: String?
    /// What is wrong, each as `FILE:LINE:COLUMN: message`.
    public var diagnostics: [PolicyDiagnostic]
    /// Whether a previous policy (or source map) stays in force.
    public var keptPrevious: Bool

    public init(file: String, sandbox: String?, diagnostics: [PolicyDiagnostic], keptPrevious: Bool) {
        self.file = file
        self.sandbox = sandbox
        self.diagnostics = diagnostics
        self.keptPrevious = keptPrevious
    }

    /// One `FILE:LINE:COLUMN: message` line per diagnostic.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

// MARK: - ReloadReport

/// What one reload of the policies folder did. Sandbox ids, sorted.
public struct ReloadReport: Sendable, CustomStringConvertible {
    /// Sandboxes registered by this reload (new files).
    public var added: [String] = []
    /// Sandboxes whose policy was replaced (content changed; with `force`, every valid file).
    public var changed: [String] = []
    /// Sandboxes unregistered (their file is gone): new requests get 407.
    public var removed: [String] = []
    /// Sandboxes whose file is unchanged.
    public var unchanged: [String] = []
    /// Files refused; the old policy of their sandbox (if any) stays.
    public var failures: [ReloadFailure] = []
    /// Whether the source map was re-read and replaced.
    public var sourceMapChanged = false

    public init() {}

    /// No file was refused.
    public var succeeded: Bool { failures.isEmpty }

    /// Every diagnostic of every refused file.
    public var diagnostics: [PolicyDiagnostic] { failures.flatMap(\.diagnostics) }

    public var description: String {
        var parts: [String] = []
        if !added.isEmpty { parts.append("added \(added.joined(separator: ","))") }
        if !changed.isEmpty { parts.append("changed \(changed.joined(separator: ","))") }
        if !removed.isEmpty { parts.append("removed \(removed.joined(separator: ","))") }
        if sourceMapChanged { parts.append("source map replaced") }
        if !failures.isEmpty { parts.append("\(failures.count) file(s) refused") }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }
}
