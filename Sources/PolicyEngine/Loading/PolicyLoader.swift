import Foundation

// MARK: - PolicyLoader

/// Reads and validates policy files. Every entry point reports all errors at once.
public enum PolicyLoader {
    /// Policy files larger than this are refused before parsing.
    public static let maximumFileSize = 4 * 1024 * 1024

    /// Reads and validates a policy file (YAML or JSON). All errors at once.
    public static func load(path: String, sandboxOverride: String? = nil) throws(PolicyLoadError) -> PolicyDocument {
        let text = try readText(path: path)
        return try parse(text: text, file: path, sandboxOverride: sandboxOverride)
    }

    /// Validates policy text; `file` names it in diagnostics and anchors relative `file:` paths.
    public static func parse(text: String, file: String, sandboxOverride: String? = nil) throws(PolicyLoadError) -> PolicyDocument {
        var parser = PolicyParser(file: file, sandboxOverride: sandboxOverride)
        guard let root = parser.compose(text), let document = parser.document(root) else {
            throw PolicyLoadError(diagnostics: sorted(parser.reader.diagnostics))
        }
        return document
    }

    /// load + compile with real env / files; the one call the CLI makes.
    public static func loadCompiled(path: String, sandboxOverride: String? = nil,
                                    environment: [String: String] = ProcessInfo.processInfo.environment) throws(PolicyLoadError) -> CompiledPolicy {
        let document = try load(path: path, sandboxOverride: sandboxOverride)
        return try CompiledPolicy.compile(document, environment: environment, readFile: readSecretFile)
    }

    /// Reads a secret file's bytes (used by `loadCompiled`).
    public static func readSecretFile(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        // Secrets are small; a bound keeps a mistaken path (a device, a huge file) harmless.
        let data = try handle.read(upToCount: 1 << 20) ?? Data()
        return [UInt8](data)
    }

    // MARK: Helpers

    private static func readText(path: String) throws(PolicyLoadError) -> String {
        let start = SourcePosition(file: path, line: 1, column: 1)
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? NSNumber, size.intValue > maximumFileSize {
                throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "policy file is larger than \(maximumFileSize) bytes")])
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as PolicyLoadError {
            throw error
        } catch {
            let reason = (error as NSError).localizedDescription
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "cannot read policy file: \(reason)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "policy file is not UTF-8 text")])
        }
        return text
    }

    /// Document order (stable for equal positions).
    static func sorted(_ diagnostics: [PolicyDiagnostic]) -> [PolicyDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}
