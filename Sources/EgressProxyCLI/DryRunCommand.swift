import ArgumentParser
import EgressProxy
import Foundation
import PolicyEngine

// MARK: - dry-run

/// `egress-proxy dry-run --policy FILE CAPTURE.har [--against OLD_POLICY] [--format table|json]
/// [--resolve HOST:IP]... [--fail-on-deny]` (SPEC sections 2 and 9).
///
/// Exit codes: 0; 3 with `--fail-on-deny` when an entry would be denied; 2 for a bad policy,
/// a bad option or a broken HAR (the message names the entry).
struct DryRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Decide every request of a HAR 1.2 capture without network.",
        discussion: """
            Reads HAR from browser devtools, mitmproxy, curl exporters and `run --capture`. \
            DNS answers come from --resolve, else the entry's serverIPAddress; an entry with \
            neither is marked `unresolved` and its network stage is decided on host rules \
            alone. Secrets are not needed: decisions depend on placeholders only. Exit status: \
            0, 3 with --fail-on-deny when an entry would be denied, 2 for a bad policy, option \
            or HAR.
            """)

    @Option(help: "Policy file (YAML or JSON).") var policy: String
    @Argument(help: "HAR 1.2 file (- for standard input).") var capture: String
    @Option(help: "An older policy: print only the entries whose decision changes.") var against: String?
    @Option(help: "table (for people) or json (for machines).") var format = "table"
    @Option(name: .customLong("resolve"), help: "HOST:IP, use IP for HOST (repeatable); ahead of serverIPAddress.")
    var resolve: [String] = []
    @Flag(name: .customLong("fail-on-deny"), help: "Exit 3 when any entry would be denied.") var failOnDeny = false

    func run() throws {
        guard let outputFormat = DryRunReport.Format(rawValue: format) else {
            printError("--format: expected table or json, got \(format)")
            throw Exit.invalidConfiguration
        }
        let overrides = try parseResolveOptions(resolve)
        let compiled = try Self.loadPolicy(policy)
        let old = try against.map(Self.loadPolicy)

        let reader: HARReader
        do {
            reader = try HARReader(path: capture)
        } catch {
            printError("egress-proxy: \(error)")
            throw Exit.invalidConfiguration
        }
        let session: DryRunSession
        do {
            session = try DryRunSession(policy: compiled, against: old, resolve: overrides)
        } catch {
            for d in error.diagnostics { printError(d.description) }
            throw Exit.invalidConfiguration
        }
        let out = BufferedStandardOutput()
        let color = outputFormat == .table && BufferedStandardOutput.wantsColor
        let summary: DryRunSummary
        do {
            summary = try DryRunReport.run(reader: reader, session: session, format: outputFormat, color: color) { out.write($0) }
        } catch {
            out.flush()
            printError("\(capture): \(error)")
            throw Exit.invalidConfiguration
        }
        out.flush()
        if let t = summary.truncation {
            printError("warning: \(capture): \(t)")
        }
        let status = summary.exitStatus(failOnDeny: failOnDeny)
        if status != 0 { throw ExitCode(status) }
    }

    /// Validates like `run` (exit 2 with `FILE:LINE:COLUMN` lines) but needs no secret values,
    /// and refuses what the live proxy refuses to start with.
    static func loadPolicy(_ path: String) throws -> CompiledPolicy {
        let compiled: CompiledPolicy
        do {
            compiled = try DryRunPolicy.load(path: path)
        } catch {
            for d in error.diagnostics { printError(d.description) }
            throw Exit.invalidConfiguration
        }
        try checkInspection(compiled)
        return compiled
    }
}

// MARK: - Output

/// Standard output in 64 KiB writes: a 100 MB capture prints tens of thousands of rows.
final class BufferedStandardOutput {
    private var buffer: [UInt8] = []

    init() {
        buffer.reserveCapacity(1 << 16)
    }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var offset = 0
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while offset < raw.count {
                let n = Foundation.write(STDOUT_FILENO, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // stdout closed (a pipe to `head`): drop the rest quietly
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Colour on a terminal, unless `NO_COLOR` is set or `TERM=dumb`.
    static var wantsColor: Bool {
        let env = ProcessInfo.processInfo.environment
        return isatty(STDOUT_FILENO) == 1 && env["NO_COLOR"] == nil && env["TERM"] != "dumb"
    }
}
