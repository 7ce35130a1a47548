import PolicyEngine

// MARK: - DryRunPolicy

/// Loads a policy for dry-run: validated exactly as `run` validates it, but compiled with
/// stand-in secret values.
///
/// A decision depends on where a secret's *placeholder* may go, never on its value, so
/// dry-run needs no `env:` variable or `file:` secret to be present (it runs in CI without
/// the secrets) and holds no real secret in memory. The policy's own `sandbox` is checked
/// when given; when missing, dry-run doesn't need one.
public enum DryRunPolicy {
    public static func load(path: String) throws(PolicyLoadError) -> CompiledPolicy {
        let document: PolicyDocument
        do {
            document = try PolicyLoader.load(path: path)
        } catch {
            // A SecurityPolicy written by the SDKs has no `sandbox`: that alone is no reason
            // to refuse a dry-run.
            let onlyMissingSandbox = !error.diagnostics.isEmpty
                && error.diagnostics.allSatisfy { $0.path == "sandbox" && $0.message.hasPrefix("sandbox: missing") }
            guard onlyMissingSandbox else { throw error }
            document = try PolicyLoader.load(path: path, sandboxOverride: "dry-run")
        }
        return try compile(document)
    }

    /// Compiles `document` with a distinct stand-in value for every secret.
    public static func compile(_ document: PolicyDocument) throws(PolicyLoadError) -> CompiledPolicy {
        var environment: [String: String] = [:]
        for spec in document.secrets.entries {
            if case .environment(let name) = spec.source {
                environment[name] = "dry-run-stand-in-for-" + spec.name
            }
        }
        return try CompiledPolicy.compile(document, environment: environment) { path in
            Array(("dry-run-stand-in-for-file-" + path).utf8)
        }
    }
}
