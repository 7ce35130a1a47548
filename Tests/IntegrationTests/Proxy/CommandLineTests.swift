import Foundation
import Testing

/// The commands around `run` (SPEC section 2), as a user or a script calls them.
@Suite("CLI")
struct CommandLineTests {
    private func runCLI(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessOutput {
        try await Subprocess.run(
            try TestEnvironment.requireProxyBinary(), arguments,
            environment: TestEnvironment.cleanEnvironment(adding: environment), timeout: .seconds(30))
    }

    /// A policy with two errors at known places: a bad CIDR (line 5) and an unknown key (line 6, column 1).
    static let brokenPolicy = """
        version: 1
        sandbox: sb-broken
        network:
          allow_out: ["127.0.0.1/32"]
          deny_out: ["10.0.0.0/33"]
        colour: blue

        """

    /// `FILE:LINE:COLUMN: message` lines for `file`, as (line, column).
    private func errorLocations(_ text: String, file: String) -> [(line: Int, column: Int)] {
        text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("\(file):") else { return nil }
            let fields = line.dropFirst(file.count + 1).split(
                separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let row = Int(fields[0]), let column = Int(fields[1]),
                fields[2].hasPrefix(" "), fields[2].count > 1
            else { return nil }
            return (row, column)
        }
    }

    @Test("policy check: a valid policy exits 0")
    func policyCheckValid() async throws {
        let scratch = try TemporaryDirectory(prefix: "check")
        defer { scratch.remove() }
        let file = try scratch.write("good.yaml", TestSecret.policy())
        let output = try await runCLI(["policy", "check", file])
        #expect(output.exitCode == 0, "\(output.combinedText)")
    }

    @Test("policy check: a broken policy exits 2 with FILE:LINE:COLUMN: message for every error")
    func policyCheckBroken() async throws {
        let scratch = try TemporaryDirectory(prefix: "check")
        defer { scratch.remove() }
        let good = try scratch.write("good.yaml", PolicyYAML.make())
        let bad = try scratch.write("bad.yaml", Self.brokenPolicy)
        let output = try await runCLI(["policy", "check", good, bad])
        #expect(output.exitCode == 2)
        let locations = errorLocations(output.combinedText, file: bad)
        #expect(locations.contains { $0.line == 5 }, "bad CIDR on line 5: \(output.combinedText)")
        #expect(locations.contains { $0.line == 6 && $0.column == 1 }, "unknown key at 6:1: \(output.combinedText)")
        #expect(!output.combinedText.contains("\(good):"), "the valid file has no errors")
    }

    static let backtrackingTransformation = PolicyYAML.make(sections: #"""
        transformations:
          - {direction: outbound, match: "(a+)+$", replace: b}
        """#)

    @Test("a transformation that could backtrack badly: policy check and run refuse it with FILE:LINE:COLUMN")
    func backtrackingPatternRefused() async throws {
        let scratch = try TemporaryDirectory(prefix: "redos")
        defer { scratch.remove() }
        let bad = try scratch.write("redos.yaml", Self.backtrackingTransformation)
        let check = try await runCLI(["policy", "check", bad])
        #expect(check.exitCode == 2)
        let line = Self.backtrackingTransformation.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("(a+)+") }.map { $0 + 1 }
        #expect(errorLocations(check.combinedText, file: bad).contains { $0.line == line }, "\(check.combinedText)")
        #expect(check.combinedText.contains("transformations[0].match"))
        let run = try await runCLI([
            "run", "--policy", bad, "--listen", "127.0.0.1:0", "--ca-dir", scratch.file("ca"),
            "--audit-log", scratch.file("audit.jsonl"),
        ])
        #expect(run.exitCode == 2 && !run.timedOut)
        #expect(run.combinedText.contains("transformations[0].match"), "\(run.combinedText)")
        #expect(!run.combinedText.contains("listening on"))
    }

    @Test("dry-run through the CLI: --against prints only the changed entries; --fail-on-deny exits 3, else 0")
    func dryRunCommand() async throws {
        let fixtures = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/EgressProxyTests/Fixtures/har").path
        let har = fixtures + "/llm-sdk-capture.har"
        let against = try await runCLI([
            "dry-run", "--policy", fixtures + "/policy-llm-v2.yaml", "--against", fixtures + "/policy-llm.yaml", har, "--format", "json",
        ])
        #expect(against.exitCode == 0, "\(against.combinedText)")
        let report = try JSONValue.parse(against.stdoutText)
        #expect(report["entries"]?.arrayValue?.compactMap { $0["index"]?.intValue } == [1, 4, 8])
        let gate = try await runCLI(["dry-run", "--policy", fixtures + "/policy-llm-v2.yaml", har, "--fail-on-deny"])
        #expect(gate.exitCode == 3, "\(gate.combinedText)")
        #expect(gate.stdoutText.contains("deny"))
        let noGate = try await runCLI(["dry-run", "--policy", fixtures + "/policy-llm-v2.yaml", har])
        #expect(noGate.exitCode == 0)
        let broken = try await runCLI(["dry-run", "--policy", fixtures + "/policy-llm.yaml", fixtures + "/broken-entry.har"])
        #expect(broken.exitCode == 2)
        #expect(broken.stderrText.contains("entry"), "a broken HAR names its entry: \(broken.stderrText)")
    }

    @Test("run with a broken policy exits 2 instead of listening")
    func runRefusesBrokenPolicy() async throws {
        let scratch = try TemporaryDirectory(prefix: "run-broken")
        defer { scratch.remove() }
        let bad = try scratch.write("bad.yaml", Self.brokenPolicy)
        let output = try await runCLI([
            "run", "--policy", bad, "--listen", "127.0.0.1:0", "--ca-dir", scratch.file("ca"),
            "--audit-log", scratch.file("audit.jsonl"),
        ])
        #expect(!output.timedOut)
        #expect(output.exitCode == 2)
        #expect(!output.stderrText.contains("listening on"))
        #expect(output.combinedText.contains("\(bad):5:"))
    }

    @Test("ca init creates DIR/<sandbox>/ca.pem, a CA certificate; ca export prints the same certificate")
    func caInitAndExport() async throws {
        let scratch = try TemporaryDirectory(prefix: "ca")
        defer { scratch.remove() }
        let caDirectory = scratch.file("certs")
        let created = try await runCLI(["ca", "init", "--sandbox", "sb-cli", "--ca-dir", caDirectory])
        #expect(created.exitCode == 0, "\(created.combinedText)")
        let pem = "\(caDirectory)/sb-cli/ca.pem"
        #expect(FileManager.default.fileExists(atPath: pem))

        let text = try await Subprocess.run(TestEnvironment.openssl, ["x509", "-noout", "-text", "-in", pem])
        #expect(text.exitCode == 0)
        #expect(text.stdoutText.contains("CA:TRUE"))

        let exported = try await runCLI(["ca", "export", "--sandbox", "sb-cli", "--ca-dir", caDirectory])
        #expect(exported.exitCode == 0, "\(exported.combinedText)")
        let exportedFile = try scratch.write("exported.pem", exported.stdoutText)
        func fingerprint(_ path: String) async throws -> String {
            try await Subprocess.run(
                TestEnvironment.openssl, ["x509", "-noout", "-fingerprint", "-sha256", "-in", path]
            ).stdoutText
        }
        let fingerprints = [try await fingerprint(pem), try await fingerprint(exportedFile)]
        #expect(!fingerprints[0].isEmpty)
        #expect(fingerprints[0] == fingerprints[1])
        // The key stays private: export prints a certificate only.
        #expect(!exported.stdoutText.contains("PRIVATE KEY"))
    }

    @Test("run creates the sandbox CA and uses it for intercepted connections")
    func runCreatesSandboxCA() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                #expect(FileManager.default.fileExists(atPath: proxy.caCertificatePath))
                let exported = try await runCLI([
                    "ca", "export", "--sandbox", PolicyYAML.sandbox, "--ca-dir", proxy.caDirectory,
                ])
                let onDisk = (try? String(contentsOfFile: proxy.caCertificatePath, encoding: .utf8)) ?? ""
                #expect(
                    exported.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
                        == onDisk.trimmingCharacters(in: .whitespacesAndNewlines))
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(transfer.status == 200)
            }
        }
    }
}
