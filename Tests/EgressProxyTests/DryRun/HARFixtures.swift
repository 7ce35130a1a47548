import Foundation
import PolicyEngine
@testable import EgressProxy

/// The HAR fixtures in `Tests/EgressProxyTests/Fixtures/har/`, found from this file's path
/// (no bundle resources needed).
enum HARFixtures {
    static let directory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/har")
        .path

    static func path(_ name: String) -> String { directory + "/" + name }

    /// Every entry of a HAR file.
    static func readAll(_ path: String, options: HARReader.Options = .init()) throws -> (entries: [HAREntry], truncation: HARReader.Truncation?) {
        let reader = try HARReader(path: path, options: options)
        var entries: [HAREntry] = []
        while let e = try reader.next() { entries.append(e) }
        return (entries, reader.truncation)
    }

    static func policy(_ name: String) throws -> CompiledPolicy {
        try DryRunPolicy.load(path: path(name))
    }

    /// Runs the dry-run report and returns its output and summary.
    static func report(har: String, policy: String, against: String? = nil, format: DryRunReport.Format = .json,
                       resolve: [String: [IPAddress]] = [:]) throws -> (output: String, summary: DryRunSummary) {
        let session = try DryRunSession(policy: try self.policy(policy), against: try against.map { try self.policy($0) }, resolve: resolve)
        let reader = try HARReader(path: har.hasPrefix("/") ? har : path(har))
        var output = ""
        let summary = try DryRunReport.run(reader: reader, session: session, format: format) { output += $0 }
        return (output, summary)
    }

    /// A fresh temporary file path (removed by the caller's `defer`).
    static func temporaryPath(_ suffix: String = ".har") -> String {
        NSTemporaryDirectory() + "/egress-dryrun-\(UUID().uuidString)\(suffix)"
    }
}
