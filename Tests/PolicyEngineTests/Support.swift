import Foundation
import Testing
@testable import PolicyEngine

// MARK: - Test helpers

/// Compiles policy text with a fake environment and no files.
func compiledPolicy(_ yaml: String, environment: [String: String] = [:], file: String = "test.yaml",
                    files: [String: [UInt8]] = [:]) throws(PolicyLoadError) -> CompiledPolicy {
    let document = try PolicyLoader.parse(text: yaml, file: file)
    return try CompiledPolicy.compile(document, environment: environment) { path in
        guard let bytes = files[path] else { throw CocoaError(.fileReadNoSuchFile) }
        return bytes
    }
}

/// The diagnostics of policy text that must not load.
func diagnostics(_ yaml: String, file: String = "test.yaml", sandboxOverride: String? = nil) -> [PolicyDiagnostic] {
    do {
        _ = try PolicyLoader.parse(text: yaml, file: file, sandboxOverride: sandboxOverride)
        return []
    } catch {
        return error.diagnostics
    }
}

/// An address literal known to be valid.
func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
    return address
}

/// Folder of this test target's sources.
let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
